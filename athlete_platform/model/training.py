"""Cross-validated training of the race-time estimator (:mod:`athlete_platform.model.estimator`): time-ordered
CV of the model against Riegel and VDOT on the same folds, and what a training serves — the learned model fitted
on every race, or, with too few races for the folds, the better classical formula (predictions never stop for
lack of races).

Folds are :func:`athlete_platform.model.evaluation.time_folds`; fold k's 80 % intervals are calibrated on the
residuals of the folds before it only (honest coverage), the served model's on the latest folds'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import pandas as pd

from athlete_platform.model import baselines
from athlete_platform.model.contract import FEATURE_COLUMNS
from athlete_platform.model.estimator import (
    DISTANCE_KEYS,
    METHODS,
    EstimatorParams,
    FittedTimeModel,
    default_fallback_times,
    fallback_times,
    fit_time_model,
    interval_halfwidths,
    own_distance_prediction,
)
from athlete_platform.model.evaluation import (
    ALL_DISTANCES,
    MIN_GAP_DAYS,
    Fold,
    NotEnoughRaces,
    interval_coverage,
    metrics_by_distance,
    time_folds,
)

#: A classical baseline served with fewer races than this is given DEFAULT_BASELINE_LOG_HALFWIDTH intervals:
#: ±8 % in log time, about the 80 % range of published formula errors (Riegel/VDOT MAPE 4-8 %, e.g.
#: Vickers & Vertosick 2016), until the runner's own races can calibrate them.
MIN_BASELINE_CALIBRATION_ROWS: Final = 10
DEFAULT_BASELINE_LOG_HALFWIDTH: Final = 0.08


@dataclass
class CrossValidation:
    folds: list[Fold]
    oof: pd.DataFrame  # one row per test race: fold, ids, race_date, distance, truth, model/riegel/vdot, lo/hi, features
    metrics: pd.DataFrame  # method, distance, n, mae_s, rmse_s, mape_pct
    latest_fold_metrics: pd.DataFrame  # same, on the last fold only
    coverage: pd.DataFrame  # distance, coverage, n (folds ≥ 1: intervals calibrated on earlier folds only)
    halfwidths: dict[str, float]  # from the latest folds' residuals: the final model's interval widths

    def metric(self, method: str, distance: str, name: str = "mae_s", latest_fold: bool = False) -> float:
        table = self.latest_fold_metrics if latest_fold else self.metrics
        hit = table[(table["method"] == method) & (table["distance"] == distance)]
        return float(hit[name].iloc[0]) if not hit.empty else float("nan")


def _baseline_with_fallback(test: pd.DataFrame, method: str, reference: str, fallback: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    values = baselines.baseline_for_rows(test, test["distance_bucket"], method, reference)
    missing = ~np.isfinite(values)
    filled = np.where(missing, test["distance_bucket"].map(fallback).to_numpy(dtype=float), values)
    return filled, missing


def metrics_table(oof: pd.DataFrame) -> pd.DataFrame:
    """method × distance: n, MAE, RMSE, MAPE of the model and both formulas (columns ``{method}_s``)."""
    tables = [metrics_by_distance(oof, f"{method}_s", distances=DISTANCE_KEYS).assign(method=method) for method in METHODS]
    return pd.concat(tables, ignore_index=True).loc[:, ["method", "distance", "n", "mae_s", "rmse_s", "mape_pct"]]


def cross_validate(
    rows: pd.DataFrame, params: EstimatorParams, *, n_folds: int, gap_days: int, min_train_races: int,
    min_train_days: int = 0, prior: pd.DataFrame | None = None,
) -> CrossValidation:
    """Time-ordered CV (see evaluation.time_folds): out-of-fold predictions of the model and both baselines.
    Fold k's intervals are calibrated on the residuals of the ``calibration_folds`` folds before it.

    ``prior`` (the population prior: other athletes' rows) joins every fold's training set and counts toward
    ``min_train_races``; the folds, and so every metric, are over ``rows``. With a prior the model is trained
    on mature rows whatever the span of ``rows``, so ``min_train_days`` does not apply."""
    rows = rows.reset_index(drop=True)
    n_prior = 0 if prior is None else len(prior)
    folds = time_folds(rows["race_date"], n_folds=n_folds, gap_days=gap_days,
                       min_train_races=max(min_train_races - n_prior, 1) if n_prior else min_train_races,
                       min_train_days=0 if n_prior else min_train_days)
    parts: list[pd.DataFrame] = []
    for fold in folds:
        train, test = rows.iloc[fold.train], rows.iloc[fold.test]
        earlier = parts[-params.calibration_folds:]
        halfwidths = (
            interval_halfwidths(pd.concat(earlier, ignore_index=True), params.interval_level, params.min_calibration_rows)
            if earlier else {d: float("nan") for d in DISTANCE_KEYS}
        )
        model = fit_time_model(_with_prior(train, prior), params, halfwidths)
        pred, lo, hi = own_distance_prediction(model.predict(test), test["distance_bucket"])
        riegel, riegel_missing = _baseline_with_fallback(test, "riegel", params.reference, model.fallback_time_s)
        vdot, _ = _baseline_with_fallback(test, "vdot", params.reference, model.fallback_time_s)
        truth = test["official_time_s"].to_numpy(dtype=float)
        part = test.loc[:, ["athlete_id", "activity_id", "race_date", "distance_bucket", "official_time_s", *FEATURE_COLUMNS]].copy()
        part.insert(0, "fold", fold.index)
        part["model_s"], part["lo80_s"], part["hi80_s"] = pred, lo, hi
        part["riegel_s"], part["vdot_s"] = riegel, vdot
        part["baseline_fallback"] = riegel_missing
        part["log_residual"] = np.log(truth / pred)
        part["athlete_correction"], part["interval_scale"], part["athlete_races"] = model.athlete_correction(test)
        parts.append(part)
    oof = pd.concat(parts, ignore_index=True)
    calibrated = oof[oof["fold"] > 0]
    coverage_records = []
    for distance in [*DISTANCE_KEYS, ALL_DISTANCES]:
        part = calibrated if distance == ALL_DISTANCES else calibrated[calibrated["distance_bucket"] == distance]
        share, n = interval_coverage(part["official_time_s"], part["lo80_s"], part["hi80_s"])
        if n:
            coverage_records.append({"distance": distance, "coverage": share, "n": n})
    recent = oof[oof["fold"] > folds[-1].index - params.calibration_folds]
    return CrossValidation(
        folds=folds,
        oof=oof,
        metrics=metrics_table(oof),
        latest_fold_metrics=metrics_table(oof[oof["fold"] == folds[-1].index]),
        coverage=pd.DataFrame.from_records(coverage_records, columns=["distance", "coverage", "n"]),
        halfwidths=interval_halfwidths(recent, params.interval_level, params.min_calibration_rows),
    )


def _with_prior(rows: pd.DataFrame, prior: pd.DataFrame | None) -> pd.DataFrame:
    if prior is None or prior.empty:
        return rows
    return pd.concat([prior, rows], ignore_index=True)


def baseline_evaluation(rows: pd.DataFrame, params: EstimatorParams) -> tuple[str, CrossValidation]:
    """The better classical formula on these races and how it did (parameter-free formulas need no folds:
    every race is out of sample). Returns (``"riegel"`` or ``"vdot"``, an evaluation shaped like a CV with
    no folds, all races in ``oof`` under fold 0, ``model_s`` = the chosen formula)."""
    rows = rows.reset_index(drop=True)
    riegel = baselines.baseline_for_rows(rows, rows["distance_bucket"], "riegel", params.reference)
    vdot = baselines.baseline_for_rows(rows, rows["distance_bucket"], "vdot", params.reference)
    truth = rows["official_time_s"].to_numpy(dtype=float)
    usable = np.isfinite(riegel) & np.isfinite(vdot) & np.isfinite(truth)
    mae = {m: float(np.mean(np.abs(v[usable] - truth[usable]))) if usable.any() else float("inf")
           for m, v in (("riegel", riegel), ("vdot", vdot))}
    method = "vdot" if mae["vdot"] < mae["riegel"] else "riegel"
    chosen = riegel if method == "riegel" else vdot
    oof = rows.loc[usable, ["athlete_id", "activity_id", "race_date", "distance_bucket", "official_time_s", *FEATURE_COLUMNS]].copy()
    oof.insert(0, "fold", 0)
    oof["model_s"], oof["riegel_s"], oof["vdot_s"] = chosen[usable], riegel[usable], vdot[usable]
    oof["baseline_fallback"] = False
    oof["log_residual"] = np.log(truth[usable] / chosen[usable])
    oof["athlete_correction"], oof["interval_scale"], oof["athlete_races"] = 0.0, 1.0, 0
    if usable.sum() >= MIN_BASELINE_CALIBRATION_ROWS:
        halfwidths = interval_halfwidths(oof, params.interval_level, params.min_calibration_rows)
    else:
        halfwidths = {d: DEFAULT_BASELINE_LOG_HALFWIDTH for d in DISTANCE_KEYS}
    q = oof["distance_bucket"].map(halfwidths).to_numpy(dtype=float)
    oof["lo80_s"], oof["hi80_s"] = oof["model_s"] * np.exp(-q), oof["model_s"] * np.exp(q)
    metrics = metrics_table(oof) if len(oof) else pd.DataFrame(columns=["method", "distance", "n", "mae_s", "rmse_s", "mape_pct"])
    evaluation = CrossValidation(
        folds=[], oof=oof, metrics=metrics, latest_fold_metrics=metrics,
        coverage=pd.DataFrame(columns=["distance", "coverage", "n"]),  # calibrated on these races: not a test
        halfwidths=halfwidths,
    )
    return method, evaluation


@dataclass
class TrainingOutcome:
    model: FittedTimeModel  # fitted on every row (and the prior), intervals from the latest folds' residuals
    cv: CrossValidation  # time-ordered CV; for a baseline, the formulas on every race (no folds)
    #: Why the model is a classical baseline (too few races for time-ordered CV); None for a learned model.
    not_enough_races: str | None = None


def train_time_estimator(
    rows: pd.DataFrame, params: EstimatorParams, *, n_folds: int = 4, gap_days: int = MIN_GAP_DAYS, min_train_races: int = 100,
    min_train_days: int = 0, prior: pd.DataFrame | None = None,
) -> TrainingOutcome:
    """Cross-validate and fit the learned model; with too few races for the folds, serve the better classical
    formula instead (``model_kind="baseline"``, intervals from its errors on these races) — predictions never
    stop for lack of races. ``prior``: other athletes' training rows (the population prior) added to every
    fit; CV folds and metrics are over ``rows`` only."""
    try:
        cv = cross_validate(rows, params, n_folds=n_folds, gap_days=gap_days, min_train_races=min_train_races,
                            min_train_days=min_train_days, prior=prior)
    except NotEnoughRaces as reason:
        method, evaluation = baseline_evaluation(rows, params)
        baseline_params = replace(params, model_kind="baseline", offset=method)
        fallback = fallback_times(rows) if len(rows) else default_fallback_times()
        model = FittedTimeModel(params=baseline_params, fallback_time_s=fallback, halfwidths=evaluation.halfwidths,
                                n_train=len(rows))
        return TrainingOutcome(model=model, cv=evaluation, not_enough_races=str(reason))
    model = fit_time_model(_with_prior(rows.reset_index(drop=True), prior), params, cv.halfwidths)
    return TrainingOutcome(model=model, cv=cv)


def metrics_markdown(cv: CrossValidation) -> str:
    """Per distance: MAE / RMSE / MAPE of model, Riegel and VDOT, and the interval coverage (markdown)."""
    coverage = dict(zip(cv.coverage["distance"], cv.coverage["coverage"]))
    lines = [
        "| distance | n | model MAE s | Riegel MAE s | VDOT MAE s | model RMSE s | Riegel RMSE s | VDOT RMSE s "
        "| model MAPE % | Riegel MAPE % | VDOT MAPE % | 80 % coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for distance in [*DISTANCE_KEYS, ALL_DISTANCES]:
        n = cv.metric("model", distance, "n")
        if not n or not math.isfinite(n):
            continue
        cells = [distance, str(int(n))]
        for name in ("mae_s", "rmse_s", "mape_pct"):
            cells += [f"{cv.metric(method, distance, name):.1f}" if name != "mape_pct" else f"{cv.metric(method, distance, name):.2f}" for method in METHODS]
        cover = coverage.get(distance)
        cells.append(f"{cover:.1%}" if cover is not None else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
