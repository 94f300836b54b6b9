"""``compute.activity_features``: hand-computed values, thresholds and HRmax from earlier activities only, zones,
training load per sport."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from athlete_platform.domain import hr_zones
from athlete_platform.domain import training_load as tl
from athlete_platform.features import compute as fc
from athlete_platform_tests.features.compute.builders import (
    DAY0,
    NO_PROFILES,
    activity,
    frame,
    profile,
    synthetic_athlete,
)


def test_activity_features_columns_and_dtypes() -> None:
    acts = frame([activity(1, 1, DAY0, average_hr=150, max_hr=175)])
    out = fc.activity_features(acts, NO_PROFILES, None, fc.FeatureParams(hrmax_bpm=190))
    assert list(out.columns) == list(fc.ACTIVITY_FEATURE_COLUMNS)
    assert str(out["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert out["activity_date"].iloc[0] == DAY0
    assert out["athlete_id"].dtype == np.int64 and out["activity_id"].dtype == np.int64
    empty = fc.activity_features(acts.iloc[:0], NO_PROFILES, None)
    assert list(empty.columns) == list(fc.ACTIVITY_FEATURE_COLUMNS) and empty.empty


def test_scoring_a_window_against_history_equals_scoring_everything() -> None:
    """History rows only feed the scored ones (threshold, HRmax), however few are scored."""
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 200, seed=31)
    acts_2, prof_2 = synthetic_athlete(2, DAY0, 200, seed=32)
    acts = pd.concat([acts_1, acts_2], ignore_index=True)
    profiles = pd.concat([prof_1, prof_2], ignore_index=True)
    everything = fc.activity_features(acts, profiles, None).sort_values("activity_id").reset_index(drop=True)
    for first in (DAY0 + dt.timedelta(days=199), DAY0 + dt.timedelta(days=150)):
        in_window = acts["activity_date"] >= first
        window = fc.activity_features(acts[in_window], profiles, acts[~in_window]).sort_values("activity_id")
        expected = everything[everything["activity_date"] >= first].reset_index(drop=True)
        pd.testing.assert_frame_equal(window.reset_index(drop=True), expected, check_exact=True)


def test_activity_features_read_only_the_declared_input_columns() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 120, seed=33)
    acts = acts.assign(name="Morning Run", timezone="America/Sao_Paulo", content_hash="x" * 64)
    history, window = acts[acts["activity_date"] < DAY0 + dt.timedelta(days=60)], acts[acts["activity_date"] >= DAY0 + dt.timedelta(days=60)]
    columns = list(fc.ACTIVITY_INPUT_COLUMNS)
    full = fc.activity_features(window, profiles, history)
    pruned = fc.activity_features(window[columns], profiles, history[columns])
    pd.testing.assert_frame_equal(full, pruned, check_exact=True)


def test_plausible_max_hr_before_only_for_wanted_rows_matches_the_full_pass() -> None:
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, 400, 300))  # many ties
    maxima = rng.normal(185, 12, 300)
    maxima[rng.random(300) < 0.1] = np.nan
    maxima[rng.random(300) < 0.05] = 250.0  # implausible
    full = hr_zones.plausible_max_hr_before(times, maxima)
    for wanted in (times >= 390, times == times[150], rng.random(300) < 0.2, np.zeros(300, dtype=bool)):
        partial = hr_zones.plausible_max_hr_before(times, maxima, wanted=wanted)
        np.testing.assert_array_equal(partial[wanted], full[wanted])
        assert np.isnan(partial[~wanted & (times < times[wanted].min(initial=10**9))]).all()


def test_basic_activity_columns_hand_computed() -> None:
    acts = frame(
        [activity(1, 1, DAY0, distance_m=12_000, moving_time_s=3_600, elevation_gain_m=240, average_hr=150, max_hr=178)]
    )
    row = fc.activity_features(acts, NO_PROFILES, None, fc.FeatureParams(hrmax_bpm=190)).iloc[0]
    assert row["distance_km"] == 12.0
    assert row["moving_min"] == 60.0
    assert row["elapsed_min"] == pytest.approx(66.0)
    assert row["pace_s_per_km"] == 300.0
    assert row["elevation_per_km"] == 20.0
    assert row["efficiency_index"] == pytest.approx((12_000 / 60) / 150)  # 1.3333 m/min per bpm
    assert row["max_hr"] == 178.0 and row["hrmax_used"] == 190.0


def test_rtss_with_configured_threshold() -> None:
    acts = frame([activity(1, 1, DAY0, distance_m=9_000, moving_time_s=2_700)])  # 45 min at 5:00/km
    row = fc.activity_features(acts, NO_PROFILES, None, fc.FeatureParams(threshold_pace_s_per_km=240)).iloc[0]
    assert row["intensity_factor"] == pytest.approx(0.8)
    assert row["rtss"] == pytest.approx(48.0)
    assert row["training_load"] == pytest.approx(48.0)
    assert row["load_source"] == "rtss"


def test_threshold_estimated_from_an_earlier_effort_in_history() -> None:
    history = frame([activity(1, 1, DAY0, distance_m=10_000, moving_time_s=2_400)])  # 10K in 40:00
    acts = frame([activity(1, 2, DAY0 + dt.timedelta(days=3), distance_m=10_000, moving_time_s=3_000)])
    row = fc.activity_features(acts, NO_PROFILES, history).iloc[0]
    threshold = tl.projected_threshold_pace(10_000, 2_400)  # 245.57 s/km
    assert row["threshold_pace_s_per_km"] == pytest.approx(threshold)
    assert row["rtss"] == pytest.approx((3_000 / 3_600) * (threshold / 300) ** 2 * 100)
    assert row["rtss"] == pytest.approx(55.83, abs=0.01)


def test_threshold_pace_never_uses_later_data() -> None:
    base = [
        activity(1, 1, DAY0, distance_m=10_000, moving_time_s=3_000),
        activity(1, 2, DAY0 + dt.timedelta(days=2), distance_m=8_000, moving_time_s=2_640),
        activity(1, 3, DAY0 + dt.timedelta(days=5), distance_m=12_000, moving_time_s=4_200),
    ]
    fast_later = activity(1, 4, DAY0 + dt.timedelta(days=6), distance_m=10_000, moving_time_s=2_100)  # 35:00 10K
    without = fc.activity_features(frame(base), NO_PROFILES, None)
    with_fast = fc.activity_features(frame([*base, fast_later]), NO_PROFILES, None)
    earlier = with_fast[with_fast["activity_id"] < 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(earlier, without)
    # the first activity has no earlier effort at all; the fast run only affects what comes after it
    assert math.isnan(without.loc[0, "threshold_pace_s_per_km"])
    np.testing.assert_array_equal(earlier["rtss"].to_numpy(), without["rtss"].to_numpy())
    assert earlier["rtss"].iloc[1:].notna().all()
    earlier_efforts = [(10_000, 3_000), (8_000, 2_640), (12_000, 4_200)]
    best_before_fast = min(tl.projected_threshold_pace(d, t) for d, t in earlier_efforts)
    assert with_fast.loc[3, "threshold_pace_s_per_km"] == pytest.approx(best_before_fast)
    after = fc.activity_features(
        frame([activity(1, 5, DAY0 + dt.timedelta(days=7), distance_m=10_000, moving_time_s=3_000)]),
        NO_PROFILES,
        frame([*base, fast_later]),
    )
    assert after.loc[0, "threshold_pace_s_per_km"] == pytest.approx(tl.projected_threshold_pace(10_000, 2_100))


def test_same_day_earlier_activity_counts_but_not_itself() -> None:
    morning = activity(1, 1, DAY0, distance_m=10_000, moving_time_s=2_400, hour=6)
    evening = activity(1, 2, DAY0, distance_m=5_000, moving_time_s=1_500, hour=18)
    out = fc.activity_features(frame([evening, morning]), NO_PROFILES, None)
    by_id = out.set_index("activity_id")
    assert math.isnan(by_id.loc[1, "threshold_pace_s_per_km"])
    assert by_id.loc[2, "threshold_pace_s_per_km"] == pytest.approx(tl.projected_threshold_pace(10_000, 2_400))


def test_threshold_lookback_and_effort_eligibility() -> None:
    history = frame(
        [
            activity(1, 1, DAY0, distance_m=10_000, moving_time_s=2_400),  # 91 days before: outside
            activity(1, 2, DAY0 + dt.timedelta(days=80), distance_m=2_000, moving_time_s=420),  # < 3 km
            activity(1, 3, DAY0 + dt.timedelta(days=81), sport="trail_run", distance_m=10_000, moving_time_s=2_000),
            activity(1, 4, DAY0 + dt.timedelta(days=82), distance_m=10_000, moving_time_s=1_000),  # GPS glitch
            activity(1, 5, DAY0 + dt.timedelta(days=83), distance_m=6_000, moving_time_s=1_800),
        ]
    )
    acts = frame([activity(1, 9, DAY0 + dt.timedelta(days=91), distance_m=8_000, moving_time_s=2_400)])
    row = fc.activity_features(acts, NO_PROFILES, history).iloc[0]
    assert row["threshold_pace_s_per_km"] == pytest.approx(tl.projected_threshold_pace(6_000, 1_800))


def test_history_and_frame_overlap_uses_the_frame_version() -> None:
    stale = activity(1, 1, DAY0, distance_m=10_000, moving_time_s=2_400)
    corrected = activity(1, 1, DAY0, distance_m=10_000, moving_time_s=2_700)
    later = activity(1, 2, DAY0 + dt.timedelta(days=1), distance_m=10_000, moving_time_s=3_000)
    out = fc.activity_features(frame([corrected, later]), NO_PROFILES, frame([stale]))
    assert len(out) == 2
    assert out.loc[1, "threshold_pace_s_per_km"] == pytest.approx(tl.projected_threshold_pace(10_000, 2_700))


def test_trimp_and_hr_tss_with_configured_hrmax_and_rest() -> None:
    acts = frame(
        [
            activity(1, 1, DAY0, sport="ride", distance_m=30_000, moving_time_s=3_600, average_hr=150),
            activity(2, 2, DAY0, sport="ride", distance_m=30_000, moving_time_s=3_600, average_hr=150),
        ]
    )
    config = fc.FeatureParams(hrmax_bpm=190, hr_rest_bpm=50, sex_by_athlete={2: "F"})
    out = fc.activity_features(acts, NO_PROFILES, None, config).set_index("athlete_id")
    assert out.loc[1, "trimp"] == pytest.approx(108.10, abs=5e-3)
    assert out.loc[2, "trimp"] == pytest.approx(90.42, abs=5e-3)
    lthr = 0.88 * 190
    expected = 108.0953593 / tl.banister_trimp(60, lthr, 50, 190, "M") * 100
    assert out.loc[1, "hr_tss"] == pytest.approx(expected, rel=1e-7)
    assert out.loc[1, "training_load"] == pytest.approx(expected, rel=1e-7)
    assert out.loc[1, "load_source"] == "hr_tss"
    assert math.isnan(out.loc[1, "rtss"]) and math.isnan(out.loc[1, "efficiency_index"])


def test_hrmax_from_earlier_activities_age_fallback_and_none() -> None:
    history = frame(
        [
            activity(1, 1, DAY0, average_hr=150, max_hr=186),
            activity(1, 2, DAY0 + dt.timedelta(days=1), average_hr=150, max_hr=240),  # > 220: spike
            activity(1, 3, DAY0 + dt.timedelta(days=2), average_hr=150, max_hr=209),  # single outlier
        ]
    )
    acts = frame(
        [
            activity(1, 4, DAY0 + dt.timedelta(days=3), average_hr=150, max_hr=199),  # its own max is not used
            activity(2, 5, DAY0, average_hr=150, max_hr=170),
            activity(3, 6, DAY0, average_hr=150, max_hr=170),
        ]
    )
    config = fc.FeatureParams(age_by_athlete={2: 40})
    out = fc.activity_features(acts, NO_PROFILES, history, config).set_index("athlete_id")
    assert out.loc[1, "hrmax_used"] == 186.0
    assert out.loc[2, "hrmax_used"] == 180.0  # 220 − 40
    assert math.isnan(out.loc[3, "hrmax_used"])  # first HR activity, no age: unknown
    assert math.isnan(out.loc[3, "trimp"]) and math.isnan(out.loc[3, "hr_tss"])
    assert out.loc[3, "avg_hr"] == 150.0


def test_zones_sum_to_100_with_hr_and_are_null_without() -> None:
    day = DAY0 + dt.timedelta(days=1)
    acts = frame(
        [
            activity(1, 1, day, average_hr=150, max_hr=181),
            activity(1, 2, day, hour=12),  # no HR
            activity(1, 3, day, hour=18, average_hr=140, max_hr=160),
        ]
    )
    profiles = pd.DataFrame(
        [
            # HRmax 200: 90 → Z1 (below 50 %), 130 → Z2, 150 → Z3, 170 → Z4, 181 → Z5
            profile(1, 1, day, [90, 130, 150, 170, 181], [60, 600, 1200, 900, 240]),
            profile(1, 3, day, [140.0], [3000.0], source="splits"),
            profile(1, 3, day, [125.0, 165.0], [1000.0, 2000.0], source="stream"),  # preferred over splits
        ]
    )
    out = fc.activity_features(acts, profiles, None, fc.FeatureParams(hrmax_bpm=200)).set_index("activity_id")
    zones = [f"z{i}_pct" for i in range(1, 6)]
    expected = np.array([60, 600, 1200, 900, 240]) / 3000 * 100
    np.testing.assert_allclose(out.loc[1, zones].to_numpy(dtype=float), expected)
    assert out.loc[1, zones].sum() == pytest.approx(100.0, abs=0.5)
    assert out.loc[2, zones].isna().all()
    np.testing.assert_allclose(out.loc[3, zones].to_numpy(dtype=float), [0, 100 / 3, 0, 200 / 3, 0])


def test_profile_mean_replaces_a_missing_average_hr() -> None:
    row = activity(1, 1, DAY0, average_hr=150)
    row["average_hr"] = np.nan
    profiles = pd.DataFrame([profile(1, 1, DAY0, [140.0, 160.0], [1000.0, 3000.0])])
    out = fc.activity_features(frame([row]), profiles, None, fc.FeatureParams(hrmax_bpm=190)).iloc[0]
    assert out["avg_hr"] == pytest.approx(155.0)
    assert out["trimp"] == pytest.approx(tl.banister_trimp(50.0, 155.0, 60.0, 190.0))


def test_training_load_rules_per_sport() -> None:
    history = frame([activity(1, 1, DAY0, distance_m=10_000, moving_time_s=2_400)])
    day = DAY0 + dt.timedelta(days=1)
    acts = frame(
        [
            activity(1, 2, day, sport="trail_run", distance_m=10_000, moving_time_s=4_000, average_hr=150, hour=6),
            activity(1, 3, day, sport="trail_run", distance_m=10_000, moving_time_s=4_000, hour=8),
            activity(1, 4, day, sport="strength", distance_m=0.0, moving_time_s=1_800, hour=10),
            activity(1, 5, day, sport="walk", distance_m=0.0, moving_time_s=0.0, hour=12),
            activity(1, 6, day, sport="treadmill_run", distance_m=8_000, moving_time_s=2_400, average_hr=155, hour=14),
        ]
    )
    out = fc.activity_features(acts, NO_PROFILES, history, fc.FeatureParams(hrmax_bpm=190)).set_index("activity_id")
    assert out.loc[2, "load_source"] == "hr_tss" and out.loc[2, "training_load"] == out.loc[2, "hr_tss"]
    assert out.loc[3, "load_source"] == "rtss" and out.loc[3, "training_load"] == pytest.approx(out.loc[3, "rtss"])
    assert out.loc[4, "load_source"] == "duration_estimate"
    assert out.loc[4, "training_load"] == pytest.approx(0.5 * 0.6**2 * 100)  # 30 min, IF 0.6 → 18
    assert out.loc[5, "load_source"] == "none" and out.loc[5, "training_load"] == 0.0
    assert out.loc[6, "load_source"] == "hr_tss"
    assert out["training_load"].notna().all()


def test_first_run_without_threshold_or_hr_gets_a_duration_estimate() -> None:
    out = fc.activity_features(frame([activity(1, 1, DAY0, moving_time_s=3_600)]), NO_PROFILES, None).iloc[0]
    assert out["load_source"] == "duration_estimate"
    assert out["training_load"] == pytest.approx(0.75**2 * 100)
