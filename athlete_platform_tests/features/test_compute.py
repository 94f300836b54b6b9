"""Feature tables: hand-computed values, leakage rules, incremental == batch, athlete isolation."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from athlete_platform.domain import hr_zones
from athlete_platform.domain import training_load as tl
from athlete_platform.domain.race_baselines import vdot_from_performance
from athlete_platform.features import compute as fc
from athlete_platform.features.compute.common import FITNESS_LOOKBACK_DAYS

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
DAY0 = dt.date(2024, 1, 1)  # a Monday

# ------------------------------------------------------------------------------------------------
# Builders
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# Activity features
# ------------------------------------------------------------------------------------------------


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


def test_daily_features_read_only_the_declared_input_columns() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 120, seed=34)
    features = fc.activity_features(acts, profiles, None)
    first, end = DAY0 + dt.timedelta(days=30), DAY0 + dt.timedelta(days=120)
    full = fc.daily_features(features, {}, first, end)
    pruned = fc.daily_features(features[list(fc.DAILY_INPUT_COLUMNS)], {}, first, end)
    assert full["best_vdot"].notna().any() and full["efficiency_factor"].notna().any()  # every input matters here
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


# ------------------------------------------------------------------------------------------------
# Daily and weekly features
# ------------------------------------------------------------------------------------------------


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


def test_weekly_features_monotony_strain_and_partial_week() -> None:
    loads = [0, 20, 10, 10, 10, 10, 10, 30, 30]  # Monday..Sunday, then Mon/Tue of the next week
    daily = daily_rows(1, loads, distance_km=[0, 5, 3, 3, 3, 3, 12, 6, 6], longest_run_km=[0, 5, 3, 3, 3, 3, 12, 6, 6])
    weekly = fc.weekly_features(daily)
    assert list(weekly.columns) == list(fc.WEEKLY_FEATURE_COLUMNS)
    first, partial = weekly.iloc[0], weekly.iloc[1]
    assert first["week_start"] == DAY0
    assert first["load"] == 70.0 and first["volume_km"] == 29.0 and first["long_run_km"] == 12.0
    assert first["monotony"] == pytest.approx(1.8708, abs=5e-5)
    assert first["strain"] == pytest.approx(130.96, abs=5e-3)
    assert (first["rest_days"], first["run_count"], first["days_covered"]) == (1, 6, 7)
    assert partial["week_start"] == DAY0 + dt.timedelta(days=7)
    assert partial["days_covered"] == 2 and partial["rest_days"] == 0
    assert partial["monotony"] == pytest.approx(tl.foster_monotony([30, 30, 0, 0, 0, 0, 0]))


def test_weekly_features_do_not_depend_on_row_order() -> None:
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 120, seed=34)
    acts_2, prof_2 = synthetic_athlete(2, DAY0, 120, seed=35)
    daily = all_tables(pd.concat([acts_1, acts_2], ignore_index=True), pd.concat([prof_1, prof_2], ignore_index=True),
                       DAY0 + dt.timedelta(days=120))["daily"]
    ordered = fc.weekly_features(daily)
    shuffled = fc.weekly_features(daily.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(ordered, shuffled, check_exact=True)


def test_weekly_features_read_only_the_declared_input_columns() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 120, seed=36)
    daily = all_tables(acts, profiles, DAY0 + dt.timedelta(days=120))["daily"]
    full = fc.weekly_features(daily)
    pruned = fc.weekly_features(daily[list(fc.WEEKLY_INPUT_COLUMNS)])
    assert (full["rest_days"] > 0).any() and (full["long_run_km"] > 0).any()  # every input matters here
    pd.testing.assert_frame_equal(full, pruned, check_exact=True)


def test_rolling_features_read_only_the_declared_input_columns() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 150, seed=37)
    daily = all_tables(acts, profiles, DAY0 + dt.timedelta(days=150))["daily"]
    days = daily["date"]
    parts = [daily[days < DAY0 + dt.timedelta(days=100)], daily[days >= DAY0 + dt.timedelta(days=100)]]
    full = chained_rolling(parts)  # the second part continues from a state rebuilt from the daily history
    pruned = chained_rolling([part[list(fc.ROLLING_INPUT_COLUMNS)] for part in parts])
    assert full["best_effort_10k_s"].notna().any() and full["efficiency_factor_30d"].notna().any()
    pd.testing.assert_frame_equal(full, pruned, check_exact=True)


def test_weekly_week_start_is_monday_for_mid_week_start() -> None:
    daily = daily_rows(1, [10.0, 0.0, 20.0], first_day=dt.date(2024, 3, 7))  # a Thursday
    weekly = fc.weekly_features(daily)
    assert list(weekly["week_start"]) == [dt.date(2024, 3, 4)]
    assert weekly.loc[0, "days_covered"] == 3 and weekly.loc[0, "rest_days"] == 1


# ------------------------------------------------------------------------------------------------
# Rolling features
# ------------------------------------------------------------------------------------------------


def test_rolling_pmc_matches_reference_and_names_both_tsb() -> None:
    rows = fc.rolling_features(daily_rows(1, [100.0] * 7 + [0.0]), None)
    assert list(rows.columns) == list(fc.ROLLING_FEATURE_COLUMNS)
    assert rows.loc[0, "ctl"] == pytest.approx(2.3810, abs=5e-5)
    assert rows.loc[0, "atl"] == pytest.approx(14.2857, abs=5e-5)
    assert rows.loc[0, "tsb"] == 0.0  # yesterday = the seeds
    assert rows.loc[6, "tsb_same_day"] == pytest.approx(-50.4860, abs=5e-5)
    assert rows.loc[6, "tsb"] == pytest.approx(-46.8812, abs=5e-5)
    assert rows.loc[7, "ctl"] == pytest.approx(15.1527, abs=5e-5)  # the rest day
    assert rows.loc[7, "atl"] == pytest.approx(56.5786, abs=5e-5)
    assert rows.loc[7, "tsb"] == pytest.approx(-50.4860, abs=5e-5)


def test_rolling_acwr_reference_vector_and_warmup() -> None:
    rows = fc.rolling_features(daily_rows(1, [50.0] * 21 + [100.0] * 7), None)
    assert rows["acwr_rolling_7_28"].iloc[:27].isna().all()
    assert rows["acwr_rolling_7_28"].iloc[27] == pytest.approx(1.600, abs=5e-4)
    assert rows["acwr_ewma_7_28"].iloc[27] == pytest.approx(1.339, abs=5e-4)
    assert rows["acwr_ewma_7_28"].iloc[0] == 1.0  # seeded with day 1's load
    assert rows["is_warmup"].all()


def test_rolling_monotony_strain_rest_days_consistency() -> None:
    loads = [0.0] * 3 + [5.0] + [0, 20, 10, 10, 10, 10, 10]  # days 1-3 exist but are rest days
    rows = fc.rolling_features(daily_rows(1, loads), None)
    last = rows.iloc[-1]
    assert last["monotony_7d"] == pytest.approx(1.8708, abs=5e-5)
    assert last["strain_7d"] == pytest.approx(130.96, abs=5e-3)
    assert last["rest_days_14d"] == 4  # 11 days of data, 4 without activity
    assert last["consistency_30d"] == pytest.approx(7 / 11)
    assert last["activity_count_30d"] == 7
    assert rows.loc[0, "rest_days_14d"] == 1 and rows.loc[0, "consistency_30d"] == 0.0


def test_rolling_best_efforts_and_best_pace_windows() -> None:
    n = 95
    effort_d = np.full(n, np.nan)
    effort_t = np.full(n, np.nan)
    best_pace = np.full(n, np.nan)
    effort_d[0], effort_t[0], best_pace[0] = 10_000.0, 2_400.0, 240.0  # 10K in 40:00 on day 1
    daily = daily_rows(
        1, [50.0] * n, best_effort_distance_m=effort_d, best_effort_time_s=effort_t, best_pace_s_per_km=best_pace
    )
    rows = fc.rolling_features(daily, None)
    assert round(rows.loc[0, "best_effort_5k_s"]) == 19 * 60 + 11
    assert round(rows.loc[89, "best_effort_21k_s"]) == 3600 + 28 * 60 + 15  # day 90 still sees day 1
    assert round(rows.loc[89, "best_effort_42k_s"]) == 3 * 3600 + 4 * 60
    assert rows.loc[89, "best_effort_10k_s"] == pytest.approx(2_400.0)
    assert math.isnan(rows.loc[90, "best_effort_5k_s"])  # 91 days later: out of the 90-day window
    assert rows.loc[29, "best_pace_30d"] == 240.0 and math.isnan(rows.loc[30, "best_pace_30d"])


def test_rolling_vdot_windows_hand_computed() -> None:
    n = 103
    best, mean = np.full(n, np.nan), np.full(n, np.nan)
    for day, (top, average) in {2: (50.0, 49.0), 12: (52.0, 50.0), 42: (48.0, 47.0), 62: (51.0, 49.0),
                                97: (45.0, 44.0)}.items():
        best[day], mean[day] = top, average
    rows = fc.rolling_features(daily_rows(1, [40.0] * n, best_vdot=best, mean_vdot=mean), None)
    columns = ["best_vdot_30d", "median_vdot_30d", "top3_vdot_90d", "days_since_best_vdot_90d"]

    def at(day: int) -> list[float]:
        return rows.loc[day, columns].astype(float).tolist()

    assert all(math.isnan(v) for v in at(0) + at(1))  # nothing yet
    assert at(2) == [50.0, 49.0, 50.0, 0.0]
    assert at(7) == [50.0, 49.0, 50.0, 5.0]  # rest days keep the window's values; the best ages
    assert at(12) == [52.0, 49.5, 51.0, 0.0]  # median of 49 and 50; mean of the only two best days
    assert at(42) == [48.0, 47.0, 50.0, 30.0]  # days 2, 12 out of the 30 days, not of the 90
    assert at(62) == [51.0, 48.0, 51.0, 50.0]  # 30 d: days 42, 62; top 3 of 90 d: 52, 51, 50
    assert at(91) == [51.0, 49.0, 51.0, 79.0]  # day 2 is still in the 90 days ending at day 91
    assert at(92)[2:] == [pytest.approx(151.0 / 3), 80.0]  # ... and out of the window ending at day 92
    assert all(math.isnan(v) for v in at(93)[:2])  # day 62 is 31 days before day 93
    assert at(101) == [45.0, 44.0, pytest.approx(151.0 / 3), 89.0]
    assert at(102)[2:] == [48.0, 40.0]  # day 12 gone: 51, 48, 45 left; the best is day 62's
    for column in columns:
        assert rows[column].dtype == np.float64


def test_rolling_efficiency_factor_recent_median_and_ratio_to_the_earlier_60_days() -> None:
    n = 96
    factor = np.full(n, np.nan)
    factor[[5, 20, 40]] = [1.0, 1.2, 1.1]
    factor[[75, 80, 85]] = [1.3, 1.25, 1.35]
    rows = fc.rolling_features(daily_rows(1, [40.0] * n, efficiency_factor=factor), None)
    recent, ratio = rows["efficiency_factor_30d"], rows["efficiency_factor_ratio"]
    assert math.isnan(recent[4]) and math.isnan(ratio[4])
    assert recent[30] == pytest.approx(1.1)  # days 1..30: median of 1.0 and 1.2
    assert math.isnan(ratio[30])  # nothing in the 60 days before those 30
    assert recent[60] == pytest.approx(1.1)  # days 31..60: only day 40
    assert ratio[60] == pytest.approx(1.1 / 1.1)  # days 0..30 before it: median of 1.0 and 1.2
    assert recent[89] == pytest.approx(1.3)  # median of 1.3, 1.25, 1.35
    assert ratio[89] == pytest.approx(1.3 / 1.1)  # days 0..59: 1.0, 1.2, 1.1
    assert ratio[94] == pytest.approx(1.3 / 1.1)  # days 5..64 still hold day 5
    assert ratio[95] == pytest.approx(1.3 / 1.15)  # days 6..65: 1.2 and 1.1
    assert math.isnan(recent[70]) and math.isnan(ratio[70])  # days 41..70 without HR: no ratio either
    assert rows["efficiency_factor_30d"].dtype == np.float64 and ratio.dtype == np.float64

    n = 40
    km = np.zeros(n)
    minutes = np.zeros(n)
    for day in range(0, n, 2):  # a 10 km road run every other day, 1 s/km faster per day
        km[day] = 10.0
        minutes[day] = (330.0 - day) * 10 / 60
    rows = fc.rolling_features(daily_rows(1, [60.0] * n, road_run_distance_km=km, road_run_moving_min=minutes), None)
    assert math.isnan(rows.loc[3, "pace_trend_30d"])  # only 2 run days so far
    assert rows.loc[4, "pace_trend_30d"] == pytest.approx(-1.0)
    assert rows.loc[n - 1, "pace_trend_30d"] == pytest.approx(-1.0)


def test_risk_flags_and_reasons() -> None:
    loads = [50.0] * 42 + [150.0] * 7 + [0.0] * 7
    rows = fc.rolling_features(daily_rows(1, loads), None, fc.FeatureParams())
    day49 = rows.iloc[48]  # acwr = 150 / ((21·50 + 7·150)/28) = 2.0; 7 identical days: monotony 10
    assert day49["acwr_rolling_7_28"] == pytest.approx(2.0)
    assert day49["monotony_7d"] == 10.0
    assert day49["tsb"] < -30
    assert day49["risk_reasons"] == "ACWR_GT_1_5,MONOTONY_GT_2,TSB_LT_MINUS_30"
    assert day49["is_overtraining_risk"]
    rest_week = rows.iloc[-1]  # seven rest days: monotony is 10 by rule, but no load → not flagged
    assert rest_week["monotony_7d"] == 10.0 and "MONOTONY_GT_2" not in rest_week["risk_reasons"]
    assert rows.iloc[20]["risk_reasons"] == "MONOTONY_GT_2"  # steady 50/day: SD 0
    relaxed = fc.rolling_features(
        daily_rows(1, loads), None, fc.FeatureParams(risk_acwr_gt=2.5, risk_monotony_gt=11, risk_tsb_lt=-100)
    )
    assert relaxed["risk_reasons"].eq("").all() and not relaxed["is_overtraining_risk"].any()


def test_tsb_flag_is_not_raised_during_warmup_unless_configured() -> None:
    loads = [100.0, 0.0] * 10  # alternating: monotony low, TSB from a 0 seed deeply negative
    default = fc.rolling_features(daily_rows(1, loads), None)
    assert default["tsb"].min() < -30
    assert not default["risk_reasons"].str.contains("TSB").any()
    flagged = fc.rolling_features(daily_rows(1, loads), None, fc.FeatureParams(flag_tsb_during_warmup=True))
    assert flagged.loc[flagged["tsb"] < -30, "risk_reasons"].eq("TSB_LT_MINUS_30").all()


def test_rolling_rejects_gaps_and_misaligned_state() -> None:
    daily = daily_rows(1, [10.0] * 5)
    with pytest.raises(ValueError, match="consecutive"):
        fc.rolling_features(daily.drop(index=2), None)
    first = fc.rolling_features(daily.iloc[:3], None)
    with pytest.raises(ValueError, match="no daily features row"):
        fc.state_from_previous_rows(first.iloc[-1:], daily.iloc[:2])  # the history must reach D−1
    states = fc.state_from_previous_rows(first.iloc[-1:], daily.iloc[:3])
    with pytest.raises(ValueError, match="state ends"):
        fc.rolling_features(daily.iloc[4:], states)
    with pytest.raises(ValueError, match="state ends"):
        fc.rolling_features(daily.iloc[2:], states)  # re-running a folded day


FITNESS_MARKERS = ("best_vdot_30d", "median_vdot_30d", "top3_vdot_90d", "days_since_best_vdot_90d",
                   "efficiency_factor_30d", "efficiency_factor_ratio")


def _assert_frames_close(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right)
    for column in left.columns:
        if left[column].dtype == float:
            np.testing.assert_allclose(
                left[column].to_numpy(), right[column].to_numpy(), rtol=0, atol=1e-9, err_msg=column
            )
        else:
            assert left[column].tolist() == right[column].tolist(), column


def test_incremental_equals_batch_over_200_plus_days_with_gaps_and_two_athletes() -> None:
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 230, seed=11)
    acts_2, prof_2 = synthetic_athlete(2, DAY0 + dt.timedelta(days=17), 200, seed=12)
    acts = pd.concat([acts_1, acts_2], ignore_index=True)
    profiles = pd.concat([prof_1, prof_2], ignore_index=True)
    end = DAY0 + dt.timedelta(days=230)
    features = fc.activity_features(acts, profiles, None)
    firsts = acts.groupby("athlete_id")["activity_date"].min().to_dict()
    daily = fc.daily_features(features, firsts, DAY0, end)

    batch = fc.rolling_features(daily, None)
    # rows exist for every calendar day of the daily table
    assert batch[["athlete_id", "as_of_date"]].values.tolist() == daily[["athlete_id", "date"]].values.tolist()
    assert len(batch) >= 400

    day_by_day = chained_rolling([daily[daily["date"] == day] for day in sorted(daily["date"].unique())])
    _assert_frames_close(day_by_day, batch)

    # uneven chunks, the daily table recomputed per chunk from the chunk's activities + history
    bounds = [DAY0 + dt.timedelta(days=offset) for offset in (0, 1, 31, 38, 150)] + [end]
    chunks = [fc.daily_features(features, firsts, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    _assert_frames_close(chained_rolling(chunks), batch)

    assert batch["is_warmup"].sum() == 2 * 42
    assert batch["acwr_rolling_7_28"].notna().any() and batch["pace_trend_30d"].notna().any()
    assert batch["best_effort_10k_s"].notna().any() and batch["risk_reasons"].str.len().gt(0).any()
    for column in FITNESS_MARKERS:  # the equalities above compared real values, not only NaN
        assert batch[column].notna().sum() > 100, column


def test_athletes_advanced_together_equal_each_athlete_advanced_alone() -> None:
    """Athletes of one shape (days to advance, state window) are advanced as one batch: no row may depend on
    which other athletes share the batch. Six athletes: two start together (one batch from scratch), four
    continue from a state (two with the full 90-day window, two younger: other window lengths)."""
    starts = [0, 0, 3, 30, 100, 100]
    tables = [synthetic_athlete(i + 1, DAY0 + dt.timedelta(days=offset), 230 - offset, seed=40 + i)
              for i, offset in enumerate(starts)]
    acts = pd.concat([t[0] for t in tables], ignore_index=True)
    features = fc.activity_features(acts, pd.concat([t[1] for t in tables], ignore_index=True), None)
    firsts = acts.groupby("athlete_id")["activity_date"].min().to_dict()
    daily = fc.daily_features(features, firsts, DAY0, DAY0 + dt.timedelta(days=230))
    split = DAY0 + dt.timedelta(days=150)
    before, after = daily[daily["date"] < split], daily[daily["date"] >= split]
    keep = fc.FeatureParams().state_window_days

    def advance(ids: list[int]) -> pd.DataFrame:
        mine = before[before["athlete_id"].isin(ids)]
        first = fc.rolling_features(mine)
        history = mine[mine["date"] >= split - dt.timedelta(days=keep)]
        states = fc.state_from_previous_rows(first[first["as_of_date"] == split - dt.timedelta(days=1)], history)
        return pd.concat([first, fc.rolling_features(after[after["athlete_id"].isin(ids)], states)], ignore_index=True)

    together = advance(list(range(1, 7)))
    alone = pd.concat([advance([i]) for i in range(1, 7)], ignore_index=True)
    order = ["athlete_id", "as_of_date"]
    pd.testing.assert_frame_equal(
        together.sort_values(order, ignore_index=True), alone.sort_values(order, ignore_index=True), check_exact=True
    )
    assert together["ctl"].notna().all() and together["top3_vdot_90d"].notna().sum() > 100


def test_rolling_continues_from_the_previous_row_and_the_window_of_daily_history() -> None:
    """What the rolling asset does: D−1's row + only the last ``state_window_days`` daily rows."""
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 230, seed=13)
    acts_2, prof_2 = synthetic_athlete(2, DAY0 + dt.timedelta(days=40), 190, seed=14)
    features = fc.activity_features(pd.concat([acts_1, acts_2], ignore_index=True),
                                    pd.concat([prof_1, prof_2], ignore_index=True), None)
    firsts = {1: DAY0, 2: DAY0 + dt.timedelta(days=40)}
    daily = fc.daily_features(features, firsts, DAY0, DAY0 + dt.timedelta(days=230))
    batch = fc.rolling_features(daily, None)
    keep = fc.FeatureParams().state_window_days
    assert keep == FITNESS_LOOKBACK_DAYS == 90  # the new 90-day windows did not widen the history read
    for split in (DAY0 + dt.timedelta(days=120), DAY0 + dt.timedelta(days=200)):  # athlete 2: 80 / 160 days in
        previous = batch[batch["as_of_date"] == split - dt.timedelta(days=1)]
        history = daily[(daily["date"] < split) & (daily["date"] >= split - dt.timedelta(days=keep))]
        states = fc.state_from_previous_rows(previous, history)
        rows = fc.rolling_features(daily[daily["date"] >= split], states)
        expected = batch[batch["as_of_date"] >= split].reset_index(drop=True)
        _assert_frames_close(rows.reset_index(drop=True), expected)
        assert expected["top3_vdot_90d"].notna().all() and expected["efficiency_factor_ratio"].notna().any()


