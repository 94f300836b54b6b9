"""``StravaExportSource`` over whole exports: every row of the real activities.csv files (skipped without
../shared/realdata), and fault isolation: one bad cell or file costs only its row or its streams."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import zipfile
from pathlib import Path

import pytest

from athlete_platform.resources.strava_export.activity_files import parse_activity_file
from athlete_platform.resources.strava_export.source import StravaExportSource
from athlete_platform_tests.resources.strava_export.builders import (
    ALL_TIME,
    AVERAGE_SPEED,
    HEADER,
    MOVING_TIME,
    SI_DISTANCE,
    ListLog,
    csv_bytes,
    csv_row,
    gpx_bytes,
    make_zip,
    needs_realdata,
    with_cell,
)
from athlete_platform_tests.support.paths import REALDATA


@needs_realdata
@pytest.mark.parametrize(
    ("filename", "rows", "runs"),
    [("aakashb_activities.csv", 610, 439), ("slalom007_activities.csv", 242, 219)],
)
def test_real_csv_every_row_parses(filename: str, rows: int, runs: int) -> None:
    source = StravaExportSource(timezone="UTC", export_path=str(REALDATA / filename), athlete_id=7)
    result = source.fetch(*ALL_TIME, log=ListLog())

    assert result.unplaceable == []
    assert len(result.records) == rows
    assert sum(r.activity["type"] == "Run" for r in result.records) == runs
    assert all(r.source == "strava_export" and r.athlete_id == 7 and r.streams is None for r in result.records)
    assert all(r.activity_date.isoformat() == r.activity["start_date_local"][:10] for r in result.records)


@needs_realdata
@pytest.mark.parametrize("filename", ["aakashb_activities.csv", "slalom007_activities.csv"])
def test_real_csv_uses_si_distance(filename: str) -> None:
    """The record's distance is the metres column: the display column (km, truncated to 10 m;
    swims in metres with a thousands separator) agrees within 10 m once converted."""
    path = REALDATA / filename
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        display_index = header.index("Distance")  # the first one: display units
        display_by_id = {row[0]: float(row[display_index].replace(",", "")) for row in reader if row[display_index]}
    result = StravaExportSource(timezone="UTC", export_path=str(path), athlete_id=7).fetch(*ALL_TIME)
    off = []
    for record in result.records:
        activity = record.activity
        display = display_by_id[str(activity["id"])]
        expected = display if activity["sport_type"] == "Swim" else display * 1000
        if abs(activity["distance"] - expected) > 10:
            off.append(activity["id"])
    assert off == []
    longest = max(r.activity["distance"] for r in result.records)
    assert longest > 1000  # metres, not km


@needs_realdata
def test_real_csv_fields_are_strava_shaped() -> None:
    result = StravaExportSource(timezone="UTC", export_path=str(REALDATA / "aakashb_activities.csv"), athlete_id=7).fetch(*ALL_TIME)
    runs = [r.activity for r in result.records if r.activity["type"] == "Run"]
    with_hr = [a for a in runs if a["has_heartrate"]]
    assert len(with_hr) / len(runs) > 0.95  # README: HR on 99% of runs
    sample = with_hr[0]
    assert isinstance(sample["moving_time"], int) and isinstance(sample["elapsed_time"], int)
    assert sample["start_date"].endswith("Z") and sample["timezone"] == "(GMT+00:00) UTC"
    assert "workout_type" not in sample  # this export version has no Competition column
    assert {a["sport_type"] for a in (r.activity for r in result.records)} >= {"Run", "WeightTraining", "Walk"}


@needs_realdata
def test_real_gpx_gives_every_hr_sample() -> None:
    data = (REALDATA / "azaidrahman_run_9549320496.gpx").read_bytes()
    streams = parse_activity_file("9549320496.gpx", data)
    assert streams is not None
    assert len(streams["heartrate"]["data"]) == 3109 == len(streams["time"]["data"])
    assert streams["time"]["data"][0] == 0
    assert streams["time"]["data"] == sorted(streams["time"]["data"])
    assert all(40 <= bpm <= 230 for bpm in streams["heartrate"]["data"])


@needs_realdata
def test_real_gpx_inside_a_zip_gzipped(tmp_path: Path) -> None:
    gpx = (REALDATA / "azaidrahman_run_9549320496.gpx").read_bytes()
    export = make_zip(
        tmp_path / "export.zip",
        {
            "activities.csv": csv_bytes([csv_row("9549320496", "Apr 2, 2024, 6:30:00 AM", filename="activities/9549320496.gpx.gz")]),
            "activities/9549320496.gpx.gz": gzip.compress(gpx),
        },
    )
    result = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(*ALL_TIME)
    (record,) = result.records
    assert record.streams is not None and len(record.streams["heartrate"]["data"]) == 3109


def test_non_finite_and_non_numeric_contract_cells_keep_their_raw_text(tmp_path: Path) -> None:
    """nan/inf/1e400 in a numeric cell crashed the whole fetch (int(round(nan))); a non-numeric HR was
    silently nulled. Now the raw text travels in the record, for silver to quarantine with the field."""
    day = "Apr 2, 2024, 8:00:00 AM"
    rows = [
        with_cell(csv_row("1", day), MOVING_TIME, "nan"),
        with_cell(csv_row("2", day), SI_DISTANCE, "inf"),
        with_cell(csv_row("3", day), AVERAGE_SPEED, "1e400"),
        csv_row("4", day, avg_hr="1x80"),
        csv_row("5", day, avg_hr="abc"),
        csv_row("6", day),  # a good row beside them
    ]
    (tmp_path / "activities.csv").write_bytes(csv_bytes(rows))
    log = ListLog()
    result = StravaExportSource(timezone="UTC", export_path=str(tmp_path), athlete_id=1).fetch(*ALL_TIME, log=log)
    by_id = {r.activity["id"]: r.activity for r in result.records}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6] and result.unplaceable == []
    assert by_id[1]["moving_time"] == "nan" and by_id[2]["distance"] == "inf" and by_id[3]["average_speed"] == "1e400"
    assert by_id[4]["average_heartrate"] == "1x80" and by_id[5]["average_heartrate"] == "abc"
    assert by_id[6]["moving_time"] == 3000 and by_id[6]["average_heartrate"] == 151.5
    assert "NaN" not in "".join(r.payload_json() for r in result.records)  # strict JSON, raw text as strings


def test_a_bad_optional_cell_is_left_out_with_a_warning_reported_by_its_own_window_only(tmp_path: Path) -> None:
    header = [*HEADER, "Calories"]
    rows = [[*csv_row("1", "Apr 2, 2024, 8:00:00 AM"), "nan"], [*csv_row("2", "Apr 9, 2024, 8:00:00 AM"), "-inf"]]
    (tmp_path / "activities.csv").write_bytes(csv_bytes(rows, header))
    source = StravaExportSource(timezone="UTC", export_path=str(tmp_path), athlete_id=1)
    log = ListLog()
    (record,) = source.fetch(dt.date(2024, 4, 2), dt.date(2024, 4, 3), log=log).records
    assert "calories" not in record.activity
    warnings = log.warnings()
    assert len(warnings) == 1 and "row 1" in warnings[0] and "'Calories' is not a finite number: 'nan'" in warnings[0]


@pytest.mark.parametrize(
    ("member", "data", "why"),
    [
        ("activities/1.gpx", gpx_bytes(5).replace(b">141<", b">nan<"), None),  # nan HR: that sample has none
        ("activities/1.gpx", gpx_bytes(5).replace(b'encoding="UTF-8"', b'encoding="x-klingon"'), "LookupError"),
        ("activities/1.fit", b"garbage" * 5, "corrupt FIT data"),
        ("activities/1.tcx", b"<TrainingCenterDatabase><Activities>", "malformed XML"),
    ],
)
def test_a_bad_activity_file_costs_only_its_streams(tmp_path: Path, member: str, data: bytes, why: str | None) -> None:
    day = "Apr 2, 2024, 6:30:00 AM"
    rows = [csv_row("1", day, filename=member), csv_row("2", day, filename="activities/2.gpx")]
    export = make_zip(tmp_path / "export.zip", {"activities.csv": csv_bytes(rows), member: data,
                                                "activities/2.gpx": gpx_bytes(4)})
    log = ListLog()
    result = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(*ALL_TIME, log=log)
    by_id = {r.activity["id"]: r for r in result.records}
    assert by_id[2].streams is not None and by_id[2].streams["heartrate"]["data"] == [140, 141, 142, 143]
    if why is None:
        assert by_id[1].streams["heartrate"]["data"] == [140, 142, 143, 144]
    else:
        assert by_id[1].streams is None
        (warning,) = log.warnings()
        assert why in warning and repr(member) in warning and "row 1 (Activity ID 1)" in warning


def test_a_zip_member_with_a_bad_crc_costs_only_its_streams(tmp_path: Path) -> None:
    day = "Apr 2, 2024, 6:30:00 AM"
    rows = [csv_row("1", day, filename="activities/1.gpx"), csv_row("2", day, filename="activities/2.gpx")]
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("activities.csv", csv_bytes(rows))
        zf.writestr("activities/1.gpx", gpx_bytes(5))
        zf.writestr("activities/2.gpx", gpx_bytes(4))
    raw = bytearray(export.read_bytes())
    at = raw.index(b"<trkpt")  # the first member's data: stored, so one flipped byte breaks only its CRC
    raw[at + 1] ^= 0x20
    export.write_bytes(bytes(raw))
    log = ListLog()
    result = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(*ALL_TIME, log=log)
    by_id = {r.activity["id"]: r for r in result.records}
    assert by_id[1].streams is None and by_id[2].streams is not None
    (warning,) = log.warnings()
    assert "'activities/1.gpx'" in warning and "CRC" in warning
