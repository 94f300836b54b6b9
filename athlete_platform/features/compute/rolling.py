"""The rolling table: per athlete and day, as of the end of the day, the PMC (CTL/ATL/TSB), ACWR, pace
trend, volume, consistency, monotony, best-effort race estimates, VDOT and efficiency-factor trends and
overtraining risk, computed incrementally from a :class:`RollingState` per athlete."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from athlete_platform.domain import training_load as tl
from athlete_platform.domain.running import STANDARD_DISTANCES_M, riegel_time
from athlete_platform.features.compute.common import (
    ACTIVITY_WINDOW_DAYS,
    ACUTE_DAYS,
    CHRONIC_DAYS,
    FITNESS_LOOKBACK_DAYS,
    FITNESS_RECENT_DAYS,
    REST_WINDOW_DAYS,
    TOP_VDOT_DAYS,
    TREND_WINDOW_DAYS,
    FeatureParams,
    as_days,
    float_column,
    to_date_objects,
    typed_empty,
)

#: Codes in ``risk_reasons`` (thresholds in :class:`FeatureParams`).
RISK_ACWR: Final = "ACWR_GT_1_5"
RISK_MONOTONY: Final = "MONOTONY_GT_2"
RISK_TSB: Final = "TSB_LT_MINUS_30"

#: Daily columns the rolling state keeps a trailing window of.
STATE_WINDOW_COLUMNS: Final = (
    "daily_load",
    "activity_count",
    "distance_km",
    "road_run_distance_km",
    "road_run_moving_min",
    "best_pace_s_per_km",
    "best_effort_distance_m",
    "best_effort_time_s",
    "best_vdot",
    "mean_vdot",
    "efficiency_factor",
)
#: The daily feature columns :func:`rolling_features` and :func:`state_from_previous_rows` read (the Spark asset
#: ships only these to pandas).
ROLLING_INPUT_COLUMNS: Final = ("athlete_id", "date", *STATE_WINDOW_COLUMNS)
#: Window columns that are sums or counts: a missing value is 0 (NaN only pads before the athlete's day 1).
_ZERO_WHEN_MISSING: Final = (
    "daily_load", "activity_count", "distance_km", "road_run_distance_km", "road_run_moving_min"
)

ROLLING_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "as_of_date": "object",  # datetime.date; features as of the end of this day
    "ctl": "float64",
    "atl": "float64",
    "tsb": "float64",
    "tsb_same_day": "float64",
    "acwr_rolling_7_28": "float64",
    "acwr_ewma_7_28": "float64",
    "pace_trend_30d": "float64",
    "best_pace_30d": "float64",
    "distance_30d_km": "float64",
    "activity_count_30d": "int64",
    "consistency_30d": "float64",
    "monotony_7d": "float64",
    "strain_7d": "float64",
    "rest_days_14d": "int64",
    "best_effort_5k_s": "float64",
    "best_effort_10k_s": "float64",
    "best_effort_21k_s": "float64",
    "best_effort_42k_s": "float64",
    "best_vdot_30d": "float64",
    "median_vdot_30d": "float64",
    "top3_vdot_90d": "float64",
    "days_since_best_vdot_90d": "float64",  # NaN without an effort in 90 days, hence not int64
    "efficiency_factor_30d": "float64",
    "efficiency_factor_ratio": "float64",
    "is_warmup": "bool",
    "is_overtraining_risk": "bool",
    "risk_reasons": "object",
    # The recursion's scalar state, kept on every row so day D can continue from D−1's row alone
    # (the trailing windows are rebuilt from the daily table: see state_from_previous_rows).
    "days_seen": "int64",
    "ewma_acute": "float64",
    "ewma_chronic": "float64",
}


@dataclass
class RollingState:
    """Everything needed to continue one athlete's rolling features after ``last_date``."""

    last_date: dt.date
    days_seen: int  # daily rows folded in since the athlete's first day
    ctl: float
    atl: float
    ewma_acute: float
    ewma_chronic: float
    window: dict[str, np.ndarray]  # STATE_WINDOW_COLUMNS: trailing daily values ending at last_date, oldest first


