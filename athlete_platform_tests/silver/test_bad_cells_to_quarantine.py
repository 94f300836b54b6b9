"""A bad cell of a Strava export costs only its row: the row reaches silver/quarantine with the field, the raw
text and the reason, and every other row flows (real export folder, real Spark, real Delta)."""

import datetime as dt

import pytest
from deltalake import DeltaTable

from athlete_platform.ingest.assets import raw_activities
from athlete_platform.resources.strava_export import StravaExportSource
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.resources.strava_export.builders import (
    AVERAGE_HR,
    AVERAGE_SPEED,
    MOVING_TIME,
    SI_DISTANCE,
    csv_bytes,
    csv_row,
    with_cell,
)
from athlete_platform_tests.support.runs import check_results, local_test_resources, materialize_window

pytestmark = pytest.mark.spark

DAY = "Apr 2, 2024, 8:00:00 AM"  # 2024-04-02 in UTC


def test_bad_numeric_cells_quarantine_their_row_with_field_raw_text_and_reason(tmp_path, spark_resource):
    export = tmp_path / "export"
    export.mkdir()
    rows = [
        with_cell(csv_row("1", DAY), MOVING_TIME, "nan"),
        with_cell(csv_row("2", DAY), SI_DISTANCE, "inf"),
        with_cell(csv_row("3", DAY), AVERAGE_SPEED, "1e400"),
        with_cell(csv_row("4", DAY), AVERAGE_HR, "1x80"),  # optional, non-numeric: no longer silently nulled
        with_cell(csv_row("5", DAY), MOVING_TIME, "abc"),  # required, non-numeric: raw text kept, not "missing"
        csv_row("6", DAY),
        csv_row("7", DAY, avg_hr=""),  # optional and empty: accepted without HR
    ]
    (export / "activities.csv").write_bytes(csv_bytes(rows))
    source = StravaExportSource(export_path=str(export), timezone="UTC", athlete_id=1)
    resources = local_test_resources(tmp_path / "delta", spark_resource, activity_source=source)
    result = materialize_window([raw_activities, silver_activities], resources, "2024-04-02")

    silver = DeltaTable(str(tmp_path / "delta" / "silver" / "activities")).to_pandas()
    assert sorted(silver["activity_id"]) == [6, 7]
    quarantine = DeltaTable(str(tmp_path / "delta" / "silver" / "quarantine")).to_pandas().set_index("activity_id")
    assert quarantine["reject_fields"].to_dict() == {
        1: "moving_time", 2: "distance", 3: "average_speed", 4: "average_heartrate", 5: "moving_time"}
    assert quarantine.loc[1, "reason"] == "moving_time: not finite: 'nan'"
    assert quarantine.loc[2, "reason"] == "distance: not finite: 'inf'"
    assert quarantine.loc[3, "reason"] == "average_speed: not finite: '1e400'"
    assert quarantine.loc[4, "reason"] == "average_heartrate: not a number: '1x80'"
    assert quarantine.loc[5, "reason"] == "moving_time: not a number: 'abc'"
    assert '"moving_time": "abc"' in quarantine.loc[5, "payload"]  # the record as received
    checks = check_results(result)
    assert checks["every_record_accounted_for"].passed and result.success
    assert {k: v.value for k, v in checks["every_record_accounted_for"].metadata.items()}["quarantined"] == 5
    assert dt.date(2024, 4, 2) == silver["activity_date"].iloc[0]
