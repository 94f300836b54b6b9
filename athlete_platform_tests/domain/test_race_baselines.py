"""Race-time baselines against every test vector of the training-science reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from athlete_platform.domain.race_baselines import (
    cameron_time,
    format_duration,
    oxygen_cost,
    sustainable_vo2max_fraction,
    vdot_from_performance,
    vdot_from_performances,
    vdot_race_time,
    vdot_threshold_velocity,
    velocity_for_oxygen_cost,
)
from athlete_platform.domain.running import STANDARD_DISTANCES_M, riegel_time

HALF_M = STANDARD_DISTANCES_M["21k"]
MARATHON_M = STANDARD_DISTANCES_M["42k"]


def hms(text: str) -> int:
    """'1:28:15' or '19:11' → seconds."""
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def test_standard_distances_are_the_reference_ones() -> None:
    assert STANDARD_DISTANCES_M == {"5k": 5000.0, "10k": 10000.0, "21k": 21097.5, "42k": 42195.0}


@pytest.mark.parametrize(("distance_m", "expected"), [(5000.0, "19:11"), (HALF_M, "1:28:15"), (MARATHON_M, "3:04:00")])
def test_riegel_from_a_40_minute_10k(distance_m: float, expected: str) -> None:
    assert format_duration(riegel_time(hms("40:00"), 10000.0, distance_m)) == expected


def test_riegel_exponent_is_configurable_and_identity_at_same_distance() -> None:
    assert riegel_time(2400.0, 10000.0, 10000.0) == pytest.approx(2400.0)
    assert riegel_time(2400.0, 10000.0, 20000.0, exponent=1.0) == pytest.approx(4800.0)
    assert riegel_time(2400.0, 10000.0, 20000.0, exponent=1.1) > riegel_time(2400.0, 10000.0, 20000.0)


@pytest.mark.parametrize(("distance_m", "expected"), [(10000.0, "34:26"), (HALF_M, "1:15:56"), (MARATHON_M, "2:41:22")])
def test_cameron_from_a_16_32_5k_within_one_second(distance_m: float, expected: str) -> None:
    predicted = cameron_time(hms("16:32"), 5000.0, distance_m)
    assert abs(predicted - hms(expected)) <= 1.0


def test_cameron_round_trip_is_consistent() -> None:
    marathon = cameron_time(hms("16:32"), 5000.0, MARATHON_M)
    assert cameron_time(marathon, MARATHON_M, 5000.0) == pytest.approx(hms("16:32"))


RAW_EQUATION_TABLE = {
    40: ("24:06", "50:01", "1:50:54", "3:49:37"),
    50: ("19:56", "41:20", "1:31:31", "3:10:40"),
    60: ("17:03", "35:22", "1:18:09", "2:43:22"),
}
DANIELS_PRINTED_TABLE = {
    40: ("24:08", "50:03", "1:50:59", "3:49:45"),
    50: ("19:57", "41:21", "1:31:35", "3:10:49"),
    60: ("17:03", "35:22", "1:18:09", "2:43:25"),
}
DISTANCES = tuple(STANDARD_DISTANCES_M.values())


@pytest.mark.parametrize("vdot", sorted(RAW_EQUATION_TABLE))
def test_vdot_race_times_match_the_raw_equations_to_the_second(vdot: int) -> None:
    predicted = tuple(format_duration(vdot_race_time(vdot, distance)) for distance in DISTANCES)
    assert predicted == RAW_EQUATION_TABLE[vdot]


@pytest.mark.parametrize("vdot", sorted(DANIELS_PRINTED_TABLE))
def test_vdot_race_times_match_daniels_printed_tables_within_tolerance(vdot: int) -> None:
    for distance, printed in zip(DISTANCES, DANIELS_PRINTED_TABLE[vdot]):
        tolerance_s = distance / 1000.0 * 1.5  # Runalyze's tolerance: distance in km x 1.5 s
        assert abs(vdot_race_time(vdot, distance) - hms(printed)) <= tolerance_s, (vdot, distance)


@pytest.mark.parametrize("vdot", [30.0, 42.5, 65.0, 80.0])
@pytest.mark.parametrize("distance_m", DISTANCES)
def test_vdot_from_performance_inverts_vdot_race_time(vdot: float, distance_m: float) -> None:
    assert vdot_from_performance(distance_m, vdot_race_time(vdot, distance_m)) == pytest.approx(vdot, rel=1e-9)


def test_vdot_of_a_known_performance() -> None:
    # 10K in 41:20 is the VDOT-50 raw-equation time, so it must recompute to ~50.
    assert vdot_from_performance(10000.0, hms("41:20")) == pytest.approx(50.0, abs=0.02)
    assert vdot_from_performance(10000.0, hms("40:00")) > vdot_from_performance(10000.0, hms("41:00"))


def test_vectorised_vdot_matches_the_scalar_equations() -> None:
    rng = np.random.default_rng(4)
    distances = rng.uniform(800.0, 50_000.0, 500)
    times = distances / 1000.0 * rng.uniform(150.0, 900.0, 500)  # every plausible pace, 2:30-15:00 /km
    expected = [vdot_from_performance(d, t) for d, t in zip(distances.tolist(), times.tolist())]
    np.testing.assert_allclose(vdot_from_performances(distances, times), expected, rtol=1e-12, atol=0)
    # by hand: v = 250 m/min, VO2 = -4.60 + 0.182258*250 + 0.000104*250^2 = 47.4645;
    # %max(40 min) = 0.8 + 0.1894393*e^-0.51112 + 0.2989558*e^-7.73042 = 0.91376 -> 51.94
    assert vdot_from_performances(np.array([10_000.0]), np.array([2_400.0]))[0] == pytest.approx(51.944, abs=5e-4)


def test_vectorised_vdot_is_nan_where_the_scalar_would_refuse() -> None:
    distances = np.array([5_000.0, 0.0, -1.0, np.nan, 5_000.0, 5_000.0, np.inf])
    times = np.array([1_200.0, 1_200.0, 1_200.0, 1_200.0, 0.0, np.nan, 1_200.0])
    out = vdot_from_performances(distances, times)
    assert out[0] == pytest.approx(vdot_from_performance(5_000.0, 1_200.0))
    assert np.isnan(out[1:]).all()


def test_oxygen_cost_and_its_inverse() -> None:
    for velocity in (120.0, 200.0, 268.0, 400.0):
        assert velocity_for_oxygen_cost(oxygen_cost(velocity)) == pytest.approx(velocity)
    assert oxygen_cost(200.0) == pytest.approx(-4.60 + 0.182258 * 200 + 0.000104 * 200**2)


def test_sustainable_fraction_decreases_with_duration() -> None:
    assert sustainable_vo2max_fraction(10.0) > sustainable_vo2max_fraction(60.0) > sustainable_vo2max_fraction(240.0)
    assert sustainable_vo2max_fraction(1e6) == pytest.approx(0.8)


def test_threshold_velocity_is_the_60_minute_race_pace() -> None:
    speed = vdot_threshold_velocity(50.0)
    assert vdot_race_time(50.0, speed * 3600.0) == pytest.approx(3600.0, rel=1e-6)
    assert 4.0 < 1000.0 / speed / 60.0 < 4.5  # Daniels T pace for VDOT 50 is ~4:15/km


@pytest.mark.parametrize(
    "call",
    [
        lambda: riegel_time(0.0, 10000.0, 5000.0),
        lambda: cameron_time(1000.0, -5000.0, 10000.0),
        lambda: vdot_from_performance(5000.0, 0.0),
        lambda: vdot_race_time(-3.0, 5000.0),
        lambda: vdot_race_time(50.0, math.nan),
    ],
)
def test_nonsense_inputs_are_rejected(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()


def test_format_duration() -> None:
    assert format_duration(1151.4) == "19:11"
    assert format_duration(11040.5) == "3:04:00"