def state_from_previous_rows(
    previous_rows: pd.DataFrame | None, daily_history: pd.DataFrame, config: FeatureParams | None = None
) -> dict[int, RollingState]:
    """Each athlete's state as of its row in ``previous_rows`` (rolling rows, one per athlete, on the day
    D−1 before the rows to compute), with the trailing windows rebuilt from ``daily_history`` (the
    athletes' daily rows up to and including D−1; at least ``state_window_days`` of them when the athlete
    has that many). Keyed by athlete_id, for :func:`rolling_features`.

    This is what lets a partitioned asset continue the recursion from its previous partition without
    storing 90-day windows on every row.
    """
    config = config or FeatureParams()
    if previous_rows is None or previous_rows.empty:
        return {}
    keep = config.state_window_days
    # The window columns as arrays once, sorted by athlete and day, each athlete a slice of them: per-athlete
    # frames and column conversions were most of a daily run at 10,000 athletes (18 s of the step's 28 s under
    # the profiler), and so was sorting the whole frame with columns the state does not keep.
    history_ids = daily_history["athlete_id"].to_numpy(dtype="int64") if len(daily_history) else np.empty(0, np.int64)
    history_days = as_days(daily_history["date"]) if len(daily_history) else np.empty(0, dtype="datetime64[D]")
    order = np.lexsort((history_days, history_ids))
    days = history_days[order]
    columns = {name: float_column(daily_history, name)[order] for name in STATE_WINDOW_COLUMNS}
    for name in _ZERO_WHEN_MISSING:
        columns[name] = np.nan_to_num(columns[name], nan=0.0)
    ids, firsts, counts = np.unique(history_ids[order], return_index=True, return_counts=True)
    rows_of = {int(a): (int(first), int(first + count)) for a, first, count in zip(ids, firsts, counts)}
    last_days = as_days(previous_rows["as_of_date"])
    scalars = {name: previous_rows[name].to_numpy()
               for name in ("athlete_id", "days_seen", "ctl", "atl", "ewma_acute", "ewma_chronic")}
    states: dict[int, RollingState] = {}
    for i, last_day in enumerate(last_days):
        athlete_id = int(scalars["athlete_id"][i])
        first, end = rows_of.get(athlete_id, (0, 0))
        end = first + int(np.searchsorted(days[first:end], last_day, side="right"))  # rows up to last_day
        if end == first or days[end - 1] != last_day:
            raise ValueError(f"athlete {athlete_id}: no daily features row for {last_day} to rebuild the rolling state")
        tail = slice(max(first, end - keep), end)
        states[athlete_id] = RollingState(
            last_date=last_day.astype(dt.date),
            days_seen=int(scalars["days_seen"][i]),
            ctl=float(scalars["ctl"][i]),
            atl=float(scalars["atl"][i]),
            ewma_acute=float(scalars["ewma_acute"][i]),
            ewma_chronic=float(scalars["ewma_chronic"][i]),
            window={name: values[tail] for name, values in columns.items()},  # views of this call's own arrays
        )
    return states


#: Athlete-days advanced per batch: its (athletes, days, 90-day window) temporaries stay near 36 MB each.
BATCH_ROWS: Final = 50_000


def _window_matrix(values: np.ndarray, window: int, new_rows: int) -> np.ndarray:
    """Trailing windows (NaN before the athlete's first day) for the last ``new_rows`` positions: values of
    shape (athletes, days) give (athletes, new_rows, window)."""
    padded = np.concatenate((np.full(values.shape[:-1] + (window - 1,), np.nan), values), axis=-1)
    return np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)[..., -new_rows:, :]


def _median_of_rows(windows: np.ndarray) -> np.ndarray:
    """Median of the finite entries along the last axis (NaN where there are none), like ``np.nanmedian`` but
    one sort for the whole array instead of masked arrays, and no warning on empty windows."""
    ordered = np.sort(windows, axis=-1)  # NaN sorts last
    count = np.isfinite(windows).sum(axis=-1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(count > 0, (low + high) / 2.0, np.nan)


def _mean_of_top(windows: np.ndarray, k: int) -> np.ndarray:
    """Mean of the ``k`` highest finite entries along the last axis (fewer if fewer; NaN for none)."""
    k = min(k, windows.shape[-1])
    negated = -windows  # NaN sorts last, so the k smallest negated values are the k highest values
    top = np.sort(np.partition(negated, k - 1, axis=-1)[..., :k], axis=-1)  # sorted: a fixed summation order
    count = np.isfinite(top).sum(axis=-1)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, -np.where(np.isfinite(top), top, 0.0).sum(axis=-1) / count, np.nan)


