"""Monitoring: one module per daily table, each with its checks next to it; thresholds live in each module.

* ``performance_estimate`` — NannyML DLE estimated MAE of the day's predictions against the version's reference.
* ``realized_error`` — each race of the day against the athlete's latest prediction made before it.
* ``feature_drift`` — NannyML univariate drift of the served features against the serving version's reference.
* ``overtraining_alerts`` — athletes whose rolling features of the day flag overtraining risk.
* ``reports`` — ``monitoring/athlete_reports``: per-athlete PMC chart and predicted vs actual race paces (PNG).

Shared pieces: ``levels`` (ok / warn / error and the check result they give), ``nannyml_support``.
``athlete_platform.stages`` lists these modules for the ``Definitions``. This package imports nothing itself,
so importing one module does not import the others.
"""
