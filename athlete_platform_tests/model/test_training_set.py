"""Point-in-time join (strictly earlier feature row), the leakage check, and the weekly training_set asset."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import TRAINING_SET
from athlete_platform.features.assets import athlete_rolling_features
from athlete_platform.labels.assets import race_results
from athlete_platform.model.assets import ALL_DAYS_BEFORE_WEEK, training_set
from athlete_platform.model.contract import FEATURE_COLUMNS
from athlete_platform.model.leakage import (
    LEAK_FEATURES_DIFFER,
    LEAK_NO_FEATURE_ROW,
    LEAK_NOT_BEFORE_RACE,
    find_leaks,
)
from athlete_platform.model.training_set import point_in_time_join
from athlete_platform.partitions import FIRST_DAY, daily_partitions, weekly_partitions
from athlete_platform_tests.model.helpers import model_resources, simulated_tables, upstream_spec, write_upstream
from athlete_platform_tests.support.runs import check_results

RACE_DAY = dt.date(2024, 5, 12)


def rolling_rows(athlete_id: int, days: list[dt.date]) -> pd.DataFrame:
    """Rolling rows whose every feature encodes the row's day (so a wrong row is visible in any column)."""
    frame = pd.DataFrame({"athlete_id": athlete_id, "as_of_date": days})
    for position, name in enumerate(FEATURE_COLUMNS):
        frame[name] = [athlete_id * 1e6 + d.toordinal() + position / 100 for d in days]
    frame["best_pace_30d"] = np.where(frame["as_of_date"] == days[0], np.nan, frame["best_pace_30d"])  # a NaN too
    return frame


def race(athlete_id: int, activity_id: int, day: dt.date, bucket: str = "10k", time_s: float = 2700.0) -> dict:
    return {
        "athlete_id": athlete_id, "activity_id": activity_id, "race_date": day, "distance_bucket": bucket,
        "distance_m": 10_050.0, "official_time_s": time_s, "detection_reason": "workout_type",
    }


def days_around(day: dt.date, before: int, after: int) -> list[dt.date]:
    return [day + dt.timedelta(days=offset) for offset in range(-before, after + 1)]


# -- the join ---------------------------------------------------------------------------------------


def test_asof_uses_the_strictly_earlier_row_not_the_race_day():
    rolling = rolling_rows(1, days_around(RACE_DAY, 3, 2))  # rows exist for the race day and after it
    join = point_in_time_join(pd.DataFrame([race(1, 10, RACE_DAY)]), rolling)
    row = join.rows.iloc[0]
    day_before = RACE_DAY - dt.timedelta(days=1)
    assert row["as_of_date"] == day_before
    assert row["feature_age_days"] == 1
    source = rolling[rolling["as_of_date"] == day_before].iloc[0]
    for name in FEATURE_COLUMNS:
        assert row[name] == source[name], name
    assert join.unmatched.empty


def test_gap_in_feature_rows_takes_the_latest_earlier_row():
    rolling = rolling_rows(1, [RACE_DAY - dt.timedelta(days=10), RACE_DAY, RACE_DAY + dt.timedelta(days=1)])
    row = point_in_time_join(pd.DataFrame([race(1, 10, RACE_DAY)]), rolling).rows.iloc[0]
    assert row["as_of_date"] == RACE_DAY - dt.timedelta(days=10)
    assert row["feature_age_days"] == 10


def test_athletes_do_not_mix_and_races_without_earlier_rows_are_reported():
    rolling = pd.concat([rolling_rows(1, days_around(RACE_DAY, 5, 5)), rolling_rows(2, days_around(RACE_DAY, 0, 5))])
    races = pd.DataFrame(
        [
            race(1, 10, RACE_DAY),
            race(2, 20, RACE_DAY),  # athlete 2's first feature row is the race day itself: nothing earlier
            race(2, 21, RACE_DAY + dt.timedelta(days=3), "5k", 1300.0),
            race(3, 30, RACE_DAY),  # no feature rows at all
        ]
    )
    join = point_in_time_join(races, rolling)
    assert len(join.rows) + len(join.unmatched) == len(races)
    assert sorted(join.unmatched["activity_id"]) == [20, 30]
    by_id = join.rows.set_index("activity_id")
    assert by_id.loc[21, "as_of_date"] == RACE_DAY + dt.timedelta(days=2)
    assert by_id.loc[21, "ctl"] == rolling_rows(2, [RACE_DAY + dt.timedelta(days=2)])["ctl"].iloc[0]
    assert by_id.loc[10, "ctl"] == rolling_rows(1, [RACE_DAY - dt.timedelta(days=1)])["ctl"].iloc[0]
    assert find_leaks(join.rows, rolling).passed


# -- the leakage check ------------------------------------------------------------------------------


@pytest.fixture()
def clean_rows():
    rolling = pd.concat([rolling_rows(1, days_around(RACE_DAY, 30, 30)), rolling_rows(2, days_around(RACE_DAY, 30, 30))])
    races = pd.DataFrame([race(1, 10, RACE_DAY), race(1, 11, RACE_DAY + dt.timedelta(days=14)), race(2, 20, RACE_DAY)])
    rows = point_in_time_join(races, rolling).rows
    assert find_leaks(rows, rolling).passed
    return rows, rolling


