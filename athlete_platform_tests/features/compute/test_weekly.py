"""``compute.weekly_features``: Monday weeks, monotony and strain, row order, declared inputs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from athlete_platform.domain import training_load as tl
from athlete_platform.features import compute as fc
from athlete_platform_tests.features.compute.builders import (
    DAY0,
    all_tables,
    daily_rows,
    synthetic_athlete,
)


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


def test_weekly_week_start_is_monday_for_mid_week_start() -> None:
    daily = daily_rows(1, [10.0, 0.0, 20.0], first_day=dt.date(2024, 3, 7))  # a Thursday
    weekly = fc.weekly_features(daily)
    assert list(weekly["week_start"]) == [dt.date(2024, 3, 4)]
    assert weekly.loc[0, "days_covered"] == 3 and weekly.loc[0, "rest_days"] == 1