def _days_since_max(windows: np.ndarray) -> np.ndarray:
    """Per window (last axis), days from the latest day holding the window's maximum to the window's last day
    (0 = the last day); NaN for a window without a finite entry."""
    newest_first = windows[..., ::-1]
    finite = np.isfinite(newest_first)
    position = np.argmax(np.where(finite, newest_first, -np.inf), axis=-1)  # argmax: first = most recent tie
    return np.where(finite.any(axis=-1), position.astype(float), np.nan)


def _ols_slope(y_windows: np.ndarray, min_points: int) -> np.ndarray:
    """Per window (last axis), the least-squares slope of y on day offset (0..w−1), NaN entries ignored."""
    mask = np.isfinite(y_windows)
    x = np.broadcast_to(np.arange(y_windows.shape[-1], dtype=float), y_windows.shape)
    y = np.where(mask, y_windows, 0.0)
    xm = np.where(mask, x, 0.0)
    n = mask.sum(axis=-1).astype(float)
    sx, sy = xm.sum(axis=-1), y.sum(axis=-1)
    sxx, sxy = (xm * xm).sum(axis=-1), (xm * y).sum(axis=-1)
    denominator = n * sxx - sx * sx
    ok = (n >= min_points) & (denominator > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, (n * sxy - sx * sy) / np.where(ok, denominator, 1.0), np.nan)


def _check_days(athlete_ids: np.ndarray, states: list[RollingState | None], days: np.ndarray) -> None:
    """Each row of ``days`` (athletes × days) is consecutive calendar days continuing its athlete's state."""
    if days.shape[1] > 1:
        gaps = ~np.all(np.diff(days, axis=1).astype(np.int64) == 1, axis=1)
        if gaps.any():
            athlete_id = int(athlete_ids[np.argmax(gaps)])
            raise ValueError(f"athlete {athlete_id}: daily rows must be consecutive calendar days without gaps")
    for athlete_id, state, first_day in zip(athlete_ids.tolist(), states, days[:, 0]):
        if state is not None:
            expected = np.datetime64(state.last_date, "D") + 1
            if first_day != expected:
                raise ValueError(
                    f"athlete {athlete_id}: daily rows start {first_day} but the state ends {state.last_date}; "
                    f"expected {expected} (pass the state as of the day before the first row)"
                )


