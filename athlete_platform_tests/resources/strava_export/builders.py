"""Builders of synthetic Strava exports (activities.csv rows, GPX/TCX/FIT files, zips) and a log collector, for the
tests of ``athlete_platform.resources.strava_export``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct
import zipfile
from pathlib import Path

import pytest

from athlete_platform_tests.support.paths import REALDATA

needs_realdata = pytest.mark.skipif(
    not REALDATA.is_dir(), reason=f"real Strava data not available at {REALDATA} (../shared/realdata)"
)
ALL_TIME = (dt.date(1970, 1, 1), dt.date(2100, 1, 1))
START = dt.datetime(2024, 4, 2, 6, 30, tzinfo=dt.timezone.utc)

# A header as in recent exports: duplicated names (display units first, SI second), HTML and bare
# "translation missing" names, and a column this code does not know.
HEADER = [
    "Activity ID", "Activity Date", "Activity Name", "Activity Type", "Activity Description",
    "Elapsed Time", "Distance", "Max Heart Rate", "Relative Effort", "Commute", "Filename",
    "Elapsed Time", "Moving Time", "Distance", "Max Speed", "Average Speed", "Elevation Gain",
    "Max Heart Rate", "Average Heart Rate", "Relative Effort", "Commute",
    '<span class="translation_missing" title="translation missing: '
    'en-US.lib.export.portability_exporter.activities.horton_values.sport_type">Sport Type</span>',
    "translation missing: en-GB.lib.export.portability_exporter.activities.horton_values.start_time",
    "Some Future Column", "Competition", "Long Run",
]

MOVING_TIME, SI_DISTANCE, AVERAGE_SPEED, AVERAGE_HR = 12, 13, 15, 18  # indices in HEADER


def with_cell(row: list[str], index: int, value: str) -> list[str]:
    assert HEADER[index] in ("Moving Time", "Distance", "Average Speed", "Average Heart Rate")
    return [*row[:index], value, *row[index + 1:]]


def csv_row(
    activity_id: str,
    date: str,
    *,
    kind: str = "Run",
    filename: str = "",
    km: str = "10.02",
    metres: str = "10021.5",
    avg_hr: str = "151.5",
    max_hr_display: str = "178.0",
    max_hr_si: str = "",
    competition: str = "",
    long_run: str = "",
    sport_type: str = "",
) -> list[str]:
    return [
        activity_id, date, f"Activity {activity_id}", kind, "", "3100", km, max_hr_display, "55", "false", filename,
        "3100.0", "3000.0", metres, "4.5", "3.34", "42.0", max_hr_si, avg_hr, "55.0", "0.0",
        sport_type, "", "whatever", competition, long_run,
    ]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def gpx_bytes(points: int = 5, *, hr: bool = True, start: dt.datetime = START) -> bytes:
    pts = []
    for i in range(points):
        t = (start + dt.timedelta(seconds=2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ext = (
            f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{140 + i}</gpxtpx:hr>"
            "</gpxtpx:TrackPointExtension></extensions>"
            if hr else ""
        )
        pts.append(f'<trkpt lat="0.0" lon="0.0"><ele>10</ele><time>{t}</time>{ext}</trkpt>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx creator="StravaGPX" version="1.1" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><trkseg>{''.join(pts)}</trkseg></trk></gpx>"
    ).encode()


def tcx_bytes(points: int = 4, start: dt.datetime = START) -> bytes:
    pts = "".join(
        f"<Trackpoint><Time>{(start + dt.timedelta(seconds=5 * i)).isoformat().replace('+00:00', 'Z')}</Time>"
        f"<HeartRateBpm><Value>{120 + i}</Value></HeartRateBpm></Trackpoint>"
        for i in range(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        f'<Activities><Activity Sport="Running"><Lap StartTime="x"><Track>{pts}</Track></Lap></Activity>'
        "</Activities></TrainingCenterDatabase>"
    ).encode()


def fit_bytes(hr_values: list[int], start: dt.datetime = START, interval_s: int = 3) -> bytes:
    """A minimal valid FIT file: a file_id message and one `record` (timestamp, heart_rate) per value."""
    from fitdecode.utils import compute_crc

    fit_epoch = dt.datetime(1989, 12, 31, tzinfo=dt.timezone.utc)
    body = bytearray()
    # definition, local 0 -> file_id (global 0): type (field 0, enum)
    body += struct.pack("<BBBHB", 0x40, 0, 0, 0, 1) + bytes([0, 1, 0x00])
    body += bytes([0x00, 4])  # data: type = activity
    # definition, local 1 -> record (global 20): timestamp (253, uint32), heart_rate (3, uint8)
    body += struct.pack("<BBBHB", 0x41, 0, 0, 20, 2) + bytes([253, 4, 0x86, 3, 1, 0x02])
    base = int((start - fit_epoch).total_seconds())
    for i, hr in enumerate(hr_values):
        body += struct.pack("<BIB", 0x01, base + i * interval_s, hr)
    header = struct.pack("<BBHI4s", 14, 0x10, 2132, len(body), b".FIT")
    header += struct.pack("<H", compute_crc(header))
    data = header + bytes(body)
    return data + struct.pack("<H", compute_crc(data))


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return path


class ListLog:
    """Stand-in for Dagster's context.log collecting messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def _add(self, level: str, msg: str, *args: object) -> None:
        self.messages.append((level, msg % args if args else msg))

    def info(self, msg: str, *args: object) -> None:
        self._add("info", msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        self._add("warning", msg, *args)

    def debug(self, msg: str, *args: object) -> None:
        self._add("debug", msg, *args)

    def warnings(self) -> list[str]:
        return [m for level, m in self.messages if level == "warning"]
