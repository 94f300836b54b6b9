"""Activity files (GPX, TCX, FIT, gzipped, in nested folders): the HR and time streams, and what a corrupt file
gives."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
from pathlib import Path

import pytest

from athlete_platform.resources.strava_export.activity_files import parse_activity_file
from athlete_platform.resources.strava_export.source import StravaExportSource
from athlete_platform_tests.resources.strava_export.builders import (
    ALL_TIME,
    ListLog,
    csv_bytes,
    csv_row,
    fit_bytes,
    gpx_bytes,
    make_zip,
    tcx_bytes,
)


def test_synthetic_zip_streams_from_gpx_tcx_fit_and_gz(tmp_path: Path) -> None:
    pytest.importorskip("fitdecode", reason="FIT support needs fitdecode")
    day = "Apr 2, 2024"
    rows = [
        csv_row("1", f"{day}, 6:30:00 AM", filename="activities/1.gpx"),
        csv_row("2", f"{day}, 7:30:00 AM", filename="activities/2.tcx.gz"),
        csv_row("3", f"{day}, 8:30:00 AM", filename="activities/3.fit.gz"),
        csv_row("4", f"{day}, 9:30:00 AM", filename="activities/4.fit"),
        csv_row("5", f"{day}, 10:30:00 AM", filename="activities/5.gpx"),  # no HR
        csv_row("6", f"{day}, 11:30:00 AM", filename="activities/6.fit.gz"),  # corrupt
        csv_row("7", f"{day}, 12:30:00 PM", filename="activities/7.gpx"),  # missing from the zip
        csv_row("8", f"{day}, 1:30:00 PM"),  # manual
    ]
    export = make_zip(
        tmp_path / "export.zip",
        {
            "activities.csv": csv_bytes(rows),
            "activities/1.gpx": gpx_bytes(5),
            "activities/2.tcx.gz": gzip.compress(tcx_bytes(4)),
            "activities/3.fit.gz": gzip.compress(fit_bytes([130, 131, 0, 133])),
            "activities/4.fit": fit_bytes([100, 101]),
            "activities/5.gpx": gpx_bytes(3, hr=False),
            "activities/6.fit.gz": gzip.compress(b"not a fit file at all" * 10),
            "media/photo.jpg": b"\xff\xd8" + b"0" * 100,
        },
    )
    log = ListLog()
    result = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(dt.date(2024, 4, 2), dt.date(2024, 4, 3), log=log)
    streams = {r.activity["id"]: r.streams for r in result.records}

    assert streams[1] == {
        "time": {"data": [0, 2, 4, 6, 8], "series_type": "time", "original_size": 5, "resolution": "high"},
        "heartrate": {"data": [140, 141, 142, 143, 144], "series_type": "time", "original_size": 5, "resolution": "high"},
    }
    assert streams[2] is not None and streams[2]["time"]["data"] == [0, 5, 10, 15]
    assert streams[2]["heartrate"]["data"] == [120, 121, 122, 123]
    assert streams[3] is not None and streams[3]["time"]["data"] == [0, 3, 9]  # the 0-bpm sample dropped
    assert streams[3]["heartrate"]["data"] == [130, 131, 133]
    assert streams[4] is not None and streams[4]["heartrate"]["data"] == [100, 101]
    assert streams[5] is None and streams[6] is None and streams[7] is None and streams[8] is None
    warnings = log.warnings()
    assert any("row 6 (Activity ID 6)" in w and "activities/6.fit.gz" in w and "corrupt" in w.lower() for w in warnings)
    assert any("row 7 (Activity ID 7)" in w and "not in the export" in w for w in warnings)
    assert result.records[0].activity["manual"] is False and streams[8] is None


def test_tcx_with_leading_whitespace_as_strava_writes_it() -> None:
    streams = parse_activity_file("1.tcx", b"          " + tcx_bytes(3))
    assert streams is not None and streams["heartrate"]["data"] == [120, 121, 122]


def test_corrupt_xml_warns_and_gives_no_streams(tmp_path: Path) -> None:
    (tmp_path / "activities").mkdir()
    (tmp_path / "activities" / "1.gpx").write_bytes(gpx_bytes(5)[:-40])  # truncated
    (tmp_path / "activities.csv").write_bytes(csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/1.gpx")]))
    log = ListLog()
    result = StravaExportSource(timezone="UTC", export_path=str(tmp_path), athlete_id=1).fetch(*ALL_TIME, log=log)
    assert result.records[0].streams is None
    assert any("malformed XML" in w and "row 1" in w for w in log.warnings())


def test_nested_zip_folder_and_python_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A re-zipped export (everything under one folder) works; without `log` the module logger is used."""
    export = make_zip(
        tmp_path / "export.zip",
        {
            "export_123/activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/1.gpx")]),
            "export_123/activities/1.gpx": gpx_bytes(3),
        },
    )
    caplog.set_level(logging.INFO, logger="athlete_platform.resources.strava_export")
    result = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(*ALL_TIME)
    assert result.records[0].streams is not None
    assert "1 activities in" in caplog.text