def _advance_athletes(
    athlete_ids: np.ndarray,
    states: list[RollingState | None],
    days: np.ndarray,
    daily: Mapping[str, np.ndarray],
    config: FeatureParams,
) -> dict[str, np.ndarray]:
    """The rolling rows of athletes that share a shape: row i of ``days`` and of each ``daily`` array (athletes ×
    new days) holds athlete ``athlete_ids[i]``'s consecutive daily rows, continuing from ``states[i]``; either
    every state is None or every state's window has the same length. Rows come out athlete by athlete, each
    athlete's days in order. A few dozen NumPy calls for the whole batch: called once per athlete, their
    fixed cost was most of a daily run's rolling step."""
    _check_days(athlete_ids, states, days)
    k, n = days.shape
    loads = daily["daily_load"]
    if states[0] is None:
        ctl0 = np.full(k, config.ctl_seed)
        atl0 = np.full(k, config.atl_seed)
        acute0 = chronic0 = loads[:, 0].copy()  # EWMA seeded with day 1's load (Williams et al.)
        days_seen0 = np.zeros(k, dtype=np.int64)
        previous = {name: np.empty((k, 0)) for name in STATE_WINDOW_COLUMNS}
    else:
        ctl0 = np.array([state.ctl for state in states])
        atl0 = np.array([state.atl for state in states])
        acute0 = np.array([state.ewma_acute for state in states])
        chronic0 = np.array([state.ewma_chronic for state in states])
        days_seen0 = np.array([state.days_seen for state in states], dtype=np.int64)
        previous = {name: np.stack([state.window[name] for state in states]) for name in STATE_WINDOW_COLUMNS}

    pmc = tl.pmc_trainingpeaks(loads, config.ctl_days, config.atl_days, ctl0, atl0)
    ewma_acute = tl.smooth_load(loads, tl.alpha_ewma(ACUTE_DAYS), acute0)
    ewma_chronic = tl.smooth_load(loads, tl.alpha_ewma(CHRONIC_DAYS), chronic0)

    extended = {name: np.concatenate((previous[name], daily[name]), axis=1) for name in STATE_WINDOW_COLUMNS}
    history_loads = extended["daily_load"]
    # Only the days the new rows' windows reach (a day's run would otherwise compute 90 windows to keep one).
    acwr_rolling = tl.acwr_rolling_coupled(history_loads[:, -(n + CHRONIC_DAYS - 1):], ACUTE_DAYS, CHRONIC_DAYS)[:, -n:]
    monotony, strain = (
        series[:, -n:] for series in tl.rolling_monotony_strain(history_loads[:, -(n + tl.MONOTONY_WINDOW_DAYS - 1):])
    )

    counts_30 = _window_matrix(extended["activity_count"], ACTIVITY_WINDOW_DAYS, n)
    observed_30 = np.isfinite(counts_30).sum(axis=-1)
    active_30 = (counts_30 > 0).sum(axis=-1)
    counts_14 = _window_matrix(extended["activity_count"], REST_WINDOW_DAYS, n)
    distance_30 = np.nansum(_window_matrix(extended["distance_km"], ACTIVITY_WINDOW_DAYS, n), axis=-1)
    best_pace_30 = np.fmin.reduce(_window_matrix(extended["best_pace_s_per_km"], ACTIVITY_WINDOW_DAYS, n), axis=-1)

    road_km = _window_matrix(extended["road_run_distance_km"], TREND_WINDOW_DAYS, n)
    road_min = _window_matrix(extended["road_run_moving_min"], TREND_WINDOW_DAYS, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        daily_pace = np.where(road_km > 0, road_min * 60.0 / road_km, np.nan)
    pace_trend = _ols_slope(daily_pace, config.min_trend_run_days)

    lookback = config.best_effort_lookback_days
    effort_d = _window_matrix(extended["best_effort_distance_m"], lookback, n)
    effort_t = _window_matrix(extended["best_effort_time_s"], lookback, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(np.isfinite(effort_d) & np.isfinite(effort_t), tl.riegel_score(effort_t, effort_d), np.inf)
    best_index = np.argmin(score, axis=-1)[..., None]
    has_effort = np.isfinite(np.take_along_axis(score, best_index, axis=-1)[..., 0])
    best_d = np.where(has_effort, np.take_along_axis(effort_d, best_index, axis=-1)[..., 0], np.nan)
    best_t = np.where(has_effort, np.take_along_axis(effort_t, best_index, axis=-1)[..., 0], np.nan)

    # Fitness markers: one 90-day window each; the recent 30 days are its last 30 entries.
    vdot_90 = _window_matrix(extended["best_vdot"], FITNESS_LOOKBACK_DAYS, n)
    mean_vdot_30 = _window_matrix(extended["mean_vdot"], FITNESS_RECENT_DAYS, n)
    ef_90 = _window_matrix(extended["efficiency_factor"], FITNESS_LOOKBACK_DAYS, n)
    ef_recent = _median_of_rows(ef_90[..., -FITNESS_RECENT_DAYS:])
    ef_baseline = _median_of_rows(ef_90[..., :-FITNESS_RECENT_DAYS])
    with np.errstate(divide="ignore", invalid="ignore"):
        ef_ratio = np.where(ef_baseline > 0, ef_recent / ef_baseline, np.nan)

    day_number = days_seen0[:, None] + np.arange(1, n + 1)
    acwr_ewma = tl.acwr_from_averages(ewma_acute, ewma_chronic)
    weekly_load = np.nan_to_num(_window_matrix(history_loads, 7, n), nan=0.0).sum(axis=-1)
    risk_acwr = acwr_rolling > config.risk_acwr_gt
    # a week without load has SD 0 (monotony 10 by rule) but is not monotonous training
    risk_monotony = (monotony > config.risk_monotony_gt) & (weekly_load > 0)
    is_warmup = day_number <= config.warmup_days
    risk_tsb = (pmc.tsb_yesterday < config.risk_tsb_lt) & (~is_warmup | config.flag_tsb_during_warmup)
    reasons = np.array(
        [
            ",".join(code for code, flag in ((RISK_ACWR, a), (RISK_MONOTONY, m), (RISK_TSB, t)) if flag)
            for a, m, t in zip(risk_acwr.ravel().tolist(), risk_monotony.ravel().tolist(), risk_tsb.ravel().tolist())
        ],
        dtype=object,
    )

    output: dict[str, np.ndarray] = {
        "athlete_id": np.repeat(athlete_ids.astype(np.int64), n),
        "as_of_date": to_date_objects(days.ravel()),
        "ctl": pmc.ctl,
        "atl": pmc.atl,
        "tsb": pmc.tsb_yesterday,
        "tsb_same_day": pmc.tsb_same_day,
        "acwr_rolling_7_28": acwr_rolling,
        "acwr_ewma_7_28": acwr_ewma,
        "pace_trend_30d": pace_trend,
        "best_pace_30d": best_pace_30,
        "distance_30d_km": distance_30,
        "activity_count_30d": np.nansum(counts_30, axis=-1).astype(np.int64),
        "consistency_30d": active_30 / observed_30,
        "monotony_7d": monotony,
        "strain_7d": strain,
        "rest_days_14d": (counts_14 == 0).sum(axis=-1).astype(np.int64),
    }
    for label, distance in STANDARD_DISTANCES_M.items():
        output[f"best_effort_{label}_s"] = riegel_time(best_t, best_d, distance)
    output["best_vdot_30d"] = np.fmax.reduce(vdot_90[..., -FITNESS_RECENT_DAYS:], axis=-1)
    output["median_vdot_30d"] = _median_of_rows(mean_vdot_30)
    output["top3_vdot_90d"] = _mean_of_top(vdot_90, TOP_VDOT_DAYS)
    output["days_since_best_vdot_90d"] = _days_since_max(vdot_90)
    output["efficiency_factor_30d"] = ef_recent
    output["efficiency_factor_ratio"] = ef_ratio
    output["is_warmup"] = is_warmup
    output["is_overtraining_risk"] = risk_acwr | risk_monotony | risk_tsb
    output["risk_reasons"] = reasons
    output["days_seen"] = day_number.astype(np.int64)
    output["ewma_acute"] = ewma_acute
    output["ewma_chronic"] = ewma_chronic
    return {name: np.asarray(values).reshape(-1) for name, values in output.items()}


def rolling_features(
    daily_df: pd.DataFrame,
    states: Mapping[int, RollingState] | None = None,
    config: FeatureParams | None = None,
) -> pd.DataFrame:
    """Rolling (as-of-end-of-day) features, computed incrementally from each athlete's state.

    For each athlete, ``daily_df`` must hold consecutive calendar days starting the day after its
    state's ``last_date`` (``states``: from :func:`state_from_previous_rows`, keyed by athlete_id), or
    anywhere for an athlete without state: that day is day 1, with CTL/ATL seeded from ``config`` and
    the EWMAs with the day's load. Athletes with a state but no daily rows get no rows. One call over
    200 days and 200 one-day calls, each continuing from the previous call's rows and the daily
    history, give the same rows.

    Columns (see :data:`ROLLING_FEATURE_COLUMNS`), per athlete and day D, using only days ≤ D:

    * ctl, atl: TrainingPeaks 1/N recursion (N = 42 / 7). tsb: TrainingPeaks "Form" = **yesterday's**
      CTL − yesterday's ATL (day 1: the seeds); tsb_same_day = today's CTL − ATL (Runalyze).
    * acwr_rolling_7_28: Gabbett coupled rolling mean(7 d) / mean(28 d incl. the 7), NaN until the
      athlete has 28 days and when the 28-day load is 0. acwr_ewma_7_28: EWMA λ = 2/(N+1), seeded
      with the athlete's day-1 load, NaN when the chronic EWMA is 0.
    * pace_trend_30d: OLS slope (s/km per day; negative = getting faster) of each day's road-run pace
      (total time / total distance of that day's road runs) on the day, over the last 30 days; NaN
      with fewer than ``min_trend_run_days`` run days.
    * best_pace_30d: fastest effort-eligible road-run pace (s/km) in 30 days; distance_30d_km
      (running km), activity_count_30d (int64); consistency_30d = share of the athlete's days in the
      last 30 (only days since the first activity) with at least one activity.
    * monotony_7d, strain_7d: Foster over the last 7 days (days before the first count as rest).
    * rest_days_14d (int64): days without activity in the last 14 (days since the first activity).
    * best_effort_{5k,10k,21k,42k}_s: Riegel (exponent 1.06) projection of the road-run effort with the
      best Riegel score in the last ``best_effort_lookback_days`` (90) days; NaN without one.
    * Fitness markers from the daily best_vdot / mean_vdot / efficiency_factor (see
      :func:`daily_features`; days without a value are skipped, NaN when the window has none):
      best_vdot_30d = max best_vdot of the last 30 days; median_vdot_30d = median mean_vdot of the last
      30; top3_vdot_90d = mean of the 3 highest best_vdot days of the last 90 (fewer if fewer: one hard
      run is noisy, three agree); days_since_best_vdot_90d = days from the (latest) day with the highest
      best_vdot of the last 90 to D (0 = D; float64 for the NaN); efficiency_factor_30d = median
      efficiency_factor of the last 30 days; efficiency_factor_ratio = efficiency_factor_30d / the
      median efficiency_factor of the other 60 days of the last 90 (D−89..D−30), > 1 = more speed per
      heartbeat than before (Friel's aerobic-fitness trend).
    * is_warmup: the athlete's first ``warmup_days`` (42) days.
    * is_overtraining_risk / risk_reasons (comma-joined codes, "" when none): ACWR_GT_1_5
      (acwr_rolling_7_28 > 1.5), MONOTONY_GT_2 (monotony_7d > 2 and any load in the 7 days),
      TSB_LT_MINUS_30 (tsb < −30, not raised during warm-up unless ``flag_tsb_during_warmup``: with
      CTL seeded at 0 every new athlete would trip it). Thresholds in :class:`FeatureParams`.
    """
    config = config or FeatureParams()
    states = states or {}
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ROLLING_FEATURE_COLUMNS}
    if not daily_df.empty:
        days_all = as_days(daily_df["date"])
        ordered = pd.DataFrame(
            {"athlete_id": daily_df["athlete_id"].astype("int64").to_numpy(), "_day": days_all}
        ).sort_values(["athlete_id", "_day"], kind="stable")
        order = ordered.index.to_numpy()
        athlete_sorted = ordered["athlete_id"].to_numpy()
        days_sorted = days_all[order]
        values_sorted = {name: float_column(daily_df, name)[order] for name in STATE_WINDOW_COLUMNS}
        for name in _ZERO_WHEN_MISSING:
            values_sorted[name] = np.nan_to_num(values_sorted[name], nan=0.0)  # NaN only marks "before day 1"
        boundaries = np.flatnonzero(np.diff(athlete_sorted)) + 1
        # Athletes of one shape (days to advance, and state window length or no state) advance together.
        batches: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
        for segment in np.split(np.arange(athlete_sorted.size), boundaries):
            athlete_id = int(athlete_sorted[segment[0]])
            state = states.get(athlete_id)
            window = -1 if state is None else len(state.window["daily_load"])
            batches.setdefault((segment.size, window), []).append((athlete_id, segment))
        for shape, same_shape in batches.items():
            size = max(1, BATCH_ROWS // shape[0])
            for first in range(0, len(same_shape), size):
                members = same_shape[first : first + size]
                athlete_ids = np.array([athlete_id for athlete_id, _ in members], dtype=np.int64)
                rows_of = np.stack([segment for _, segment in members])  # athletes × days: indices of sorted rows
                rows = _advance_athletes(
                    athlete_ids,
                    [states.get(athlete_id) for athlete_id in athlete_ids.tolist()],
                    days_sorted[rows_of],
                    {name: values[rows_of] for name, values in values_sorted.items()},
                    config,
                )
                for name in ROLLING_FEATURE_COLUMNS:
                    columns[name].append(rows[name])
    if columns["athlete_id"]:
        merged = {name: np.concatenate(parts) for name, parts in columns.items()}
        ids = merged["athlete_id"]
        if ids.size > 1 and np.any(ids[1:] < ids[:-1]):  # batches interleave athletes: athlete by athlete, as sorted
            order = np.argsort(ids, kind="stable")
            merged = {name: values[order] for name, values in merged.items()}
        result = pd.DataFrame(merged)
        typed = {name: dtype for name, dtype in ROLLING_FEATURE_COLUMNS.items() if dtype != "object"}
        result = result.astype(typed)
    else:
        result = typed_empty(ROLLING_FEATURE_COLUMNS)
    return result
