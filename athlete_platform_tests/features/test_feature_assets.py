"""The four feature assets on real Spark and Delta: incremental partitions == one range run == pure batch."""

import datetime as dt

import pandas as pd
import pytest
from deltalake import DeltaTable

from athlete_platform.features import compute
from athlete_platform.features.assets import athlete_rolling_features, athlete_weekly_features
from athlete_platform_tests.support.daily_graph import DAILY_GRAPH, FIRST, LAST, two_athletes
from athlete_platform_tests.support.runs import check_results, local_test_resources, materialize_window
from athlete_platform_tests.support.static_source import StaticSource

pytestmark = pytest.mark.spark


def table(root, name) -> pd.DataFrame:
    return DeltaTable(str(root / "features" / name)).to_pandas()


def sorted_rolling(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(as_of_date=pd.to_datetime(frame["as_of_date"]).dt.date)
    return frame.sort_values(["athlete_id", "as_of_date"]).reset_index(drop=True)[list(compute.ROLLING_FEATURE_COLUMNS)]


@pytest.fixture(scope="module")
def range_and_incremental(tmp_path_factory, spark_resource):
    records = two_athletes()
    range_root = tmp_path_factory.mktemp("range")
    resources = local_test_resources(range_root, spark_resource, activity_source=StaticSource(records=records))
    range_result = materialize_window(DAILY_GRAPH, resources, FIRST.isoformat(), LAST.isoformat())

    incremental_root = tmp_path_factory.mktemp("incremental")
    resources = local_test_resources(incremental_root, spark_resource, activity_source=StaticSource(records=records))
    split = dt.date(2025, 2, 16)
    materialize_window(DAILY_GRAPH, resources, FIRST.isoformat(), (split - dt.timedelta(days=1)).isoformat())
    day = split
    while day <= LAST:  # the last days one partition at a time, as the daily schedule does
        materialize_window(DAILY_GRAPH, resources, day.isoformat())
        day += dt.timedelta(days=1)
    return records, range_root, incremental_root, range_result


def test_daily_partitions_equal_one_range_run(range_and_incremental):
    _, range_root, incremental_root, _ = range_and_incremental
    ranged = sorted_rolling(table(range_root, "athlete_rolling_features"))
    incremental = sorted_rolling(table(incremental_root, "athlete_rolling_features"))
    pd.testing.assert_frame_equal(ranged, incremental, check_exact=False, rtol=1e-12, atol=1e-9)


def test_assets_equal_pure_from_scratch_computation(range_and_incremental):
    _, range_root, _, _ = range_and_incremental
    silver = DeltaTable(str(range_root / "silver" / "activities")).to_pandas()
    activity = compute.activity_features(silver, None, None)
    daily = compute.daily_features(activity, {}, FIRST, LAST + dt.timedelta(days=1))
    expected = compute.rolling_features(daily, None)
    actual = sorted_rolling(table(range_root, "athlete_rolling_features"))
    pd.testing.assert_frame_equal(actual, sorted_rolling(expected), check_exact=False, rtol=1e-12, atol=1e-9)
    # the daily fitness markers reach Delta and come back as the pure function computes them
    stored = table(range_root, "athlete_daily_features")
    stored = stored.assign(date=pd.to_datetime(stored["date"]).dt.date).sort_values(["athlete_id", "date"])
    stored = stored.reset_index(drop=True)[list(compute.DAILY_FEATURE_COLUMNS)]
    pd.testing.assert_frame_equal(stored, daily.reset_index(drop=True), check_exact=False, rtol=1e-12, atol=1e-9)
    for column in ("best_vdot_30d", "median_vdot_30d", "top3_vdot_90d", "efficiency_factor_ratio"):
        assert actual[column].notna().any(), column  # compared values, not only nulls


def test_rest_days_have_rows_with_zero_load_and_athletes_do_not_mix(range_and_incremental):
    records, range_root, _, _ = range_and_incremental
    daily = table(range_root, "athlete_daily_features")
    daily["date"] = pd.to_datetime(daily["date"]).dt.date
    athlete_2 = daily[daily["athlete_id"] == 2]
    first_run_2 = min(dt.date.fromisoformat(r["activity_date"]) for r in records if r["athlete_id"] == 2)
    assert athlete_2["date"].min() == first_run_2
    assert len(athlete_2) == (LAST - first_run_2).days + 1  # every calendar day from the first activity
    run_days_2 = {dt.date.fromisoformat(r["activity_date"]) for r in records if r["athlete_id"] == 2}
    rest = athlete_2[~athlete_2["date"].isin(run_days_2)]
    assert len(rest) > 0 and (rest["daily_load"] == 0).all() and (rest["activity_count"] == 0).all()
    # athlete 2's rolling load is built from its own days only
    rolling = table(range_root, "athlete_rolling_features")
    day_one_2 = rolling[(rolling["athlete_id"] == 2)].sort_values("as_of_date").iloc[0]
    first_load = athlete_2.sort_values("date")["daily_load"].iloc[0]
    assert day_one_2["ctl"] == pytest.approx(first_load / 42.0)


def test_feature_checks_pass_and_are_reported(range_and_incremental):
    *_, range_result = range_and_incremental
    checks = check_results(range_result)
    for name in ["hr_zones_sum_to_100_or_null", "training_load_non_negative", "no_missing_calendar_days",
                 "pmc_and_acwr_non_null", "row_for_every_recently_active_athlete"]:
        assert checks[name].passed, name


def test_steps_leave_nothing_cached_in_spark(range_and_incremental, spark_resource):
    # silver caches its rows while it checks and writes them, then drops them (the feature steps cache nothing:
    # their checks read the stored rows): a long-lived process would otherwise keep every step's rows in the heap.
    persistent = spark_resource.get_session().sparkContext._jsc.getPersistentRDDs()
    assert persistent.size() == 0


def test_weekly_features_from_daily_partitions(range_and_incremental, spark_resource):
    _, range_root, _, _ = range_and_incremental
    resources = local_test_resources(range_root, spark_resource, activity_source=StaticSource(records=[]))
    materialize_window(DAILY_GRAPH + [athlete_weekly_features], resources, "2025-02-03", "2025-02-10",
                       selection=[athlete_weekly_features])
    weekly = table(range_root, "athlete_weekly_features")
    assert sorted(pd.to_datetime(weekly["week_start"]).dt.date.unique()) == [dt.date(2025, 2, 3), dt.date(2025, 2, 10)]
    daily = table(range_root, "athlete_daily_features")
    daily["date"] = pd.to_datetime(daily["date"]).dt.date
    week = daily[(daily["athlete_id"] == 1) & (daily["date"] >= dt.date(2025, 2, 3)) & (daily["date"] < dt.date(2025, 2, 10))]
    row = weekly[(weekly["athlete_id"] == 1) & (pd.to_datetime(weekly["week_start"]).dt.date == dt.date(2025, 2, 3))].iloc[0]
    assert row["load"] == pytest.approx(week["daily_load"].sum())
    assert row["rest_days"] == int((week["activity_count"] == 0).sum())


def test_rolling_refuses_to_start_without_the_previous_day(tmp_path, spark_resource):
    records = two_athletes()
    resources = local_test_resources(tmp_path, spark_resource, activity_source=StaticSource(records=records))
    materialize_window(DAILY_GRAPH[:-1], resources, FIRST.isoformat(), "2025-01-31")
    result = materialize_window(DAILY_GRAPH, resources, "2025-01-20", raise_on_error=False,
                                selection=[athlete_rolling_features])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "no rolling features for 2025-01-19" in str(failure.event_specific_data.error)
