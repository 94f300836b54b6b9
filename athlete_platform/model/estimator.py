"""The race-time estimator: a population model on a classical offset, a per-athlete correction, split-conformal
80 % intervals, and the classical formula itself when there are too few races (cross-validated training,
and the choice between the two: :mod:`athlete_platform.model.training`).

Population model
----------------
For a feature row (``contract.model_input``) and a standard distance D the model predicts
``log(time / offset_D)``, where ``offset_D`` is the Riegel projection of the athlete's best recent effort
(:mod:`athlete_platform.model.baselines`; ``offset="vdot"`` uses the VDOT prediction instead). The
boosting model therefore learns *corrections* to the classical formula (marathon fade of low-volume
runners, fitness gained or lost since the effort — the recent-VDOT and Efficiency Factor features —, the
selection bias of a "best of 90 days" effort) rather than race times from scratch, which needs far fewer
races. Rows without an effort in the last 90 days use the training median time of the distance as offset.

``model_kind``:

* ``gbm_pooled`` (default): one ``HistGradientBoostingRegressor`` over all distances, with
  ``log(distance)`` and the offset pace as extra inputs (pools the scarce half/marathon races with the
  frequent 5K/10K ones);
* ``gbm_per_distance``: one regressor per distance with at least ``min_rows_per_distance`` training races,
  the pooled one for the others;
* ``baseline``: the offset itself (log-ratio 0): the classical formula (Riegel or VDOT) as a model — what
  :func:`athlete_platform.model.training.train_time_estimator` serves when the races are too few for time-ordered cross-validation;
* ``constant``: the training median time of the distance for everyone — a deliberately trivial model
  (used to show that the gates stop a bad model).

Per-athlete correction (``athlete_correction``)
-----------------------------------------------
People differ in ways no feature shows (how hard they race, courses, how their training pace relates to
their racing). Each athlete's races get residuals against a population model fitted *without* that
athlete's group (cross-fitting over ``athlete_groups`` groups), and a prediction for an athlete as of day
D adds ``c = Σ w r / (Σ w + k)`` over that athlete's races on or before D (older races weigh less, half-life
``athlete_correction_halflife_days``): zero for a new athlete, the athlete's own offset once they have
raced more than ``k`` times. ``k`` is estimated (empirical Bayes: within- over between-athlete variance)
from the athletes outside the simulated population prior, or ``default_athlete_prior_races`` when there
are too few of them. The served population model is then fitted on targets without those offsets, so that it
does not learn them as well. The same history scales the athlete's interval (see AthleteCorrections).

Measured (``benchmarks/model_learning_curve.py``, simulator seed 42, time-ordered CV) and on a real runner
(``benchmarks/realdata_model_report.py``): see benchmarks/README.md.

Intervals
---------
Predictions for the four distances are made monotone in distance (cumulative maximum over 5K < 10K <
half < marathon), then the 80 % interval is ``pred × exp(±q_D × s)`` with ``q_D`` the split-conformal
quantile (level ``ceil((n + 1) × 0.8) / n``) of the absolute log residuals, divided by the athlete's
interval scale ``s``, of out-of-fold predictions of that distance (all distances pooled when a distance
has fewer than ``min_calibration_rows``); bounds are made monotone the same way, so ``lo ≤ pred ≤ hi``.

Honest coverage: in cross-validation (:mod:`athlete_platform.model.training`), fold k's intervals use only
the residuals of the ``calibration_folds`` folds before it (fold 0 has none and is not counted); the final
model uses the latest folds' residuals: the model grows with every fold, and older, larger residuals would
widen today's intervals beyond 80 %.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.domain.race_baselines import vdot_race_time
from athlete_platform.domain.running import riegel_time
from athlete_platform.model import baselines
from athlete_platform.model.athlete_correction import (
    AthleteCorrections,
    athlete_group,
    estimate_prior_races,
    prior_athlete_ids,
)
from athlete_platform.model.contract import DISTANCES_M, PREDICTION_COLUMNS, feature_matrix, prediction_columns

DISTANCE_KEYS: Final = tuple(DISTANCES_M)  # 5k, 10k, 21k, 42k: increasing
if list(DISTANCES_M.values()) != sorted(DISTANCES_M.values()):  # the monotone fix relies on this order
    raise RuntimeError("contract.DISTANCES_M must list distances in increasing order")
MODEL_KINDS: Final = ("gbm_pooled", "gbm_per_distance", "baseline", "constant")
OFFSETS: Final = ("riegel", "vdot")
METHODS: Final = ("model", "riegel", "vdot")
EXTRA_COLUMNS: Final = ("log_distance_m", "log_offset_pace_s_per_km")
#: Fallback times when there are no races at all: Daniels-Gilbert VDOT 40, a recreational runner.
NO_RACE_VDOT: Final = 40.0


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
    #: Conformal calibration uses the residuals of this many most recent folds (the model grows with each
    #: fold; older folds' larger residuals would widen today's intervals).
    calibration_folds: int = 1
    #: Per-athlete correction (see the module docstring): on/off, and the number of athlete groups used to
    #: cross-fit the population model so that an athlete's residuals come from a model that never saw them.
    athlete_correction: bool = True
    athlete_groups: int = 5
    #: Shrinkage of the per-athlete interval scale, in races (a spread needs fewer races than an offset to
    #: be worth trusting: an offset can hide in noise, a wide scatter cannot).
    interval_prior_races: float = 1.0
    #: Shrinkage of the correction, in races: c = sum(residuals) / (n + k). ``None`` estimates k from the
    #: residuals of the athletes outside the population prior (within- over between-athlete variance),
    #: clipped to [1, max_athlete_prior_races]; with fewer than three such athletes to estimate it from,
    #: ``default_athlete_prior_races``: a runner's own races outweigh the population after that many.
    athlete_prior_races: float | None = None
    default_athlete_prior_races: float = 3.0
    max_athlete_prior_races: float = 50.0
    #: Older races count less in the correction (form changes): weight halves every this many days.
    athlete_correction_halflife_days: float | None = 120.0
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
        if self.calibration_folds < 1:
            raise ValueError(f"calibration_folds must be >= 1, got {self.calibration_folds}")
        if self.athlete_groups < 2:
            raise ValueError(f"athlete_groups must be >= 2, got {self.athlete_groups}")

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


def default_fallback_times() -> dict[str, float]:
    """Times at :data:`NO_RACE_VDOT` for every distance (used only when there is no race to take medians of)."""
    return {d: vdot_race_time(NO_RACE_VDOT, DISTANCES_M[d]) for d in DISTANCE_KEYS}


def offset_times(features: pd.DataFrame, distance: str, params: EstimatorParams, fallback: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(offset seconds, used_fallback) per row for one distance."""
    compute = baselines.riegel_baseline if params.offset == "riegel" else baselines.vdot_baseline
    values = compute(features, distance, params.reference)
    missing = ~np.isfinite(values)
    return np.where(missing, fallback[distance], values), missing


