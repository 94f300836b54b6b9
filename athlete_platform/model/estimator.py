"""The race-time estimator: gradient boosting on a classical offset, split-conformal 80 % intervals.

Model
-----
For a feature row (``contract.model_input``) and a standard distance D the model predicts
``log(time / offset_D)``, where ``offset_D`` is the Riegel projection of the athlete's best recent effort
(:mod:`athlete_platform.model.baselines`; ``offset="vdot"`` uses the VDOT prediction instead). The
boosting model therefore learns *corrections* to the classical formula (marathon fade of low-volume
runners, fitness gained or lost since the effort, the selection bias of a "best of 90 days" effort)
rather than race times from scratch, which needs far fewer races. Rows without an effort in the last
90 days use the training median time of the distance as offset (``fallback_time_s``).

``model_kind``:

* ``gbm_pooled`` (default): one ``HistGradientBoostingRegressor`` over all distances, with
  ``log(distance)`` and the offset pace as extra inputs (pools the scarce half/marathon races with the
  frequent 5K/10K ones);
* ``gbm_per_distance``: one regressor per distance with at least ``min_rows_per_distance`` training races,
  the pooled one for the others;
* ``riegel``: the offset itself (log-ratio 0): the classical formula wrapped as a model;
* ``constant``: the training median time of the distance for everyone — a deliberately trivial model
  (used to show that the gates stop a bad model).

Why this default (``benchmarks/model_report.py --compare``, 60 simulated athletes × 3 years, out-of-fold
MAE over all races, seeds 42 / 7 / 123): pooled Riegel offset 111.8 / 105.4 / 111.9 s, pooled VDOT offset
111.3 / 104.9 / 112.8 s (a tie), per-distance 113.8 / 107.0 / 113.7 s, against Riegel 147.5 / 138.0 / 147.0 s
and VDOT 142.7 / 133.4 / 142.1 s. Pooling wins on every seed; the offset does not matter, and Riegel's is
cheaper to compute (no bisection at serving time).

Predictions for the four distances are made monotone in distance (cumulative maximum over 5K < 10K <
half < marathon), then the 80 % interval is ``pred × exp(±q_D)`` with ``q_D`` the split-conformal
quantile (level ``ceil((n + 1) × 0.8) / n``) of the absolute log residuals of out-of-fold predictions of
that distance (all distances pooled when a distance has fewer than ``min_calibration_rows``); bounds are
made monotone the same way, so ``lo ≤ pred ≤ hi`` always holds.

Honest coverage: in cross-validation, fold k's intervals use only residuals of folds < k (fold 0 has
none and is not counted); the final model uses the residuals of all folds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.domain.race_baselines import riegel_time
from athlete_platform.model import baselines
from athlete_platform.model.contract import DISTANCES_M, FEATURE_COLUMNS, PREDICTION_COLUMNS, model_input, prediction_columns
from athlete_platform.model.evaluation import (
    ALL_DISTANCES,
    Fold,
    interval_coverage,
    metrics_by_distance,
    time_folds,
)

DISTANCE_KEYS: Final = tuple(DISTANCES_M)  # 5k, 10k, 21k, 42k: increasing
if list(DISTANCES_M.values()) != sorted(DISTANCES_M.values()):  # the monotone fix relies on this order
    raise RuntimeError("contract.DISTANCES_M must list distances in increasing order")
MODEL_KINDS: Final = ("gbm_pooled", "gbm_per_distance", "riegel", "constant")
OFFSETS: Final = ("riegel", "vdot")
METHODS: Final = ("model", "riegel", "vdot")
EXTRA_COLUMNS: Final = ("log_distance_m", "log_offset_pace_s_per_km")


@dataclass(frozen=True)
class EstimatorParams:
    model_kind: str = "gbm_pooled"
    offset: str = "riegel"
    reference: str = baselines.DEFAULT_REFERENCE
    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    loss: str = "absolute_error"
    min_rows_per_distance: int = 60
    interval_level: float = 0.8
    min_calibration_rows: int = 30
    random_state: int = 0
    #: OpenMP threads for boosting. 1 by default: on a shared 2-core machine more threads oversubscribe
    #: the CPU (measured: 1.2 s single-threaded vs > 100 s with the default thread count under load).
    n_threads: int = 1

    def __post_init__(self) -> None:
        if self.model_kind not in MODEL_KINDS:
            raise ValueError(f"model_kind must be one of {MODEL_KINDS}, got {self.model_kind!r}")
        if self.offset not in OFFSETS:
            raise ValueError(f"offset must be one of {OFFSETS}, got {self.offset!r}")
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError(f"interval_level must be in (0, 1), got {self.interval_level}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- offsets and design matrices -----------------------------------------------------------------------


def fallback_times(rows: pd.DataFrame) -> dict[str, float]:
    """Median official time per distance of ``rows``; a distance without races is Riegel-projected from the
    median of the nearest distance that has some (so every distance has a fallback)."""
    medians = {d: float(rows.loc[rows["distance_bucket"] == d, "official_time_s"].median()) for d in DISTANCE_KEYS}
    known = {d: t for d, t in medians.items() if math.isfinite(t)}
    if not known:
        raise ValueError("no races to compute fallback times from")
    out = {}
    for d in DISTANCE_KEYS:
        if d in known:
            out[d] = known[d]
        else:
            nearest = min(known, key=lambda k: abs(math.log(DISTANCES_M[k] / DISTANCES_M[d])))
            out[d] = riegel_time(known[nearest], DISTANCES_M[nearest], DISTANCES_M[d])
    return out


def offset_times(features: pd.DataFrame, distance: str, params: EstimatorParams, fallback: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(offset seconds, used_fallback) per row for one distance."""
    compute = baselines.riegel_baseline if params.offset == "riegel" else baselines.vdot_baseline
    values = compute(features, distance, params.reference)
    missing = ~np.isfinite(values)
    return np.where(missing, fallback[distance], values), missing


