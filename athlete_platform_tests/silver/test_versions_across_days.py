"""One activity id, one silver row, table-wide: the newest version by its own version time (first arrival),
whichever partitions the versions landed in, in single-day runs and range runs; reruns are identical
(first arrival kept). Real Spark, real Delta, real Dagster runs."""

import pytest
from deltalake import DeltaTable

from athlete_platform.ingest.assets import raw_activities
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.support.runs import check_results, local_test_resources, materialize_window
from athlete_platform_tests.support.static_source import StaticSource, run_activity

pytestmark = pytest.mark.spark

A, B = "2025-03-01", "2025-03-03"


def read(root, *path):
    return DeltaTable(str(root.joinpath(*path))).to_pandas()


def run(root, spark_resource, records, first, last=None):
    resources = local_test_resources(root, spark_resource, activity_source=StaticSource(records=records))
    return materialize_window([raw_activities, silver_activities], resources, first, last)


def versions_of(root, activity_id):
    silver = read(root, "silver", "activities")
    return silver[silver["activity_id"] == activity_id]


def test_an_activity_moved_to_another_day_keeps_one_row_the_newest(tmp_path, spark_resource):
    original = [run_activity(7, A, name="Original"), run_activity(8, A)]
    run(tmp_path, spark_resource, original, A)
    # The athlete edits activity 7's date: the source now serves it on B (a later arrival, new content).
    moved = [run_activity(7, B, name="Moved"), run_activity(8, A)]
    result = run(tmp_path, spark_resource, moved, B)

    rows = versions_of(tmp_path, 7)
    assert rows["name"].tolist() == ["Moved"] and str(rows["activity_date"].iloc[0]) == B
    checks = check_results(result)
    assert checks["unique_activity_id"].passed and checks["unique_activity_id"].metadata["scope"].value == "table"
    assert checks["every_record_accounted_for"].passed
    profiles = read(tmp_path, "silver", "activity_hr_profiles")
    assert (profiles["activity_id"] == 7).sum() <= 1

    # An old copy of the export re-ingests day A with the original version: it is older, so it stays superseded.
    result = run(tmp_path, spark_resource, original, A)
    assert versions_of(tmp_path, 7)["name"].tolist() == ["Moved"]
    [materialization] = [m for m in result.asset_materializations_for_node("silver_activities")
                         if m.asset_key.path == ["silver", "activities"]]
    assert materialization.metadata["superseded_by_other_partitions"].value == 1
    assert check_results(result)["every_record_accounted_for"].passed
    assert sorted(read(tmp_path, "silver", "activities")["activity_id"]) == [7, 8]


def test_a_range_run_picks_the_version_that_arrived_last_not_the_later_arrival_of_its_day(tmp_path, spark_resource):
    # Day A already holds version 1 of activity 7 as the second record of its day (record_seq 1).
    day_a = [run_activity(8, A), run_activity(7, A, name="Version 1")]
    run(tmp_path, spark_resource, day_a, A)
    # Later, version 2 arrives on day B (record_seq 0 of its day); a range run over both days sees both.
    result = run(tmp_path, spark_resource, [*day_a, run_activity(7, B, name="Version 2")], A, B)
    assert versions_of(tmp_path, 7)["name"].tolist() == ["Version 2"]
    assert check_results(result)["unique_activity_id"].passed


def test_reruns_write_identical_rows_and_keep_the_first_arrival(tmp_path, spark_resource):
    records = [run_activity(1, A), run_activity(2, B), run_activity(2, B, name="Renamed")]
    run(tmp_path, spark_resource, records, A, B)
    bronze = read(tmp_path, "ingest", "raw_activities").sort_values(["activity_date", "record_seq"], ignore_index=True)
    silver = read(tmp_path, "silver", "activities").sort_values("activity_id", ignore_index=True)

    run(tmp_path, spark_resource, records, A, B)
    run(tmp_path, spark_resource, records, B)
    again = read(tmp_path, "ingest", "raw_activities").sort_values(["activity_date", "record_seq"], ignore_index=True)
    assert again.equals(bronze)  # ingested_at included: when each record first arrived
    assert read(tmp_path, "silver", "activities").sort_values("activity_id", ignore_index=True).equals(silver)

    # A new version of activity 1 arrives: only that row gets a new arrival time, and it wins.
    run(tmp_path, spark_resource, [run_activity(1, A, name="Edited"), *records[1:]], A)
    latest = read(tmp_path, "ingest", "raw_activities").set_index("activity_id")
    assert latest.loc[1, "ingested_at"] > bronze.set_index("activity_id").loc[1, "ingested_at"]
    assert versions_of(tmp_path, 1)["name"].tolist() == ["Edited"]
