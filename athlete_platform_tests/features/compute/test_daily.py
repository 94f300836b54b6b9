"""``compute.daily_features``: every calendar day with rest days, the day's best effort, VDOT and efficiency factor."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from athlete_platform.domain.race_baselines import vdot_from_performance
from athlete_platform.features import compute as fc
from athlete_platform_tests.features.compute.builders import (
    DAY0,
    NO_PROFILES,
    activity,
    frame,
    synthetic_athlete,
)


def test_daily_features_read_only_the_declared_input_columns() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 120, seed=34)
    features = fc.activity_features(acts, profiles, None)
    first, end = DAY0 + dt.timedelta(days=30), DAY0 + dt.timedelta(days=120)
    full = fc.daily_features(features, {}, first, end)
    pruned = fc.daily_features(features[list(fc.DAILY_INPUT_COLUMNS)], {}, first, end)
    assert full["best_vdot"].notna().any() and full["efficiency_factor"].notna().any()  # every input matters here
    pd.testing.assert_frame_equal(full, pruned, check_exact=True)


def test_daily_features_fill_rest_days_and_sum_multiple_sessions() -> None:
    acts = frame(
        [
            activity(1, 1, DAY0 + dt.timedelta(days=1), distance_m=10_000, moving_time_s=3_000, hour=6),
            activity(1, 2, DAY0 + dt.timedelta(days=1), sport="ride", distance_m=40_000, moving_time_s=5_400, hour=17),
            activity(1, 3, DAY0 + dt.timedelta(days=4), distance_m=5_000, moving_time_s=1_500),
        ]
    )
    config = fc.FeatureParams(threshold_pace_s_per_km=250)
    features = fc.activity_features(acts, NO_PROFILES, None, config)
    daily = fc.daily_features(features, {1: DAY0 + dt.timedelta(days=1)}, DAY0, DAY0 + dt.timedelta(days=7), config)
    assert list(daily.columns) == list(fc.DAILY_FEATURE_COLUMNS)
    # from the first activity on, end exclusive
    assert list(daily["date"]) == [DAY0 + dt.timedelta(days=i) for i in range(1, 7)]
    loads = features.set_index("activity_id")["training_load"]
    assert daily.loc[0, "daily_load"] == pytest.approx(loads[1] + loads[2])
    assert daily.loc[0, "distance_km"] == 10.0  # running distance only
    assert daily.loc[0, "moving_min"] == pytest.approx(50 + 90)
    assert (daily.loc[0, "activity_count"], daily.loc[0, "run_count"]) == (2, 1)
    assert daily.loc[0, "longest_run_km"] == 10.0
    rest = daily.loc[1]
    assert (rest["daily_load"], rest["activity_count"], rest["distance_km"]) == (0.0, 0, 0.0)
    assert math.isnan(rest["best_pace_s_per_km"])
    assert daily.loc[3, "best_pace_s_per_km"] == 300.0
    assert (daily.loc[3, "best_effort_distance_m"], daily.loc[3, "best_effort_time_s"]) == (5_000.0, 1_500.0)
    assert daily["activity_count"].dtype == np.int64


def test_daily_features_window_and_first_activity_before_the_window() -> None:
    acts = frame([activity(1, 1, DAY0 + dt.timedelta(days=10))])
    features = fc.activity_features(acts, NO_PROFILES, None)
    firsts = pd.DataFrame({"athlete_id": [1, 2], "first_activity_date": [DAY0, DAY0 + dt.timedelta(days=20)]})
    daily = fc.daily_features(features, firsts, DAY0 + dt.timedelta(days=5), DAY0 + dt.timedelta(days=15))
    assert list(daily["athlete_id"].unique()) == [1]  # athlete 2 starts after the window
    assert daily["date"].iloc[0] == DAY0 + dt.timedelta(days=5)
    assert len(daily) == 10 and daily["activity_count"].sum() == 1


def test_best_effort_of_the_day_is_the_best_riegel_score() -> None:
    acts = frame(
        [
            activity(1, 1, DAY0, distance_m=5_000, moving_time_s=1_200, hour=6),  # 20:00 5K ≈ 41:41 10K
            activity(1, 2, DAY0, distance_m=10_000, moving_time_s=2_460, hour=18),  # 41:00 10K
        ]
    )
    features = fc.activity_features(acts, NO_PROFILES, None)
    daily = fc.daily_features(features, {1: DAY0}, DAY0, DAY0 + dt.timedelta(days=1))
    assert daily.loc[0, "best_effort_distance_m"] == 10_000.0
    assert daily.loc[0, "best_pace_s_per_km"] == 240.0  # fastest pace is the 5K's


def test_daily_vdot_and_efficiency_factor_hand_computed() -> None:
    def day(offset: int) -> dt.date:
        return DAY0 + dt.timedelta(days=offset)

    acts = frame(
        [
            activity(1, 1, day(0), distance_m=10_000, moving_time_s=2_400, average_hr=160, hour=6),  # 40:00 10K
            activity(1, 2, day(0), distance_m=5_000, moving_time_s=1_500, average_hr=140, hour=18),  # 25:00 5K
            activity(1, 3, day(0), distance_m=2_000, moving_time_s=420, average_hr=175, hour=12),  # < 3 km
            activity(1, 4, day(0), sport="trail_run", distance_m=10_000, moving_time_s=2_000, average_hr=150, hour=8),
            activity(1, 5, day(0), sport="ride", distance_m=40_000, moving_time_s=3_600, average_hr=130, hour=15),
            # day 1: rest
            activity(1, 6, day(2), distance_m=8_000, moving_time_s=2_800),  # an effort without HR
            activity(1, 7, day(3), sport="trail_run", distance_m=12_000, moving_time_s=4_800, average_hr=150),
            activity(1, 8, day(4), distance_m=10_000, moving_time_s=1_000, average_hr=150),  # 1:40/km: GPS glitch
        ]
    )
    features = fc.activity_features(acts, NO_PROFILES, None)
    daily = fc.daily_features(features, {1: DAY0}, DAY0, day(5)).set_index("date")
    markers = ["best_vdot", "mean_vdot", "efficiency_factor"]
    ten_k, five_k = vdot_from_performance(10_000, 2_400), vdot_from_performance(5_000, 1_500)
    assert ten_k == pytest.approx(51.944, abs=5e-4) and five_k == pytest.approx(38.309, abs=5e-4)
    assert daily.loc[day(0), "best_vdot"] == pytest.approx(ten_k, rel=1e-12)
    assert daily.loc[day(0), "mean_vdot"] == pytest.approx((ten_k * 2_400 + five_k * 1_500) / 3_900, rel=1e-12)
    # 250 m/min at 160 bpm and 200 m/min at 140 bpm: 15 000 m · 60 / (160·2400 + 140·1500) = 1.5152 m/beat
    assert daily.loc[day(0), "efficiency_factor"] == pytest.approx(900_000 / 594_000, rel=1e-12)
    assert daily.loc[day(1), markers].isna().all()  # rest day
    assert daily.loc[day(2), "best_vdot"] == pytest.approx(vdot_from_performance(8_000, 2_800), rel=1e-12)
    assert daily.loc[day(2), "mean_vdot"] == daily.loc[day(2), "best_vdot"]
    assert math.isnan(daily.loc[day(2), "efficiency_factor"])  # no HR
    assert daily.loc[day(3), markers].isna().all()  # trail run: not an effort
    assert daily.loc[day(4), markers].isna().all()  # implausible pace: not an effort
    assert all(daily[name].dtype == np.float64 for name in markers)