def design_matrix(features: pd.DataFrame, distance: str, offset_s: np.ndarray) -> np.ndarray:
    """model_input columns + log(distance) + log(offset pace): what the regressors see."""
    base = model_input(features).to_numpy(dtype=float)
    distance_m = DISTANCES_M[distance]
    extra = np.column_stack(
        [np.full(len(base), math.log(distance_m)), np.log(offset_s / (distance_m / 1000.0))]
    )
    return np.hstack([base, extra])


def _threads(params: EstimatorParams):
    import sklearn.ensemble  # noqa: F401  (load the OpenMP runtime first: threadpoolctl limits loaded libraries only)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=params.n_threads, user_api="openmp")


def _regressor(params: EstimatorParams):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss=params.loss,
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        random_state=params.random_state,
    )


# -- conformal ----------------------------------------------------------------------------------------


def conformal_quantile(abs_residuals: np.ndarray, level: float) -> float:
    """Split-conformal quantile: the ceil((n+1)·level)-th smallest |residual| (the largest if n is small)."""
    values = np.sort(np.asarray(abs_residuals, dtype=float)[np.isfinite(abs_residuals)])
    if values.size == 0:
        return float("nan")
    k = math.ceil((values.size + 1) * level)
    return float(values[min(k, values.size) - 1])


def interval_halfwidths(residuals: pd.DataFrame, level: float, min_rows: int) -> dict[str, float]:
    """Per distance: conformal quantile of |log residual| (column ``log_residual``), pooled when scarce."""
    pooled = conformal_quantile(np.abs(residuals["log_residual"].to_numpy(dtype=float)), level)
    out = {}
    for d in DISTANCE_KEYS:
        own = np.abs(residuals.loc[residuals["distance_bucket"] == d, "log_residual"].to_numpy(dtype=float))
        out[d] = conformal_quantile(own, level) if np.isfinite(own).sum() >= min_rows else pooled
    return out


# -- the fitted model ---------------------------------------------------------------------------------


