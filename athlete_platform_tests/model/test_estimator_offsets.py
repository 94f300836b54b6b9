"""The estimator's column-at-once Riegel offsets are the per-row baseline, bit for bit: predictions made with
it (inference, training) do not change."""

import numpy as np
import pandas as pd
import pytest

from athlete_platform.model import baselines
from athlete_platform.model.contract import DISTANCES_M, FEATURE_COLUMNS
from athlete_platform.model.estimator import EstimatorParams, offset_times, riegel_offsets


def feature_rows(column: str, values: list) -> pd.DataFrame:
    frame = pd.DataFrame({name: np.nan for name in FEATURE_COLUMNS}, index=range(len(values)))
    frame[column] = values
    return frame


# Positive efforts of many magnitudes (the last bits differ between them), plus every kind of "no effort":
# NaN, None, zero, negative, infinite and a non-numeric value.
REFERENCE_TIMES = [1_234.5678, 2_400.0, 2_401.000001, 3_599.999, 17.3, 1e-3, 9_876.54321, np.pi * 1_000,
                   np.nan, None, 0.0, -5.0, np.inf, -np.inf, "n/a"]


@pytest.mark.parametrize("reference", sorted(DISTANCES_M))
@pytest.mark.parametrize("distance", sorted(DISTANCES_M))
def test_riegel_offsets_equal_the_per_row_baseline_exactly(reference, distance):
    rows = feature_rows(f"best_effort_{reference}_s", REFERENCE_TIMES)
    expected = baselines.riegel_baseline(rows, distance, reference)
    got = riegel_offsets(rows, distance, reference)
    np.testing.assert_array_equal(got, expected)  # exact, NaN where the baseline has none
    assert np.isnan(got[8:]).all() and np.isfinite(got[:8]).all()


def test_offset_times_fall_back_where_the_riegel_baseline_is_missing():
    rows = feature_rows("best_effort_10k_s", REFERENCE_TIMES)
    fallback = {"5k": 1_500.0, "10k": 3_100.0, "21k": 6_900.0, "42k": 14_500.0}
    offsets, missing = offset_times(rows, "21k", EstimatorParams(offset="riegel"), fallback)
    expected = baselines.riegel_baseline(rows, "21k")
    np.testing.assert_array_equal(missing, ~np.isfinite(expected))
    np.testing.assert_array_equal(offsets, np.where(missing, 6_900.0, expected))


def test_an_empty_frame_has_no_offsets():
    rows = feature_rows("best_effort_10k_s", [])
    assert riegel_offsets(rows, "5k", "10k").shape == (0,)
