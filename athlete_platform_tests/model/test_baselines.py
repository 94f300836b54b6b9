"""Riegel and VDOT baselines through the model's wrappers reproduce the reference vectors."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from athlete_platform.domain.race_baselines import vdot_race_time
from athlete_platform.features import compute
from athlete_platform.model import baselines
from athlete_platform.model.contract import FEATURE_COLUMNS


def hms(text: str) -> float:
    parts = [int(p) for p in text.split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return float(seconds)


def feature_rows(best_10k_s: list[float]) -> pd.DataFrame:
    """Feature rows whose only informative value is the 10K-equivalent best effort."""
    frame = pd.DataFrame({name: np.nan for name in FEATURE_COLUMNS}, index=range(len(best_10k_s)))
    frame["best_effort_10k_s"] = best_10k_s
    return frame


def test_riegel_reference_vector():
    # training-science.md: 10K in 40:00 → 5K 19:11, half 1:28:15, marathon 3:04:00
    rows = feature_rows([hms("40:00")])
    expected = {"5k": "19:11", "10k": "40:00", "21k": "1:28:15", "42k": "3:04:00"}
    for distance, text in expected.items():
        assert round(baselines.riegel_baseline(rows, distance)[0]) == hms(text), distance


@pytest.mark.parametrize(
    "vdot, expected",
    [
        (40, {"5k": "24:06", "10k": "50:01", "21k": "1:50:54", "42k": "3:49:37"}),
        (50, {"5k": "19:56", "10k": "41:20", "21k": "1:31:31", "42k": "3:10:40"}),
        (60, {"5k": "17:03", "10k": "35:22", "21k": "1:18:09", "42k": "2:43:22"}),
    ],
)
def test_vdot_reference_vectors(vdot, expected):
    # A best effort equal to the VDOT's own 10K time must give back the VDOT and its race times
    # (reference table computed from the Daniels-Gilbert equations, rounded to the second).
    rows = feature_rows([vdot_race_time(vdot, 10_000.0)])
    assert baselines.vdot_of_best_effort(rows)[0] == pytest.approx(vdot, abs=1e-6)
    for distance, text in expected.items():
        assert abs(baselines.vdot_baseline(rows, distance)[0] - hms(text)) <= 1.0, distance


def test_vdot_tables_within_runalyze_tolerance():
    # Daniels' printed tables (tolerance = km × 1.5 s as in Runalyze's tests) for VDOT 50
    rows = feature_rows([vdot_race_time(50, 10_000.0)])
    printed = {"5k": ("19:57", 5), "21k": ("1:31:35", 21.0975), "42k": ("3:10:49", 42.195)}
    for distance, (text, km) in printed.items():
        assert abs(baselines.vdot_baseline(rows, distance)[0] - hms(text)) <= max(km * 1.5, 1.0) + 0.5


def test_rows_without_effort_have_no_baseline_and_own_distance_is_used():
    rows = feature_rows([hms("40:00"), np.nan, hms("50:00")])
    riegel = baselines.baseline_for_rows(rows, ["5k", "10k", "42k"], "riegel")
    assert round(riegel[0]) == hms("19:11")
    assert np.isnan(riegel[1])
    assert riegel[2] == pytest.approx(hms("50:00") * (42_195 / 10_000) ** 1.06)
    vdot = baselines.baseline_for_rows(rows, ["5k", "10k", "42k"], "vdot")
    assert np.isnan(vdot[1]) and vdot[0] > riegel[0] * 0.95


def test_riegel_baseline_equals_the_rolling_best_effort_columns():
    """The rolling table's best_effort_{d}_s are Riegel projections of the same effort: the baseline from
    the 10K column reproduces every other column (one formula, no second implementation)."""
    day0 = dt.date(2024, 3, 4)
    daily = pd.DataFrame(
        {
            "athlete_id": 1,
            "date": [day0 + dt.timedelta(days=i) for i in range(10)],
            "daily_load": 50.0,
            "distance_km": 8.0,
            "moving_min": 40.0,
            "activity_count": 1,
            "run_count": 1,
            "longest_run_km": 8.0,
            "road_run_distance_km": 8.0,
            "road_run_moving_min": 40.0,
            "best_pace_s_per_km": 300.0,
            "best_effort_distance_m": [8_000.0, np.nan, 5_000.0, np.nan, 12_000.0, np.nan, np.nan, 21_100.0, np.nan, np.nan],
            "best_effort_time_s": [2_400.0, np.nan, 1_380.0, np.nan, 3_700.0, np.nan, np.nan, 6_900.0, np.nan, np.nan],
        }
    )
    rolling = compute.rolling_features(daily, None)
    for distance in ("5k", "21k", "42k"):
        np.testing.assert_allclose(
            baselines.riegel_baseline(rolling, distance), rolling[f"best_effort_{distance}_s"], rtol=1e-12
        )


# Positive efforts of many magnitudes (the last bits differ between them), plus every kind of "no effort":
# NaN, None, zero, negative, infinite and a non-numeric value.
REFERENCE_TIMES = [1_234.5678, 2_400.0, 2_401.000001, 3_599.999, 17.3, 1e-3, 9_876.54321, np.pi * 1_000,
                   np.nan, None, 0.0, -5.0, np.inf, -np.inf, "n/a"]


@pytest.mark.parametrize("reference", ["5k", "10k", "21k", "42k"])
@pytest.mark.parametrize("distance", ["5k", "10k", "21k", "42k"])
def test_riegel_baseline_of_a_column_equals_riegel_time_row_by_row_exactly(reference, distance):
    """The column is projected in one call; each row must be the scalar formula's float, NaN without an effort
    (predictions and the training set's baselines must not move by a bit)."""
    from athlete_platform.domain.running import riegel_time
    from athlete_platform.model.contract import DISTANCES_M

    rows = pd.DataFrame({name: np.nan for name in FEATURE_COLUMNS}, index=range(len(REFERENCE_TIMES)))
    rows[f"best_effort_{reference}_s"] = pd.Series(REFERENCE_TIMES, dtype=object)
    expected = [riegel_time(t, DISTANCES_M[reference], DISTANCES_M[distance]) for t in REFERENCE_TIMES[:8]]
    got = baselines.riegel_baseline(rows, distance, reference)
    np.testing.assert_array_equal(got[:8], expected)
    assert np.isnan(got[8:]).all()
    assert baselines.riegel_baseline(rows.iloc[:0], distance, reference).shape == (0,)
