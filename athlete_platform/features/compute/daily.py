"""The daily table: one row per athlete and calendar day from the athlete's first activity on (rest days
included), with the day's load, volume, best effort and fitness markers (VDOT, efficiency factor)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.domain import race_baselines
from athlete_platform.domain import training_load as tl
from athlete_platform.domain.running import RUN_SPORTS
from athlete_platform.features.compute.common import (
    ROAD_RUN_SPORT,
    FeatureParams,
    as_day,
    as_days,
    float_column,
    is_effort,
    plausible_pace,
    to_date_objects,
    typed_empty,
)

DAILY_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "date": "object",  # datetime.date (local)
    "daily_load": "float64",
    "distance_km": "float64",  # running distance (run, trail_run, treadmill_run)
    "moving_min": "float64",  # all sports
    "activity_count": "int64",
    "run_count": "int64",
    "longest_run_km": "float64",
    "road_run_distance_km": "float64",
    "road_run_moving_min": "float64",
    "best_pace_s_per_km": "float64",
    "best_effort_distance_m": "float64",
    "best_effort_time_s": "float64",
    "best_vdot": "float64",
    "mean_vdot": "float64",
    "efficiency_factor": "float64",
}

#: The activity feature columns :func:`daily_features` reads (the Spark asset ships only these to pandas).
DAILY_INPUT_COLUMNS: Final = (
    "athlete_id",
    "activity_date",
    "sport",
    "distance_km",
    "moving_min",
    "pace_s_per_km",
    "training_load",
    "avg_hr",
)

_DAILY_SUM_COLUMNS: Final = ("daily_load", "distance_km", "moving_min", "road_run_distance_km", "road_run_moving_min")


def _first_dates(first_activity_dates: Mapping[int, Any] | pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(first_activity_dates, pd.DataFrame):
        series = first_activity_dates.set_index("athlete_id")["first_activity_date"]
    elif isinstance(first_activity_dates, pd.Series):
        series = first_activity_dates
    else:
        series = pd.Series(dict(first_activity_dates), dtype=object)
    if series.empty:
        return pd.Series(dtype="datetime64[ns]")
    days = as_days(series.reset_index(drop=True)).astype("datetime64[ns]")
    return pd.Series(days, index=series.index.astype("int64"))


def daily_features(
    activity_features_df: pd.DataFrame,
    first_activity_dates: Mapping[int, Any] | pd.Series | pd.DataFrame,
    start: dt.date | str,
    end: dt.date | str,
    config: FeatureParams | None = None,
) -> pd.DataFrame:
    """One row per athlete per calendar day in ``[start, end)`` (end exclusive, like Dagster's
    partition window) from the athlete's first activity on; rest days are rows with zero load.

    ``first_activity_dates``: {athlete_id: date}, a Series indexed by athlete_id, or a DataFrame with
    columns athlete_id, first_activity_date. Athletes with activities in the frame but no entry (or a
    later entry) start at their earliest activity in the frame.

    Columns (see :data:`DAILY_FEATURE_COLUMNS`): athlete_id int64, date (date), daily_load (sum of
    training_load), distance_km (*running* distance: run + trail + treadmill), moving_min (all sports),
    activity_count, run_count (int64), longest_run_km (longest single run, 0 without runs), and the
    inputs rolling features need: road_run_distance_km / road_run_moving_min (road runs with plausible
    pace, for the pace trend), best_pace_s_per_km (fastest effort-eligible road run, NaN if none),
    best_effort_distance_m / best_effort_time_s (the day's effort with the best Riegel score).

    Fitness markers of the day's *effort-eligible* road runs (the ``best_pace_s_per_km`` rule: road
    run, distance ≥ ``min_effort_distance_m``, plausible pace, moving time > 0); NaN on days without:

    * best_vdot: the highest Daniels-Gilbert VDOT (Daniels & Gilbert 1979, *Oxygen Power*;
      :func:`race_baselines.vdot_from_performances` of distance and moving time) of those runs. A
      training run is not a race, so this is a lower bound of the athlete's VDOT, not an estimate of it.
    * mean_vdot: their moving-time-weighted mean VDOT (a long easy run outweighs a short one).
    * efficiency_factor: TrainingPeaks' Efficiency Factor for running (J. Friel, "Efficiency Factor and
      Decoupling", trainingpeaks.com/blog/efficiency-factor-and-decoupling: speed ÷ average HR; here
      plain speed in m/min, not graded pace: road runs only) over those runs that have an average HR
      (``avg_hr``: silver's, else the HR profile's mean), combined over the day as
      Σ distance_m · 60 / Σ (avg_hr · moving_s), i.e. metres per heartbeat; NaN without HR.
    """
    config = config or FeatureParams()
    start_day, end_day = as_day(start), as_day(end)
    firsts = _first_dates(first_activity_dates)
    features = activity_features_df
    days = as_days(features["activity_date"]) if len(features) else np.empty(0, dtype="datetime64[D]")
    if len(features):
        earliest = pd.Series(days.astype("datetime64[ns]"), index=features.index).groupby(
            features["athlete_id"].astype("int64")
        ).min()
        firsts = pd.concat([firsts, earliest]).groupby(level=0).min()
    if firsts.empty:
        return typed_empty(DAILY_FEATURE_COLUMNS)

    calendar_athletes: list[np.ndarray] = []
    calendar_days: list[np.ndarray] = []
    for athlete_id, first in firsts.items():
        span = np.arange(max(np.datetime64(first, "D"), start_day), end_day, dtype="datetime64[D]")
        calendar_athletes.append(np.full(span.size, athlete_id, dtype=np.int64))
        calendar_days.append(span)
    calendar = pd.DataFrame(
        {
            "athlete_id": np.concatenate(calendar_athletes),
            "_day": np.concatenate(calendar_days).astype("datetime64[ns]"),
        }
    )
    if calendar.empty:
        return typed_empty(DAILY_FEATURE_COLUMNS)

    in_window = (days >= start_day) & (days < end_day)
    window = features[in_window]
    aggregated = _aggregate_days(window, days[in_window], config)
    daily = calendar.merge(aggregated, on=["athlete_id", "_day"], how="left", sort=False)
    for column in _DAILY_SUM_COLUMNS + ("longest_run_km",):
        daily[column] = daily[column].fillna(0.0).astype("float64")
    for column in ("activity_count", "run_count"):
        daily[column] = daily[column].fillna(0).astype("int64")
    daily["date"] = to_date_objects(daily["_day"].to_numpy(dtype="datetime64[ns]"))
    daily = daily.sort_values(["athlete_id", "_day"], kind="stable").reset_index(drop=True)
    return daily[list(DAILY_FEATURE_COLUMNS)]


def _aggregate_days(window: pd.DataFrame, days: np.ndarray, config: FeatureParams) -> pd.DataFrame:
    columns = ["athlete_id", "_day", *[c for c in DAILY_FEATURE_COLUMNS if c not in ("athlete_id", "date")]]
    if window.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}).astype(
            {"athlete_id": "int64", "_day": "datetime64[ns]"}
        )
    sport = window["sport"].astype(str).to_numpy()
    is_run = np.isin(sport, list(RUN_SPORTS))
    distance_km = np.nan_to_num(float_column(window, "distance_km"), nan=0.0)
    moving_min = np.nan_to_num(float_column(window, "moving_min"), nan=0.0)
    pace = float_column(window, "pace_s_per_km")
    road_with_pace = (sport == ROAD_RUN_SPORT) & (distance_km > 0) & plausible_pace(pace, config)
    effort = is_effort(sport, distance_km * 1000.0, pace, config) & (moving_min > 0)
    per_activity = pd.DataFrame(
        {
            "athlete_id": window["athlete_id"].astype("int64").to_numpy(),
            "_day": days.astype("datetime64[ns]"),
            "daily_load": np.nan_to_num(float_column(window, "training_load"), nan=0.0),
            "distance_km": np.where(is_run, distance_km, 0.0),
            "moving_min": moving_min,
            "activity_count": 1,
            "run_count": is_run.astype(np.int64),
            "longest_run_km": np.where(is_run, distance_km, 0.0),
            "road_run_distance_km": np.where(road_with_pace, distance_km, 0.0),
            "road_run_moving_min": np.where(road_with_pace, moving_min, 0.0),
            "best_pace_s_per_km": np.where(effort, pace, np.nan),
            "_effort_distance_m": np.where(effort, distance_km * 1000.0, np.nan),
            "_effort_time_s": np.where(effort, moving_min * 60.0, np.nan),
        }
    )
    effort_s = np.where(effort, moving_min * 60.0, 0.0)
    vdot = race_baselines.vdot_from_performances(per_activity["_effort_distance_m"], per_activity["_effort_time_s"])
    avg_hr = float_column(window, "avg_hr")
    with_hr = effort & np.isfinite(avg_hr) & (avg_hr > 0)
    per_activity["best_vdot"] = vdot  # NaN on non-efforts: the groupby max skips them
    per_activity["_vdot_s"] = np.where(effort, vdot * effort_s, 0.0)
    per_activity["_effort_s"] = effort_s
    per_activity["_hr_distance_m"] = np.where(with_hr, distance_km * 1000.0, 0.0)
    per_activity["_heart_s"] = np.where(with_hr, avg_hr * effort_s, 0.0)  # bpm · s = 60 × heartbeats
    with np.errstate(divide="ignore", invalid="ignore"):
        per_activity["_score"] = tl.riegel_score(per_activity["_effort_time_s"], per_activity["_effort_distance_m"])
    grouped = per_activity.groupby(["athlete_id", "_day"], sort=False)
    sums = grouped[
        [*_DAILY_SUM_COLUMNS, "activity_count", "run_count", "_vdot_s", "_effort_s", "_hr_distance_m", "_heart_s"]
    ].sum()
    maxima = grouped[["longest_run_km", "best_vdot"]].max()
    minima = grouped[["best_pace_s_per_km"]].min()
    with np.errstate(divide="ignore", invalid="ignore"):
        sums["mean_vdot"] = np.where(sums["_effort_s"] > 0, sums["_vdot_s"] / sums["_effort_s"], np.nan)
        sums["efficiency_factor"] = np.where(
            sums["_heart_s"] > 0, sums["_hr_distance_m"] * 60.0 / sums["_heart_s"], np.nan
        )
    best = (
        per_activity[np.isfinite(per_activity["_score"])]
        .sort_values("_score", kind="stable")
        .drop_duplicates(["athlete_id", "_day"], keep="first")
        .set_index(["athlete_id", "_day"])[["_effort_distance_m", "_effort_time_s"]]
        .rename(columns={"_effort_distance_m": "best_effort_distance_m", "_effort_time_s": "best_effort_time_s"})
    )
    aggregated = sums.join(maxima).join(minima).join(best, how="left").reset_index()
    return aggregated[columns]
