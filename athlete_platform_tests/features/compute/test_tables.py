"""The four feature tables together: stable Arrow types, and real Strava summaries through every table."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from athlete_platform.features import compute as fc
from athlete_platform_tests.features.compute.builders import (
    DAY0,
    NO_PROFILES,
    all_tables,
    assert_frames_close,
    chained_rolling,
    synthetic_athlete,
)
from athlete_platform_tests.support.paths import REALDATA


def test_tables_have_stable_arrow_types_and_the_rolling_state_survives_an_arrow_round_trip() -> None:
    pa = pytest.importorskip("pyarrow")
    acts, profiles = synthetic_athlete(1, DAY0, 80, seed=3)
    tables = all_tables(acts, profiles, DAY0 + dt.timedelta(days=80))
    expected_arrow = {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
    for name, columns in [
        ("activity", fc.ACTIVITY_FEATURE_COLUMNS),
        ("daily", fc.DAILY_FEATURE_COLUMNS),
        ("weekly", fc.WEEKLY_FEATURE_COLUMNS),
        ("rolling", fc.ROLLING_FEATURE_COLUMNS),
    ]:
        schema = pa.Table.from_pandas(tables[name], preserve_index=False).schema
        assert schema.names == list(columns)
        for column, dtype in columns.items():
            if dtype in expected_arrow:
                assert schema.field(column).type == expected_arrow[dtype], (name, column)
        for column in ("activity_date", "date", "week_start", "as_of_date"):
            if column in columns:
                assert schema.field(column).type == pa.date32()
    # NaN becomes null in Arrow, which is how Spark hands D−1's rolling row and the daily history back
    daily, rolling = tables["daily"], tables["rolling"]
    previous = pa.Table.from_pandas(rolling.iloc[49:50], preserve_index=False).to_pandas()
    history = pa.Table.from_pandas(daily.iloc[:50], preserve_index=False).to_pandas()
    continued = fc.rolling_features(daily.iloc[50:], fc.state_from_previous_rows(previous, history))
    assert_frames_close(continued.reset_index(drop=True), rolling.iloc[50:].reset_index(drop=True))


_SPORTS = {"Run": "run", "TrailRun": "trail_run", "Ride": "ride", "EBikeRide": "ride", "Walk": "walk", "Hike": "hike",
           "WeightTraining": "strength", "Workout": "other"}


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_real_strava_summaries_through_all_tables() -> None:
    summaries = json.loads((REALDATA / "deroffal_summary_activities.json").read_text())
    rows = []
    for item in summaries:
        distance, moving = float(item["distance"]), float(item["moving_time"])
        start_utc = pd.Timestamp(item["start_date"])
        local = pd.Timestamp(item["start_date_local"]).tz_localize(None)
        rows.append(
            {
                "athlete_id": 7, "activity_id": int(item["id"]), "activity_date": local.date(),
                "start_date_utc": start_utc, "start_date_local": local,
                "sport": _SPORTS.get(item.get("sport_type") or item["type"], "other"),
                "workout_type": item.get("workout_type"), "distance_m": distance, "moving_time_s": moving,
                "elapsed_time_s": float(item["elapsed_time"]), "elevation_gain_m": float(item["total_elevation_gain"]),
                "average_speed_mps": float(item["average_speed"]),
                "pace_s_per_km": moving / (distance / 1000) if distance > 0 and moving > 0 else np.nan,
                "average_hr": item.get("average_heartrate", np.nan), "max_hr": item.get("max_heartrate", np.nan),
                "has_heartrate": bool(item.get("has_heartrate")),
            }
        )
    acts = pd.DataFrame(rows).astype({"workout_type": "Int64"})
    features = fc.activity_features(acts, NO_PROFILES, None)
    assert len(features) == len(acts)
    assert features["training_load"].ge(0).all() and np.isfinite(features["training_load"]).all()
    hr_rows = features[acts.set_index("activity_id").loc[features["activity_id"], "has_heartrate"].to_numpy()]
    assert hr_rows["hr_tss"].notna().mean() > 0.95  # all but the first HR activity have an HRmax
    assert hr_rows["hrmax_used"].dropna().le(220).all()
    runs = features[features["sport"] == "run"]
    assert runs["threshold_pace_s_per_km"].dropna().between(150, 900).all()

    first = acts["activity_date"].min()
    end = acts["activity_date"].max() + dt.timedelta(days=1)
    daily = fc.daily_features(features, {7: first}, first, end)
    assert len(daily) == (end - first).days
    assert daily["daily_load"].sum() == pytest.approx(features["training_load"].sum())
    batch = fc.rolling_features(daily, None)
    parts = [daily.iloc[lo:hi] for lo, hi in [(0, 400), (400, 401), (401, len(daily))]]
    assert_frames_close(chained_rolling(parts), batch)
    weekly = fc.weekly_features(daily)
    assert weekly["load"].sum() == pytest.approx(daily["daily_load"].sum())
    assert weekly["monotony"].between(0, 10).all()
