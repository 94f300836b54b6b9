"""silver/activities end to end: real Spark, real Delta files, real Dagster runs."""

import datetime as dt

import pytest
from deltalake import DeltaTable

from athlete_platform.ingest.assets import raw_activities
from athlete_platform.partitions import FIRST_DAY
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.support.runs import check_results, local_test_resources, materialize_window
from athlete_platform_tests.support.static_source import StaticSource, run_activity

pytestmark = pytest.mark.spark


def read(root, *path):
    return DeltaTable(str(root.joinpath(*path))).to_pandas()


def records_for_three_days():
    return [
        run_activity(101, "2025-03-01"),
        run_activity(102, "2025-03-02"),
        run_activity(102, "2025-03-02", name="Renamed after upload"),  # a later version of 102
        run_activity(103, "2025-03-02", distance=-3.0),  # broken: quarantined
        run_activity(104, "2025-03-03", athlete_id=2, average_heartrate=None),
    ]


def test_range_run_dedupes_quarantines_and_checks(tmp_path, spark_resource):
    resources = local_test_resources(tmp_path, spark_resource, activity_source=StaticSource(records=records_for_three_days()))
    result = materialize_window([raw_activities, silver_activities], resources, "2025-03-01", "2025-03-03")

    activities = read(tmp_path, "silver", "activities").sort_values("activity_id")
    assert activities["activity_id"].tolist() == [101, 102, 104]
    assert activities.set_index("activity_id").loc[102, "name"] == "Renamed after upload"  # latest version kept
    quarantine = read(tmp_path, "silver", "quarantine")
    assert quarantine["activity_id"].tolist() == [103]
    assert quarantine["reject_fields"].tolist() == ["distance"]
    assert "negative" in quarantine["reason"].iloc[0]
    assert len(read(tmp_path, "ingest", "raw_activities")) == 5  # bronze keeps everything as received

    checks = check_results(result)
    assert all(checks[name].passed for name in
               ["unique_activity_id", "positive_duration_and_distance", "plausible_pace_and_hr", "rows_in_own_partition",
                "every_record_accounted_for"])
    assert not checks["quarantine_rate"].passed  # 1 of 5 rejected > 5 %: a warning, not a failure
    assert result.success


def test_rematerializing_a_partition_replaces_only_that_partition(tmp_path, spark_resource):
    resources = local_test_resources(tmp_path, spark_resource, activity_source=StaticSource(records=records_for_three_days()))
    materialize_window([raw_activities, silver_activities], resources, "2025-03-01", "2025-03-03")
    before = read(tmp_path, "silver", "activities").sort_values("activity_id").reset_index(drop=True)

    for _ in range(2):
        materialize_window([raw_activities, silver_activities], resources, "2025-03-02")
    after = read(tmp_path, "silver", "activities").sort_values("activity_id").reset_index(drop=True)
    assert after.drop(columns=["ingested_at"]).equals(before.drop(columns=["ingested_at"]))
    assert len(read(tmp_path, "ingest", "raw_activities")) == 5  # no duplicates after two re-runs
    assert (after.set_index("activity_id").loc[[101, 104], "ingested_at"]
            == before.set_index("activity_id").loc[[101, 104], "ingested_at"]).all()  # other days untouched


def first_partition_source() -> StaticSource:
    first, second = FIRST_DAY.isoformat(), (FIRST_DAY + dt.timedelta(days=1)).isoformat()
    return StaticSource(
        records=[
            run_activity(201, "1991-05-04", name="A 1991 race"),
            run_activity(202, (FIRST_DAY - dt.timedelta(days=1)).isoformat()),
            run_activity(203, first),
            run_activity(204, second),
            run_activity(204, second, name="Renamed"),  # a superseded duplicate
        ],
        unplaceable=[
            dict(reference="row 9 (Activity ID 205)", field="Activity Date", reason="'32/13/2010' cannot be parsed",
                 raw={"Activity ID": "205", "Activity Date": "32/13/2010"}, athlete_id=1, activity_id=205),
            dict(reference="row 10", field="Activity ID", reason="not a positive integer: 'x'",
                 raw={"Activity ID": "x", "Activity Date": "whatever"}, athlete_id=1, activity_date=second),
        ],
    )