def test_planted_future_feature_is_caught(clean_rows):
    rows, rolling = clean_rows
    leaked = rows.copy()
    # best_effort_10k_s recomputed from the athlete's row a week *after* the race (it knows the race result)
    future = rolling[(rolling["athlete_id"] == 1) & (rolling["as_of_date"] == RACE_DAY + dt.timedelta(days=7))]
    leaked.loc[leaked["activity_id"] == 10, "best_effort_10k_s"] = future["best_effort_10k_s"].iloc[0]
    report = find_leaks(leaked, rolling)
    assert not report.passed
    assert report.leaks["activity_id"].tolist() == [10]
    assert report.leaks["reason"].tolist() == [LEAK_FEATURES_DIFFER]
    assert report.leaks["columns"].tolist() == ["best_effort_10k_s"]


def test_race_day_row_and_missing_rows_are_caught(clean_rows):
    rows, rolling = clean_rows
    same_day = rows.copy()
    # the whole feature row of the race day: consistent with the table, but not *before* the race
    day_row = rolling[(rolling["athlete_id"] == 2) & (rolling["as_of_date"] == RACE_DAY)].iloc[0]
    target = same_day["activity_id"] == 20
    same_day.loc[target, "as_of_date"] = RACE_DAY
    for name in FEATURE_COLUMNS:
        same_day.loc[target, name] = day_row[name]
    missing = rows.copy()
    missing.loc[missing["activity_id"] == 11, "as_of_date"] = RACE_DAY - dt.timedelta(days=400)
    report = find_leaks(pd.concat([same_day[target], missing[missing["activity_id"] == 11]]), rolling)
    assert dict(zip(report.leaks["activity_id"], report.leaks["reason"])) == {
        20: LEAK_NOT_BEFORE_RACE,
        11: LEAK_NO_FEATURE_ROW,
    }


def test_an_exact_date_join_is_a_leak_the_check_reports(clean_rows):
    """The tempting equality join (features of the race day) is exactly what the check exists for."""
    rows, rolling = clean_rows
    races = rows.loc[:, ["athlete_id", "activity_id", "race_date"]]
    naive = races.merge(rolling, left_on=["athlete_id", "race_date"], right_on=["athlete_id", "as_of_date"])
    report = find_leaks(naive, rolling)
    assert len(report.leaks) == len(rows)
    assert set(report.leaks["reason"]) == {LEAK_NOT_BEFORE_RACE}


# -- partition mapping and the asset ----------------------------------------------------------------


def test_weekly_to_daily_mapping_loads_all_days_before_the_week():
    """Measured, not assumed: offsets count weekly partitions; the start clamps at the first daily partition."""
    week = weekly_partitions.empty_subset().with_partition_keys(["2024-10-07"])
    result = ALL_DAYS_BEFORE_WEEK.get_upstream_mapped_partitions_result_for_partitions(
        week, weekly_partitions, daily_partitions
    )
    keys = list(result.partitions_subset.get_partition_keys())
    assert keys[0] == daily_partitions.get_first_partition_key() == FIRST_DAY.isoformat()
    assert keys[-1] == "2024-10-06"  # the Sunday before the week: nothing of the week itself
    assert len(keys) == (dt.date(2024, 10, 7) - FIRST_DAY).days
    assert result.required_but_nonexistent_subset.is_empty


WEEK = "2024-07-01"


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    root = tmp_path_factory.mktemp("training_set")
    tables = simulated_tables(dt.date(2024, 8, 1))
    write_upstream(root / "delta", tables)
    result = materialize(
        [upstream_spec(race_results), upstream_spec(athlete_rolling_features), training_set],
        partition_key=WEEK, resources=model_resources(root), instance=DagsterInstance.ephemeral(),
    )
    stored = DeltaTable(str(root.joinpath("delta", *TRAINING_SET.path))).to_pandas()
    return tables, result, stored


def test_training_set_asset_is_point_in_time_and_checked(materialized):
    tables, result, stored = materialized
    week_start = dt.date.fromisoformat(WEEK)
    checks = check_results(result)
    assert checks["no_future_features"].passed
    assert checks["races_without_features"].passed
    assert (stored["training_week"] == week_start).all()
    assert (pd.to_datetime(stored["race_date"]).dt.date < week_start).all()
    assert (pd.to_datetime(stored["as_of_date"]) < pd.to_datetime(stored["race_date"])).all()
    expected = point_in_time_join(
        tables.races[pd.to_datetime(tables.races["race_date"]).dt.date < week_start], tables.rolling
    ).rows
    assert len(stored) == len(expected) > 100
    assert set(stored["activity_id"]) == set(expected["activity_id"])
    # history really is all of it: races from the first simulated weeks are in
    assert pd.to_datetime(stored["race_date"]).min() < pd.Timestamp("2023-03-01")
    assert find_leaks(stored, tables.rolling).passed
    metadata = result.asset_materializations_for_node("model__training_set")[0].metadata
    assert metadata["rows"].value == len(stored)