def design_matrix(features: pd.DataFrame, distance: str, offset_s: np.ndarray) -> np.ndarray:
    """model_input columns + log(distance) + log(offset pace): what the regressors see."""
    base = feature_matrix(features).to_numpy(dtype=float)
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
    """Per distance: conformal quantile of |log residual| / interval scale (columns ``log_residual`` and,
    when present, ``interval_scale``: normalized conformal), pooled when scarce."""
    scale = residuals["interval_scale"].to_numpy(dtype=float) if "interval_scale" in residuals else 1.0
    normalized = np.abs(residuals["log_residual"].to_numpy(dtype=float)) / scale
    pooled = conformal_quantile(normalized, level)
    out = {}
    for d in DISTANCE_KEYS:
        own = normalized[(residuals["distance_bucket"] == d).to_numpy()]
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
    #: Per-athlete corrections from residuals against cross-fitted population models (see fit_time_model).
    corrections: AthleteCorrections | None = None

    def _regressor_for(self, distance: str, regressors: dict[str, Any]) -> Any:
        regressor = regressors.get(distance) if self.params.model_kind == "gbm_per_distance" else None
        return regressor if regressor is not None else regressors["pooled"]

    def log_ratio(self, features: pd.DataFrame, distance: str, offset_s: np.ndarray) -> np.ndarray:
        """Population model's log(time / offset) per row."""
        kind = self.params.model_kind
        if kind in ("baseline", "constant") or len(features) == 0:
            return np.zeros(len(features))
        with _threads(self.params):
            return self._regressor_for(distance, self.regressors).predict(design_matrix(features, distance, offset_s))

    def athlete_correction(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log correction, interval scale, races behind them) per row; (0, 1, 0) for unknown athletes."""
        if self.corrections is None or "athlete_id" not in features:
            n = len(features)
            return np.zeros(n), np.ones(n), np.zeros(n, dtype=np.int64)
        as_of = features["as_of_date"] if "as_of_date" in features else None
        return self.corrections.for_rows(features["athlete_id"], as_of)

    def with_later_races(self, rows: pd.DataFrame) -> "FittedTimeModel":
        """This model with ``rows`` (races after its training data: athlete_id, race_date, distance_bucket,
        official_time_s and the features of the day before) added to the athletes' correction histories —
        their residuals against this population model, which never saw them. The population model is not
        refitted: between two trainings, a runner's new races still move their correction."""
        if self.corrections is None or rows.empty or self.params.model_kind in ("baseline", "constant"):
            return self
        residual = np.full(len(rows), np.nan)
        for distance in DISTANCE_KEYS:
            mask = (rows["distance_bucket"] == distance).to_numpy()
            if mask.any():
                part = rows[mask]
                offset, _ = offset_times(part, distance, self.params, self.fallback_time_s)
                residual[mask] = np.log(part["official_time_s"].to_numpy(dtype=float) / offset) - self.log_ratio(part, distance, offset)
        later = pd.DataFrame({"athlete_id": rows["athlete_id"].to_numpy(dtype=np.int64),
                              "race_date": pd.to_datetime(rows["race_date"]).to_numpy(), "log_residual": residual})
        history = pd.concat([self.corrections.history, later[np.isfinite(residual)]], ignore_index=True)
        corrections = AthleteCorrections(history, self.corrections.prior_races, self.corrections.halflife_days,
                                         self.corrections.interval_prior_races)
        return replace(self, corrections=corrections)

    def point_predictions(self, features: pd.DataFrame, correction: np.ndarray) -> np.ndarray:
        """(n, 4) predicted seconds in DISTANCE_KEYS order, before the monotone fix; ``correction``: the rows'
        athlete corrections (log seconds, :meth:`athlete_correction`)."""
        columns = []
        for distance in DISTANCE_KEYS:
            if self.params.model_kind == "constant":
                columns.append(np.full(len(features), self.fallback_time_s[distance]))
                continue
            offset, _ = offset_times(features, distance, self.params, self.fallback_time_s)
            columns.append(offset * np.exp(self.log_ratio(features, distance, offset) + correction))
        return np.column_stack(columns) if columns else np.empty((len(features), 0))

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """contract.PREDICTION_COLUMNS: pred/lo80/hi80 per distance, monotone in distance, lo ≤ pred ≤ hi."""
        # One per-row correction lookup serves both the points and the intervals.
        correction, scale, _ = self.athlete_correction(features)
        pred = np.maximum.accumulate(self.point_predictions(features, correction), axis=1)
        q = np.array([self.halfwidths[d] for d in DISTANCE_KEYS], dtype=float)[None, :] * scale[:, None]
        lo = np.maximum.accumulate(pred * np.exp(-q), axis=1)
        hi = np.maximum.accumulate(pred * np.exp(q), axis=1)
        lo, hi = np.minimum(lo, pred), np.maximum(hi, pred)
        out = {}
        for j, distance in enumerate(DISTANCE_KEYS):
            p, low, high = prediction_columns(distance)
            out[p], out[low], out[high] = pred[:, j], lo[:, j], hi[:, j]
        return pd.DataFrame(out, index=features.index).loc[:, list(PREDICTION_COLUMNS)]


