"""HR zones, HR profiles and HRmax resolution: hand-computed values and real Strava payloads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from athlete_platform.domain import hr_zones as hz
from athlete_platform_tests.support.paths import REALDATA



# ------------------------------------------------------------------------------------------------
# Zones
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hr", "zone"),
    [
        (80.0, 1),  # 40 %: below Z1's lower bound still counts toward Z1
        (100.0, 1),  # 50 %
        (119.9, 1),
        (120.0, 2),  # 60 % exactly: lo ≤ hr, so the upper zone
        (139.0, 2),
        (140.0, 3),
        (160.0, 4),
        (179.9, 4),
        (180.0, 5),
        (200.0, 5),
        (230.0, 5),  # top zone open-ended
    ],
)
def test_zone_index_boundaries_at_hrmax_200(hr: float, zone: int) -> None:
    assert hz.zone_index(hr, 200.0) + 1 == zone


def test_zone_boundary_does_not_depend_on_float_rounding() -> None:
    # 171 / 190 is exactly 90 %; 0.9 × 190 in floats is 171.00000000000003
    assert hz.zone_index(171.0, 190.0) == 4
    assert hz.zone_index(170.99, 190.0) == 3
    assert hz.zone_index(133.0, 190.0) == 2  # 70 %


def test_time_in_zones_and_percentages_hand_computed() -> None:
    # HRmax 200: 90 bpm (45 %) 60 s → Z1, 110 bpm 120 s → Z1, 130 bpm 300 s → Z2,
    # 150 bpm 240 s → Z3, 170 bpm 180 s → Z4, 185 bpm 100 s → Z5, 195 bpm 0 s (no weight)
    hr = [90, 110, 130, 150, 170, 185, 195]
    seconds = [60, 120, 300, 240, 180, 100, 0]
    np.testing.assert_array_equal(hz.time_in_zones(hr, seconds, 200.0), [180.0, 300.0, 240.0, 180.0, 100.0])
    percentages = hz.zone_percentages(hr, seconds, 200.0)
    assert percentages is not None
    np.testing.assert_allclose(percentages, np.array([180, 300, 240, 180, 100]) / 1000 * 100)
    assert percentages.sum() == pytest.approx(100.0)


def test_zone_percentages_undefined_without_hrmax_or_time() -> None:
    assert hz.zone_percentages([150.0], [60.0], None) is None
    assert hz.zone_percentages([150.0], [60.0], float("nan")) is None
    assert hz.zone_percentages([150.0], [0.0], 190.0) is None
    assert hz.zone_percentages([], [], 190.0) is None


def test_zone_seconds_grouped_equals_per_activity_computation() -> None:
    rng = np.random.default_rng(1)
    hr = rng.uniform(70, 200, 500)
    seconds = rng.uniform(0.5, 5, 500)
    group = rng.integers(0, 4, 500)
    hrmax_by_group = np.array([180.0, 190.0, 200.0, 175.0])
    grouped = hz.zone_seconds_grouped(hr, seconds, hrmax_by_group[group], group, 5)
    for g in range(4):
        np.testing.assert_allclose(grouped[g], hz.time_in_zones(hr[group == g], seconds[group == g], hrmax_by_group[g]))
    np.testing.assert_array_equal(grouped[4], np.zeros(5))  # a group without samples


# ------------------------------------------------------------------------------------------------
# Profiles
# ------------------------------------------------------------------------------------------------


def test_profile_from_stream_weights_each_sample_by_the_time_it_covers() -> None:
    time_s = [0, 1, 2, 4, 10, 100, 101]
    heartrate = [120, 120, 130, np.nan, 140, 150, 150]
    profile = hz.profile_from_stream(time_s, heartrate)
    # intervals 1,1,2,6,90,1 + last sample → typical (median 1.5 s); 90 s > max(30, 3×1.5) is a pause
    # → covers 1.5 s; NaN sample dropped with its 6 s.
    np.testing.assert_array_equal(profile.hr_bpm, [120.0, 130.0, 140.0, 150.0])
    np.testing.assert_allclose(profile.seconds, [2.0, 2.0, 1.5, 1.0 + 1.5])
    assert profile.mean_hr() == pytest.approx((120 * 2 + 130 * 2 + 140 * 1.5 + 150 * 2.5) / 8.0)


def test_profile_from_stream_sorts_and_handles_duplicates_and_missing_time() -> None:
    profile = hz.profile_from_stream([2, 0, 1, 1], [140, 120, 130, 135])
    # sorted: (0,120) (1,130) (1,135) (2,140): 130 covers 0 s (duplicate time), last sample 1 s
    np.testing.assert_array_equal(profile.hr_bpm, [120.0, 135.0, 140.0])
    np.testing.assert_array_equal(profile.seconds, [1.0, 1.0, 1.0])
    no_time = hz.profile_from_stream(None, [120, 120, 150])
    np.testing.assert_array_equal(no_time.seconds, [2.0, 1.0])
    with pytest.raises(ValueError):
        hz.profile_from_stream([0, 1], [120])


def test_down_sampled_stream_keeps_its_real_intervals() -> None:
    profile = hz.profile_from_stream([0, 60, 120, 180], [120, 130, 140, 150])
    np.testing.assert_array_equal(profile.seconds, [60.0, 60.0, 60.0, 60.0])


def test_profile_from_splits_weights_by_moving_time() -> None:
    profile = hz.profile_from_splits([150, 160, 150, np.nan], [300, 290, 310, 200])
    np.testing.assert_array_equal(profile.hr_bpm, [150.0, 160.0])
    np.testing.assert_array_equal(profile.seconds, [610.0, 290.0])
    assert profile.total_seconds == 900.0


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_real_race_splits_give_zones_summing_to_100() -> None:
    race = json.loads((REALDATA / "deroffal_detailed_race_7826768400.json").read_text())
    splits = race["splits_metric"]
    profile = hz.profile_from_splits(
        [s.get("average_heartrate", np.nan) for s in splits], [s["moving_time"] for s in splits]
    )
    assert profile.total_seconds == pytest.approx(sum(s["moving_time"] for s in splits if "average_heartrate" in s))
    percentages = hz.zone_percentages(profile.hr_bpm, profile.seconds, float(race["max_heartrate"]))
    assert percentages is not None
    assert percentages.sum() == pytest.approx(100.0)
    # a race averaging ~173 bpm at max 185 (93.5 %) spends most split time in Z5
    assert percentages[4] > 50.0
    assert profile.mean_hr() == pytest.approx(race["average_heartrate"], abs=3.0)


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_real_stream_without_time_stream() -> None:
    streams = {s["type"]: s for s in json.loads((REALDATA / "endani_streams_trailrun_9247175034.json").read_text())}
    heartrate = streams["heartrate"]["data"]
    profile = hz.profile_from_stream(None, heartrate)
    assert profile.total_seconds == len([h for h in heartrate if h and h > 0])
    percentages = hz.zone_percentages(profile.hr_bpm, profile.seconds, 190.0)
    assert percentages is not None and percentages.sum() == pytest.approx(100.0)


# ------------------------------------------------------------------------------------------------
# HRmax
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maxima", "expected"),
    [
        ([180, 185, 250], 185.0),  # > 220 is a spike
        ([180, 183, 205], 183.0),  # 205 is 22 bpm above the next: single outlier
        ([180, 188, 196], 196.0),  # steps within tolerance are real
        ([176, 180, 201, 215], 180.0),  # 215 then 201 dropped in turn
        ([190], 190.0),  # nothing contradicts a lone value
        ([np.nan, 0, -5], None),
        ([], None),
    ],
)
def test_plausible_max_hr_spike_filter(maxima: list[float], expected: float | None) -> None:
    assert hz.plausible_max_hr(maxima) == expected


def test_plausible_max_hr_before_is_strictly_before() -> None:
    times = np.array([5, 1, 3, 3, 7, 9])
    maxima = np.array([200.0, 180.0, 184.0, 186.0, 240.0, np.nan])
    result = hz.plausible_max_hr_before(times, maxima)
    # t=1: nothing before; t=3 (two activities): only t=1; t=5: {180,184,186}; t=7: + 200 (14 above
    # 186 → outlier) → 186; t=9: 240 is implausible → still 186
    np.testing.assert_array_equal(result, [186.0, np.nan, 180.0, 180.0, 186.0, 186.0])


def test_resolve_hrmax_chain() -> None:
    assert hz.resolve_hrmax(195.0, 188.0, 40) == 195.0
    assert hz.resolve_hrmax(None, 188.0, 40) == 188.0
    assert hz.resolve_hrmax(None, float("nan"), 40) == 180.0
    assert hz.resolve_hrmax(None, None, None) is None


def test_small_histograms_summed_in_python_equal_numpys_exactly():
    """The per-split fast path gives the same values and the same float sums, bit for bit, as the array path."""
    from athlete_platform.domain.hr_zones import _histogram_in_python, _histogram_with_numpy

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(0, 40))
        hr = rng.choice([np.nan, -5.0, 0.0, 120.0, 135.5, 150.0, 171.0, 188.25], size=n)  # repeats on purpose
        seconds = rng.choice([np.nan, 0.0, -1.0, 0.1, 1.0 / 3.0, 59.7, 600.0, 1e-9], size=n)
        fast, reference = _histogram_in_python(hr, seconds), _histogram_with_numpy(hr, seconds)
        assert fast.hr_bpm.dtype == fast.seconds.dtype == np.float64  # (numpy's empty bincount is int64)
        np.testing.assert_array_equal(fast.hr_bpm, reference.hr_bpm)
        np.testing.assert_array_equal(fast.seconds, reference.seconds)