def test_rolling_rows_for_day_d_use_only_days_up_to_d() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 160, seed=5)
    features = fc.activity_features(acts, profiles, None)
    daily = fc.daily_features(features, {1: DAY0}, DAY0, DAY0 + dt.timedelta(days=160))
    full = fc.rolling_features(daily, None)
    prefix = fc.rolling_features(daily.iloc[:100], None)
    _assert_frames_close(full.iloc[:100].reset_index(drop=True), prefix)


def test_two_athletes_do_not_contaminate_each_other() -> None:
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 120, seed=21)
    acts_2, prof_2 = synthetic_athlete(2, DAY0 + dt.timedelta(days=3), 117, seed=22)
    # make athlete 2 much faster and with a higher HR, so any leak would show
    acts_2["moving_time_s"] *= 0.6
    acts_2["pace_s_per_km"] *= 0.6
    acts_2["max_hr"] += 15
    end = DAY0 + dt.timedelta(days=120)
    together = all_tables(
        pd.concat([acts_2, acts_1], ignore_index=True), pd.concat([prof_2, prof_1], ignore_index=True), end
    )
    alone = all_tables(acts_1, prof_1, end)
    for name in ("activity", "daily", "weekly", "rolling"):
        mine = together[name][together[name]["athlete_id"] == 1].reset_index(drop=True)
        expected = alone[name].reset_index(drop=True)
        if name == "activity":
            mine = mine.sort_values("activity_id").reset_index(drop=True)
            expected = expected.sort_values("activity_id").reset_index(drop=True)
        _assert_frames_close(mine, expected)


