"""silver/activities end to end: real Spark, real Delta files, real Dagster runs."""

import pytest
from deltalake import DeltaTable

from athlete_platform.ingest.assets import raw_activities
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
    assert len(read(tmp_path, "bronze", "raw_activities")) == 5  # bronze keeps everything as received

    checks = check_results(result)
    assert all(checks[name].passed for name in
               ["unique_activity_id", "positive_duration_and_distance", "plausible_pace_and_hr", "rows_in_own_partition"])
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
    assert len(read(tmp_path, "bronze", "raw_activities")) == 5  # no duplicates after two re-runs
    assert (after.set_index("activity_id").loc[[101, 104], "ingested_at"]
            == before.set_index("activity_id").loc[[101, 104], "ingested_at"]).all()  # other days untouched
