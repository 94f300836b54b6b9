"""Time-ordered cross-validation by race dates, and the error metrics we report per distance.

Folds (expanding window, ``n_folds`` consecutive test blocks at the end of the history):

* the test blocks hold roughly equal numbers of races and never split a date between two folds;
* fold k trains on every race with ``race_date <= first test date of fold k − gap_days``, so there are
  at least ``gap_days`` (default 43: longer than the 42-day CTL window, so no training race shares a
  chronic-load window with a test race) between the last training race and the first test race;
* the first test block starts at the earliest date that leaves ``min_train_races`` training races spanning at
  least ``min_train_days`` (first to last training race): a fold trained only on the first weeks of a
  history sees every athlete's features still filling from zero (CTL from 0, no 90-day best effort yet)
  and is then tested on mature rows, which says nothing about the model that is served.

Races in the gap belong to neither side of that fold (they are test races of the previous fold).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

METRIC_COLUMNS: Final = ("n", "mae_s", "rmse_s", "mape_pct")
ALL_DISTANCES: Final = "all"
#: Days between a fold's last training race and its first test race: longer than the 42-day CTL window.
MIN_GAP_DAYS: Final = 43


class NotEnoughRaces(ValueError):
    """The history is too short for the requested folds."""


@dataclass(frozen=True)
class Fold:
    index: int  # 0-based, time-ordered
    train: np.ndarray  # positions (into the dates given to time_folds)
    test: np.ndarray
    train_end: dt.date  # last training race date
    test_start: dt.date
    test_end: dt.date  # last test race date (inclusive)

    @property
    def gap_days(self) -> int:
        return (self.test_start - self.train_end).days


def _as_days(race_dates) -> np.ndarray:
    return pd.to_datetime(pd.Series(race_dates)).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def time_folds(
    race_dates, n_folds: int = 4, gap_days: int = MIN_GAP_DAYS, min_train_races: int = 100, min_train_days: int = 0
) -> list[Fold]:
    """Expanding-window folds over ``race_dates`` (any order); see the module docstring."""
    if n_folds < 1:
        raise ValueError(f"n_folds must be >= 1, got {n_folds}")
    if gap_days < 0:
        raise ValueError(f"gap_days must be >= 0, got {gap_days}")
    if min_train_days < 0:
        raise ValueError(f"min_train_days must be >= 0, got {min_train_days}")
    days = _as_days(race_dates)
    if days.size == 0:
        raise NotEnoughRaces("no races to cross-validate")
    gap = np.timedelta64(gap_days, "D")
    order = np.argsort(days, kind="stable")
    sorted_days = days[order]
    unique_days = np.unique(sorted_days)
    # training races available for a test block starting on each candidate date
    available = np.searchsorted(sorted_days, unique_days - gap, side="right")
    # span of those training races (last possible training date minus the first race)
    span_days = (unique_days - gap - sorted_days[0]).astype(int)
    eligible = np.flatnonzero((available >= max(min_train_races, 1)) & (span_days >= min_train_days))
    if eligible.size == 0:
        raise NotEnoughRaces(
            f"{days.size} races from {sorted_days[0]} to {sorted_days[-1]}: no test start leaves "
            f"{min_train_races} training races over {min_train_days} days, {gap_days} days earlier"
        )
    first_test_day = unique_days[eligible[0]]
    pool_start = int(np.searchsorted(sorted_days, first_test_day, side="left"))
    pool = sorted_days[pool_start:]
    pool_dates = np.unique(pool)
    if pool_dates.size < n_folds:
        raise NotEnoughRaces(
            f"only {pool_dates.size} test dates from {first_test_day} on for {n_folds} folds "
            f"(min_train_races={min_train_races}, gap_days={gap_days})"
        )
    # boundaries at (roughly) equal race counts, snapped to date changes, strictly increasing
    boundaries = [pool_dates[0]]
    for k in range(1, n_folds):
        target_day = pool[min(pool.size - 1, int(round(k * pool.size / n_folds)))]
        candidate_index = int(np.searchsorted(pool_dates, target_day, side="left"))
        previous_index = int(np.searchsorted(pool_dates, boundaries[-1], side="left"))
        remaining_folds = n_folds - k
        candidate_index = min(max(candidate_index, previous_index + 1), pool_dates.size - remaining_folds)
        boundaries.append(pool_dates[candidate_index])
    boundaries.append(pool_dates[-1] + np.timedelta64(1, "D"))

    folds = []
    for k in range(n_folds):
        start, end = boundaries[k], boundaries[k + 1]
        test = order[(sorted_days >= start) & (sorted_days < end)]
        train = order[sorted_days <= start - gap]
        folds.append(
            Fold(
                index=k,
                train=np.sort(train),
                test=np.sort(test),
                train_end=pd.Timestamp(days[train].max()).date(),
                test_start=pd.Timestamp(start).date(),
                test_end=pd.Timestamp(days[test].max()).date(),
            )
        )
    return folds


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """n, MAE (s), RMSE (s), MAPE (%) over pairs where both values are finite."""
    truth = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    ok = np.isfinite(truth) & np.isfinite(pred)
    if not ok.any():
        return {"n": 0, "mae_s": float("nan"), "rmse_s": float("nan"), "mape_pct": float("nan")}
    error = pred[ok] - truth[ok]
    return {
        "n": int(ok.sum()),
        "mae_s": float(np.mean(np.abs(error))),
        "rmse_s": float(np.sqrt(np.mean(error**2))),
        "mape_pct": float(np.mean(np.abs(error) / truth[ok]) * 100.0),
    }


def metrics_by_distance(
    frame: pd.DataFrame, prediction_column: str, truth_column: str = "official_time_s",
    distance_column: str = "distance_bucket", distances=None,
) -> pd.DataFrame:
    """One row per distance (in ``distances`` order, those present) plus ``all``: n, mae_s, rmse_s, mape_pct."""
    distances = list(distances) if distances is not None else sorted(frame[distance_column].dropna().unique())
    records = []
    for distance in [*distances, ALL_DISTANCES]:
        part = frame if distance == ALL_DISTANCES else frame[frame[distance_column] == distance]
        if part.empty:
            continue
        records.append({"distance": distance, **regression_metrics(part[truth_column], part[prediction_column])})
    return pd.DataFrame.from_records(records, columns=["distance", *METRIC_COLUMNS])


def interval_coverage(y_true, lo, hi) -> tuple[float, int]:
    """Share of finite intervals that contain the truth, and how many intervals were finite."""
    truth, low, high = (np.asarray(v, dtype=float) for v in (y_true, lo, hi))
    ok = np.isfinite(truth) & np.isfinite(low) & np.isfinite(high)
    if not ok.any():
        return float("nan"), 0
    return float(np.mean((truth[ok] >= low[ok]) & (truth[ok] <= high[ok]))), int(ok.sum())