@dataclass
class FittedTimeModel:
    params: EstimatorParams
    fallback_time_s: dict[str, float]
    regressors: dict[str, Any] = field(default_factory=dict)  # "pooled" and/or distance keys
    halfwidths: dict[str, float] = field(default_factory=lambda: {d: float("nan") for d in DISTANCE_KEYS})
    n_train: int = 0

    def log_ratio(self, features: pd.DataFrame, distance: str, offset_s: np.ndarray) -> np.ndarray:
        kind = self.params.model_kind
        if kind in ("riegel", "constant") or len(features) == 0:
            return np.zeros(len(features))
        regressor = self.regressors.get(distance) if kind == "gbm_per_distance" else None
        if regressor is None:
            regressor = self.regressors["pooled"]
        with _threads(self.params):
            return regressor.predict(design_matrix(features, distance, offset_s))

    def point_predictions(self, features: pd.DataFrame) -> np.ndarray:
        """(n, 4) predicted seconds in DISTANCE_KEYS order, before the monotone fix."""
        columns = []
        for distance in DISTANCE_KEYS:
            if self.params.model_kind == "constant":
                columns.append(np.full(len(features), self.fallback_time_s[distance]))
                continue
            offset, _ = offset_times(features, distance, self.params, self.fallback_time_s)
            columns.append(offset * np.exp(self.log_ratio(features, distance, offset)))
        return np.column_stack(columns) if columns else np.empty((len(features), 0))

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """contract.PREDICTION_COLUMNS: pred/lo80/hi80 per distance, monotone in distance, lo ≤ pred ≤ hi."""
        pred = np.maximum.accumulate(self.point_predictions(features), axis=1)
        q = np.array([self.halfwidths[d] for d in DISTANCE_KEYS], dtype=float)
        lo = np.maximum.accumulate(pred * np.exp(-q), axis=1)
        hi = np.maximum.accumulate(pred * np.exp(q), axis=1)
        lo, hi = np.minimum(lo, pred), np.maximum(hi, pred)
        out = {}
        for j, distance in enumerate(DISTANCE_KEYS):
            p, low, high = prediction_columns(distance)
            out[p], out[low], out[high] = pred[:, j], lo[:, j], hi[:, j]
        return pd.DataFrame(out, index=features.index).loc[:, list(PREDICTION_COLUMNS)]


def fit_time_model(rows: pd.DataFrame, params: EstimatorParams, halfwidths: dict[str, float] | None = None) -> FittedTimeModel:
    """Fit on training rows (one race per row: distance_bucket, official_time_s and the feature columns)."""
    if rows.empty:
        raise ValueError("no training rows")
    fallback = fallback_times(rows)
    model = FittedTimeModel(params=params, fallback_time_s=fallback, n_train=len(rows))
    if halfwidths is not None:
        model.halfwidths = dict(halfwidths)
    if params.model_kind in ("riegel", "constant"):
        return model
    parts_x, parts_y, parts_d = [], [], []
    for distance in DISTANCE_KEYS:
        part = rows[rows["distance_bucket"] == distance]
        if part.empty:
            continue
        offset, _ = offset_times(part, distance, params, fallback)
        parts_x.append(design_matrix(part, distance, offset))
        parts_y.append(np.log(part["official_time_s"].to_numpy(dtype=float) / offset))
        parts_d.append(np.full(len(part), distance, dtype=object))
    x, y, d = np.vstack(parts_x), np.concatenate(parts_y), np.concatenate(parts_d)
    with _threads(params):
        model.regressors["pooled"] = _regressor(params).fit(x, y)
        if params.model_kind == "gbm_per_distance":
            for distance in DISTANCE_KEYS:
                mask = d == distance
                if mask.sum() >= params.min_rows_per_distance:
                    model.regressors[distance] = _regressor(params).fit(x[mask], y[mask])
    return model


