"""Builders of the feature tables' test inputs (activities, HR profiles, daily rows, synthetic athletes) and
their comparison helpers, shared by the tests of ``athlete_platform.features.compute``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from athlete_platform.features import compute as fc


DAY0 = dt.date(2024, 1, 1)  # a Monday


def activity(
    athlete_id: int,
    activity_id: int,
    day: dt.date,
    *,
    sport: str = "run",
    distance_m: float = 10_000.0,
    moving_time_s: float = 3_000.0,
    hour: int = 7,
    average_hr: float | None = None,
    max_hr: float | None = None,
    elevation_gain_m: float = 50.0,
) -> dict[str, Any]:
    """One silver activity row."""
    start_utc = pd.Timestamp(day).tz_localize("UTC") + pd.Timedelta(hours=hour)
    has_hr = average_hr is not None
    return {
        "athlete_id": athlete_id,
        "activity_id": activity_id,
        "activity_date": day,
        "start_date_utc": start_utc,
        "start_date_local": start_utc.tz_localize(None),
        "sport": sport,
        "workout_type": pd.NA,
        "distance_m": distance_m,
        "moving_time_s": moving_time_s,
        "elapsed_time_s": moving_time_s * 1.1,
        "elevation_gain_m": elevation_gain_m,
        "average_speed_mps": distance_m / moving_time_s if moving_time_s else np.nan,
        "pace_s_per_km": moving_time_s / (distance_m / 1000) if distance_m > 0 else np.nan,
        "average_hr": average_hr if has_hr else np.nan,
        "max_hr": max_hr if max_hr is not None else np.nan,
        "has_heartrate": has_hr,
    }


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype({"workout_type": "Int64"})


def profile(
    athlete_id: int, activity_id: int, day: dt.date, hr: list[float], seconds: list[float], source: str = "stream"
) -> dict[str, Any]:
    return {
        "athlete_id": athlete_id,
        "activity_id": activity_id,
        "activity_date": day,
        "hr_source": source,
        "hr_bpm": hr,
        "seconds": seconds,
    }


NO_PROFILES = pd.DataFrame(columns=["athlete_id", "activity_id", "activity_date", "hr_source", "hr_bpm", "seconds"])


def synthetic_athlete(athlete_id: int, first_day: dt.date, n_days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Irregular training with random rest days, a 20-day break, doubles, several sports, HR on most."""
    rng = np.random.default_rng(seed)
    rows, profiles = [], []
    next_id = athlete_id * 100_000
    for offset in range(n_days):
        if rng.random() < 0.3 or 100 <= offset < 120:
            continue
        for session in range(2 if rng.random() < 0.15 else 1):
            next_id += 1
            day = first_day + dt.timedelta(days=offset)
            sport = str(rng.choice(["run", "run", "run", "trail_run", "treadmill_run", "ride", "strength"]))
            distance = 0.0 if sport == "strength" else float(rng.uniform(2_000, 22_000))
            pace = float(rng.uniform(230, 420)) if sport != "ride" else 110.0
            moving = distance / 1000 * pace if distance else 2_400.0
            with_hr = rng.random() < 0.8
            avg = float(rng.uniform(120, 168)) if with_hr else None
            peak = avg + float(rng.uniform(8, 25)) if avg else None
            rows.append(
                activity(athlete_id, next_id, day, sport=sport, distance_m=distance, moving_time_s=moving,
                         hour=6 + 6 * session, average_hr=avg, max_hr=peak)
            )
            if with_hr:
                hr = np.clip(rng.normal(avg, 12, 60).round(), 70, 210)
                values, counts = np.unique(hr, return_counts=True)
                profiles.append(profile(athlete_id, next_id, day, list(values), list(counts * moving / 60)))
    return frame(rows), pd.DataFrame(profiles)


def daily_rows(athlete_id: int, loads: list[float], first_day: dt.date = DAY0, **columns: list[float]) -> pd.DataFrame:
    """A daily table built directly (for rolling tests with hand-computable loads)."""
    n = len(loads)
    data = {
        "athlete_id": np.full(n, athlete_id, dtype=np.int64),
        "date": [first_day + dt.timedelta(days=i) for i in range(n)],
        "daily_load": np.asarray(loads, dtype=float),
        "distance_km": np.zeros(n),
        "moving_min": np.zeros(n),
        "activity_count": (np.asarray(loads) > 0).astype(np.int64),
        "run_count": (np.asarray(loads) > 0).astype(np.int64),
        "longest_run_km": np.zeros(n),
        "road_run_distance_km": np.zeros(n),
        "road_run_moving_min": np.zeros(n),
        "best_pace_s_per_km": np.full(n, np.nan),
        "best_effort_distance_m": np.full(n, np.nan),
        "best_effort_time_s": np.full(n, np.nan),
        "best_vdot": np.full(n, np.nan),
        "mean_vdot": np.full(n, np.nan),
        "efficiency_factor": np.full(n, np.nan),
    }
    data.update({k: np.asarray(v) for k, v in columns.items()})
    return pd.DataFrame(data)


def all_tables(
    activities: pd.DataFrame, profiles: pd.DataFrame, end: dt.date, config: fc.FeatureParams | None = None
) -> dict[str, pd.DataFrame]:
    features = fc.activity_features(activities, profiles, None, config)
    firsts = activities.groupby("athlete_id")["activity_date"].min().to_dict()
    daily = fc.daily_features(features, firsts, min(firsts.values()), end, config)
    weekly = fc.weekly_features(daily)
    rolling = fc.rolling_features(daily, None, config)
    return {"activity": features, "daily": daily, "weekly": weekly, "rolling": rolling}


def chained_rolling(daily_parts: list[pd.DataFrame], config: fc.FeatureParams | None = None) -> pd.DataFrame:
    """Rolling rows of consecutive daily parts, one call per part, each continuing from the athletes' last
    rolling rows so far and the daily rows so far: the asset's path (``state_from_previous_rows``)."""
    parts: list[pd.DataFrame] = []
    last_rows: pd.DataFrame | None = None
    history: list[pd.DataFrame] = []
    for daily in daily_parts:
        states = None
        if history:
            states = fc.state_from_previous_rows(last_rows, pd.concat(history, ignore_index=True), config)
        rows = fc.rolling_features(daily, states, config)
        parts.append(rows)
        history.append(daily)
        # each athlete's newest row: the rows come per athlete in date order, after the older ones
        last_rows = pd.concat([last_rows, rows], ignore_index=True).drop_duplicates("athlete_id", keep="last")
    chained = pd.concat(parts, ignore_index=True)
    return chained.sort_values(["athlete_id", "as_of_date"], kind="stable").reset_index(drop=True)


def assert_frames_close(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        if left[column].dtype == float:
            np.testing.assert_allclose(
                left[column].to_numpy(), right[column].to_numpy(), rtol=0, atol=1e-9, err_msg=column
            )
        else:
            assert left[column].tolist() == right[column].tolist(), column
