"""A partition the source has no data for fails with a clear message instead of an empty success; a rest day
inside the source's data is a valid, empty bronze day. Real export folder, real Delta, real Dagster runs
(bronze alone: no Spark needed)."""

import datetime as dt
import os

from dagster import DagsterInstance
from deltalake import DeltaTable

from athlete_platform.asset_keys import RAW_ACTIVITIES
from athlete_platform.ingest.assets import days_beyond_source, raw_activities
from athlete_platform.resources.sources import FetchResult
from athlete_platform.resources.strava_export import StravaExportSource
from athlete_platform_tests.resources.strava_export.builders import csv_bytes, csv_row
from athlete_platform_tests.support.runs import local_test_resources, materialize_window


def export_made_on(tmp_path, made: dt.datetime):
    folder = tmp_path / "export"
    folder.mkdir()
    csv = folder / "activities.csv"
    csv.write_bytes(csv_bytes([csv_row("1", "Apr 1, 2024, 8:00:00 AM"), csv_row("2", "Apr 2, 2024, 8:00:00 AM")]))
    os.utime(csv, (made.timestamp(), made.timestamp()))
    return StravaExportSource(export_path=str(folder), timezone="UTC", athlete_id=1)


def test_days_after_the_export_fail_clearly_rest_days_inside_it_are_valid(tmp_path, spark_resource):
    source = export_made_on(tmp_path, dt.datetime(2024, 4, 5, 12, tzinfo=dt.timezone.utc))
    resources = local_test_resources(tmp_path / "delta", spark_resource, activity_source=source)
    instance = DagsterInstance.ephemeral()
    table = tmp_path.joinpath("delta", *RAW_ACTIVITIES.path)

    after = materialize_window([raw_activities], resources, "2024-04-06", instance=instance, raise_on_error=False)
    assert not after.success
    [failure] = [e for e in after.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "has no data for [2024-04-06, 2024-04-07)" in message and "covers days before 2024-04-05" in message
    assert not DeltaTable.is_deltatable(str(table))  # nothing written, nothing counted as materialized
    assert not instance.get_materialized_partitions(raw_activities.key)

    rest_day = materialize_window([raw_activities], resources, "2024-04-03", instance=instance)
    assert rest_day.success and len(DeltaTable(str(table)).to_pandas()) == 0

    ranged = materialize_window([raw_activities], resources, "2024-04-01", "2024-04-07", instance=instance)
    [materialization] = ranged.asset_materializations_for_node("ingest__raw_activities")[-1:]
    assert materialization.metadata["days_beyond_source_data"].value == 3  # the 5th (made that day) to the 7th
    assert sorted(DeltaTable(str(table)).to_pandas()["activity_id"]) == [1, 2]


def test_days_beyond_source():
    live = FetchResult()
    assert days_beyond_source(live, dt.date(2024, 1, 1), dt.date(2024, 2, 1)) == 0
    export = FetchResult(covered_until=dt.date(2024, 1, 10))
    assert days_beyond_source(export, dt.date(2024, 1, 1), dt.date(2024, 1, 10)) == 0
    assert days_beyond_source(export, dt.date(2024, 1, 1), dt.date(2024, 1, 12)) == 2
    assert days_beyond_source(export, dt.date(2024, 1, 20), dt.date(2024, 1, 21)) == 1