def test_records_before_the_first_partition_or_undatable_are_quarantined_exactly_once(tmp_path, spark_resource):
    resources = local_test_resources(tmp_path, spark_resource, activity_source=first_partition_source())
    first, second = FIRST_DAY.isoformat(), (FIRST_DAY + dt.timedelta(days=1)).isoformat()
    result = materialize_window([raw_activities, silver_activities], resources, first, second)

    assert sorted(read(tmp_path, "silver", "activities")["activity_id"]) == [203, 204]
    quarantine = read(tmp_path, "silver", "quarantine").set_index("reason")
    reasons = sorted(quarantine.index)
    assert reasons == sorted([
        f"activity_date: 1991-05-04 is before the first partition {first} "
        "(set ATHLETE_PLATFORM_PARTITIONS_START earlier to analyse it)",
        f"activity_date: {FIRST_DAY - dt.timedelta(days=1)} is before the first partition {first} "
        "(set ATHLETE_PLATFORM_PARTITIONS_START earlier to analyse it)",
        "Activity Date: '32/13/2010' cannot be parsed [row 9 (Activity ID 205)]",
        "Activity ID: not a positive integer: 'x' [row 10]",
    ])
    assert set(quarantine["reject_fields"]) == {"activity_date", "Activity Date", "Activity ID"}
    assert '"A 1991 race"' in quarantine.loc[next(r for r in reasons if "1991" in r), "payload"]  # as received
    undated = next(r for r in reasons if "32/13/2010" in r)
    assert quarantine.loc[undated, "activity_date"] == FIRST_DAY and quarantine.loc[undated, "activity_id"] == 205
    assert quarantine.loc[next(r for r in reasons if "'x'" in r), "activity_date"] == FIRST_DAY + dt.timedelta(days=1)
    evaluation = check_results(result)["every_record_accounted_for"]
    assert evaluation.passed
    assert {k: v.value for k, v in evaluation.metadata.items()} == {
        "rows_in": 7, "silver": 2, "quarantined": 4, "superseded_duplicates": 1, "unaccounted": 0}

    # Later windows do not repeat the first partition's rows; re-running the first partition replaces them.
    later = (FIRST_DAY + dt.timedelta(days=2)).isoformat()
    materialize_window([raw_activities, silver_activities], resources, second, later)
    materialize_window([raw_activities, silver_activities], resources, first)
    materialize_window([raw_activities, silver_activities], resources, first)
    again = read(tmp_path, "silver", "quarantine")
    assert sorted(again["reason"]) == reasons
    assert len(read(tmp_path, "ingest", "raw_activities")) == 7


def test_lost_rows_fail_the_accounting_check():
    from athlete_platform.silver.checks import RowAccounting, check_every_record_accounted_for

    lost = RowAccounting(rows_in=10, silver=6, quarantined=2, superseded=1)
    evaluation = check_every_record_accounted_for(lost)
    assert not evaluation.passed and evaluation.metadata["unaccounted"].value == 1
    assert "UNACCOUNTED 1" in lost.describe()
    assert check_every_record_accounted_for(RowAccounting(10, 7, 2, 1)).passed


def test_silver_refuses_days_bronze_never_fetched_but_keeps_rest_days(tmp_path, spark_resource):
    from dagster import DagsterInstance

    instance = DagsterInstance.ephemeral()
    resources = local_test_resources(tmp_path, spark_resource,
                                     activity_source=StaticSource(records=[run_activity(1, "2025-03-01")]))
    materialize_window([raw_activities], resources, "2025-03-01", "2025-03-02", instance=instance)  # 03-02: rest day

    missing = materialize_window([raw_activities, silver_activities], resources, "2025-03-01", "2025-03-03",
                                 instance=instance, selection=[silver_activities], raise_on_error=False)
    assert not missing.success
    [failure] = [e for e in missing.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "never materialized for 1 day(s) of [2025-03-01, 2025-03-04) (2025-03-03)" in \
        failure.event_specific_data.error.message

    rest = materialize_window([raw_activities, silver_activities], resources, "2025-03-01", "2025-03-02",
                              instance=instance, selection=[silver_activities])
    assert rest.success and read(tmp_path, "silver", "activities")["activity_id"].tolist() == [1]