def own_distance_prediction(predictions: pd.DataFrame, distances) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pred, lo, hi of each row at its own distance (``distances``: one DISTANCES_M key per row)."""
    keys = np.asarray(distances, dtype=object)
    pred, lo, hi = (np.full(len(predictions), np.nan) for _ in range(3))
    for distance in DISTANCE_KEYS:
        mask = keys == distance
        if mask.any():
            p, low, high = prediction_columns(distance)
            pred[mask] = predictions.loc[mask, p].to_numpy()
            lo[mask] = predictions.loc[mask, low].to_numpy()
            hi[mask] = predictions.loc[mask, high].to_numpy()
    return pred, lo, hi


# -- cross-validation and training --------------------------------------------------------------------


@dataclass
class CrossValidation:
    folds: list[Fold]
    oof: pd.DataFrame  # one row per test race: fold, ids, race_date, distance, truth, model/riegel/vdot, lo/hi, features
    metrics: pd.DataFrame  # method, distance, n, mae_s, rmse_s, mape_pct
    latest_fold_metrics: pd.DataFrame  # same, on the last fold only
    coverage: pd.DataFrame  # distance, coverage, n (folds ≥ 1: intervals calibrated on earlier folds only)
    halfwidths: dict[str, float]  # from every fold's residuals: the final model's interval widths

    def metric(self, method: str, distance: str, name: str = "mae_s", latest_fold: bool = False) -> float:
        table = self.latest_fold_metrics if latest_fold else self.metrics
        hit = table[(table["method"] == method) & (table["distance"] == distance)]
        return float(hit[name].iloc[0]) if not hit.empty else float("nan")


def _baseline_with_fallback(test: pd.DataFrame, method: str, reference: str, fallback: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    values = baselines.baseline_for_rows(test, test["distance_bucket"], method, reference)
    missing = ~np.isfinite(values)
    filled = np.where(missing, test["distance_bucket"].map(fallback).to_numpy(dtype=float), values)
    return filled, missing


def _metrics_table(oof: pd.DataFrame) -> pd.DataFrame:
    tables = [metrics_by_distance(oof, f"{method}_s", distances=DISTANCE_KEYS).assign(method=method) for method in METHODS]
    return pd.concat(tables, ignore_index=True).loc[:, ["method", "distance", "n", "mae_s", "rmse_s", "mape_pct"]]


def cross_validate(
    rows: pd.DataFrame, params: EstimatorParams, *, n_folds: int, gap_days: int, min_train_races: int
) -> CrossValidation:
    """Time-ordered CV (see evaluation.time_folds): out-of-fold predictions of the model and both baselines."""
    rows = rows.reset_index(drop=True)
    folds = time_folds(rows["race_date"], n_folds=n_folds, gap_days=gap_days, min_train_races=min_train_races)
    parts: list[pd.DataFrame] = []
    for fold in folds:
        train, test = rows.iloc[fold.train], rows.iloc[fold.test]
        earlier = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["distance_bucket", "log_residual"])
        halfwidths = (
            interval_halfwidths(earlier, params.interval_level, params.min_calibration_rows)
            if not earlier.empty else {d: float("nan") for d in DISTANCE_KEYS}
        )
        model = fit_time_model(train, params, halfwidths)
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
        parts.append(part)
    oof = pd.concat(parts, ignore_index=True)
    calibrated = oof[oof["fold"] > 0]
    coverage_records = []
    for distance in [*DISTANCE_KEYS, ALL_DISTANCES]:
        part = calibrated if distance == ALL_DISTANCES else calibrated[calibrated["distance_bucket"] == distance]
        share, n = interval_coverage(part["official_time_s"], part["lo80_s"], part["hi80_s"])
        if n:
            coverage_records.append({"distance": distance, "coverage": share, "n": n})
    return CrossValidation(
        folds=folds,
        oof=oof,
        metrics=_metrics_table(oof),
        latest_fold_metrics=_metrics_table(oof[oof["fold"] == folds[-1].index]),
        coverage=pd.DataFrame.from_records(coverage_records, columns=["distance", "coverage", "n"]),
        halfwidths=interval_halfwidths(oof, params.interval_level, params.min_calibration_rows),
    )


@dataclass
class TrainingOutcome:
    model: FittedTimeModel  # fitted on every row, intervals from all out-of-fold residuals
    cv: CrossValidation


def train_time_estimator(
    rows: pd.DataFrame, params: EstimatorParams, *, n_folds: int = 4, gap_days: int = 43, min_train_races: int = 100
) -> TrainingOutcome:
    cv = cross_validate(rows, params, n_folds=n_folds, gap_days=gap_days, min_train_races=min_train_races)
    return TrainingOutcome(model=fit_time_model(rows.reset_index(drop=True), params, cv.halfwidths), cv=cv)


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


def __getattr__(name: str):
    """``estimator.TimeEstimatorModel`` without importing mlflow when this module is imported (lazy)."""
    if name == "TimeEstimatorModel":
        from athlete_platform.model.pyfunc import TimeEstimatorModel

        return TimeEstimatorModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