def test_athlete_with_a_state_but_no_new_daily_rows_gets_no_rows() -> None:
    daily = pd.concat([daily_rows(1, [40.0] * 7), daily_rows(2, [70.0] * 5)], ignore_index=True)
    split = DAY0 + dt.timedelta(days=5)
    first = fc.rolling_features(daily[daily["date"] < split], None)
    states = fc.state_from_previous_rows(first[first["as_of_date"] == split - dt.timedelta(days=1)],
                                         daily[daily["date"] < split])
    assert set(states) == {1, 2}
    rows = fc.rolling_features(daily[daily["date"] >= split], states)  # athlete 2's days ended before split
    alone = fc.rolling_features(daily[daily["athlete_id"] == 1], None)
    _assert_frames_close(rows.reset_index(drop=True), alone.iloc[5:].reset_index(drop=True))
    assert rows["days_seen"].tolist() == [6, 7]


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
    _assert_frames_close(continued.reset_index(drop=True), rolling.iloc[50:].reset_index(drop=True))


# ------------------------------------------------------------------------------------------------
# Real data
# ------------------------------------------------------------------------------------------------

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
    _assert_frames_close(chained_rolling(parts), batch)
    weekly = fc.weekly_features(daily)
    assert weekly["load"].sum() == pytest.approx(daily["daily_load"].sum())
    assert weekly["monotony"].between(0, 10).all()
