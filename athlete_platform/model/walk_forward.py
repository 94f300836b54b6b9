"""Walk-forward evaluation of one runner's races: for each race day D, a model trained on data before D.

For every distinct race date D of the runner (in order): the model is fitted on the population prior (other
athletes' training rows, e.g. simulated ones, which say nothing about this runner's future) plus this
runner's own races strictly before D, and predicts the races of D from their features of D−1. This is how the
platform serves the runner day by day (a model trained strictly before D, features of D−1), so its errors
are the ones the runner would have seen. Riegel and VDOT predictions of the same rows are reported beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from athlete_platform.model.baselines import baseline_for_rows
from athlete_platform.model.estimator import (
    DISTANCE_KEYS,
    METHODS,
    EstimatorParams,
    fit_time_model,
    own_distance_prediction,
)
from athlete_platform.model.evaluation import ALL_DISTANCES, interval_coverage
from athlete_platform.model.training import metrics_table

#: The walk-forward of ``make athlete`` refits the model every quarter (a runner's newer races still enter the
#: correction in between): measured on a real export, the same MAE as refitting for every race day at a
#: third of the time.
REFIT_DAYS = 91
#: ... and at most this many times over a long history (12 years: every ~9 months), so the summary stays quick.
MAX_REFITS = 16


def walk_forward(runner_rows: pd.DataFrame, prior_rows: pd.DataFrame, params: EstimatorParams,
                 halfwidths: dict[str, float], refit_days: int = 0) -> pd.DataFrame:
    """One row per race of the runner: truth, model / Riegel / VDOT predictions and the model's interval.

    ``halfwidths`` (log, per distance) are the population model's calibrated interval widths. ``refit_days``
    > 0 refits the model only when that many days have passed since the last fit (as weekly or monthly
    training does); in between, the runner's newer races (all before the race day) still enter the
    correction (``FittedTimeModel.with_later_races``). 0 refits for every race day.
    """
    runner = runner_rows.reset_index(drop=True)
    days = pd.to_datetime(runner["race_date"])
    parts = []
    model, fitted_on = None, None
    for day in sorted(days.unique()):
        before = runner[days < day]
        if model is None or (day - fitted_on).days >= refit_days:
            model, fitted_on = fit_time_model(pd.concat([prior_rows, before], ignore_index=True), params, halfwidths), day
            serving = model
        else:
            serving = model.with_later_races(runner[(days >= fitted_on) & (days < day)])
        test = runner[days == day]
        pred, lo, hi = own_distance_prediction(serving.predict(test), test["distance_bucket"])
        part = test.loc[:, ["athlete_id", "activity_id", "race_date", "distance_bucket", "official_time_s"]].copy()
        part["model_s"], part["lo80_s"], part["hi80_s"] = pred, lo, hi
        part["earlier_races"] = len(before)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    for method in ("riegel", "vdot"):
        out[f"{method}_s"] = baseline_for_rows(runner, runner["distance_bucket"], method, params.reference)
    return out


def walk_forward_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """method × distance: n, MAE, RMSE, MAPE, on the races every method could predict (a baseline needs a
    best effort in the last 90 days), plus the model's 80 % interval coverage per distance."""
    usable = frame[np.isfinite(frame[[f"{m}_s" for m in METHODS]]).all(axis=1)]
    table = metrics_table(usable)
    coverage = {}
    for distance in [*DISTANCE_KEYS, ALL_DISTANCES]:
        part = usable if distance == ALL_DISTANCES else usable[usable["distance_bucket"] == distance]
        coverage[distance] = interval_coverage(part["official_time_s"], part["lo80_s"], part["hi80_s"])[0]
    table["coverage80"] = np.where(table["method"] == "model", table["distance"].map(coverage), np.nan)
    return table


def prior_interval_halfwidths(prior: pd.DataFrame, params: EstimatorParams, *, n_folds: int, gap_days: int,
                              min_train_races: int, min_train_days: int) -> dict[str, float]:
    """The population prior's own calibrated interval widths (time-ordered CV): what the platform serves a
    runner before their own races widen or narrow them."""
    from athlete_platform.model.training import cross_validate

    return cross_validate(prior, params, n_folds=n_folds, gap_days=gap_days, min_train_races=min_train_races,
                          min_train_days=min_train_days).halfwidths


def runner_report(rows: pd.DataFrame, config, refit_days: int | None = None) -> pd.DataFrame | None:
    """Walk-forward metrics (:func:`walk_forward_metrics`) of one runner's training rows with the training
    asset's settings (``config``: a ``TimeEstimatorConfig``) and its simulated population prior; None
    without races."""
    from athlete_platform.model.population_prior import simulated_prior_rows

    if rows.empty:
        return None
    if refit_days is None:
        days = pd.to_datetime(rows["race_date"])
        refit_days = max(REFIT_DAYS, (days.max() - days.min()).days // MAX_REFITS)
    params = config.estimator_params()
    prior = simulated_prior_rows(config.prior_athletes)
    halfwidths = prior_interval_halfwidths(prior, params, n_folds=config.n_folds, gap_days=config.gap_days,
                                           min_train_races=config.min_train_races, min_train_days=config.min_train_days)
    return walk_forward_metrics(walk_forward(rows, prior, params, halfwidths, refit_days))