def _training_arrays(rows: pd.DataFrame, params: EstimatorParams, fallback: dict[str, float]):
    """Design matrix, target log(time / offset), distance and row position, in DISTANCE_KEYS blocks."""
    parts_x, parts_y, parts_d, parts_i = [], [], [], []
    for distance in DISTANCE_KEYS:
        positions = np.flatnonzero((rows["distance_bucket"] == distance).to_numpy())
        if positions.size == 0:
            continue
        part = rows.iloc[positions]
        offset, _ = offset_times(part, distance, params, fallback)
        parts_x.append(design_matrix(part, distance, offset))
        parts_y.append(np.log(part["official_time_s"].to_numpy(dtype=float) / offset))
        parts_d.append(np.full(positions.size, distance, dtype=object))
        parts_i.append(positions)
    return np.vstack(parts_x), np.concatenate(parts_y), np.concatenate(parts_d), np.concatenate(parts_i)


def _fit_regressors(x: np.ndarray, y: np.ndarray, d: np.ndarray, params: EstimatorParams) -> dict[str, Any]:
    empty = ~np.isfinite(x).any(axis=0)
    if empty.any():
        # A feature nobody has (e.g. heart-rate features of runners without a HR strap) cannot be binned by
        # scikit-learn; as a constant it is simply never split on.
        x = x.copy()
        x[:, empty] = 0.0
    regressors = {"pooled": _regressor(params).fit(x, y)}
    if params.model_kind == "gbm_per_distance":
        for distance in DISTANCE_KEYS:
            mask = d == distance
            if mask.sum() >= params.min_rows_per_distance:
                regressors[distance] = _regressor(params).fit(x[mask], y[mask])
    return regressors


def _predict_block(regressors: dict[str, Any], x: np.ndarray, d: np.ndarray, params: EstimatorParams) -> np.ndarray:
    out = np.empty(len(x))
    for distance in np.unique(d):
        mask = d == distance
        regressor = regressors.get(distance) if params.model_kind == "gbm_per_distance" else None
        out[mask] = (regressor if regressor is not None else regressors["pooled"]).predict(x[mask])
    return out


def fit_time_model(rows: pd.DataFrame, params: EstimatorParams, halfwidths: dict[str, float] | None = None) -> FittedTimeModel:
    """Fit on training rows (one race per row: athlete_id, race_date, distance_bucket, official_time_s and the
    feature columns): the population model, and — with ``athlete_correction`` — every athlete's residual
    history against a population model fitted without that athlete's group (cross-fitting: residuals of
    races the model has seen would hide the athlete's offset), from which predictions are corrected."""
    if rows.empty:
        raise ValueError("no training rows")
    rows = rows.reset_index(drop=True)
    fallback = fallback_times(rows)
    model = FittedTimeModel(params=params, fallback_time_s=fallback, n_train=len(rows))
    if halfwidths is not None:
        model.halfwidths = dict(halfwidths)
    if params.model_kind in ("baseline", "constant"):
        return model
    x, y, d, positions = _training_arrays(rows, params, fallback)
    target = y
    if params.athlete_correction and "athlete_id" in rows:
        athletes = rows["athlete_id"].to_numpy(dtype=np.int64)[positions]
        groups = athlete_group(athletes, params.athlete_groups)
        residual = np.full(len(x), np.nan)
        prior_ids = prior_athlete_ids(rows)
        # With a population prior only the groups holding real athletes need a held-out model: the prior's
        # simulated athletes are never corrected (their residuals in those groups still give the scale).
        needed = np.unique(groups[~np.isin(athletes, prior_ids)]) if prior_ids.size else np.unique(groups)
        with _threads(params):
            for group in needed:
                held_out = groups == group
                if (~held_out).sum() < params.min_samples_leaf * 2:  # too little left to fit a population model
                    continue
                regressors = _fit_regressors(x[~held_out], y[~held_out], d[~held_out], params)
                residual[held_out] = y[held_out] - _predict_block(regressors, x[held_out], d[held_out], params)
        known = np.isfinite(residual)
        if known.any():
            history = pd.DataFrame(
                {
                    "athlete_id": athletes[known],
                    "race_date": pd.to_datetime(rows["race_date"].to_numpy()[positions][known]),
                    "log_residual": residual[known],
                }
            )
            prior = params.athlete_prior_races
            if prior is None:
                # The prior's simulated athletes say how much simulated athletes differ, not how much people do.
                own = ~np.isin(history["athlete_id"].to_numpy(), prior_ids)
                prior = estimate_prior_races(history[own], params.max_athlete_prior_races,
                                             params.default_athlete_prior_races)
            model.corrections = AthleteCorrections(history, float(prior), params.athlete_correction_halflife_days,
                                                   params.interval_prior_races)
            # The population model learns targets without each athlete's offset (one backfitting step of a
            # mixed model): otherwise it learns part of a runner's offset from their own races and the
            # correction, added on top at serving time, counts it twice.
            stats = history.groupby("athlete_id")["log_residual"].agg(["sum", "count"])
            offset = (stats["sum"] / (stats["count"] + float(prior))).reindex(athletes).fillna(0.0).to_numpy()
            target = y - offset
    # One fit of the served population model, after the corrections it must leave out (a fit on the raw
    # targets first would be thrown away; each fit seeds its own random state, so the order changes nothing).
    with _threads(params):
        model.regressors = _fit_regressors(x, target, d, params)
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
