"""StravaExportSource: real activities.csv files, synthetic export zips/folders, activity files,
zip safety."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import logging
import struct
import zipfile
from pathlib import Path

import pytest

from athlete_platform.resources.strava_export.activities_csv import normalize_header, parse_export_datetime
from athlete_platform.resources.strava_export.activity_files import parse_activity_file
from athlete_platform.resources.strava_export.errors import StravaExportError
from athlete_platform.resources.strava_export.source import (
    DERIVED_ATHLETE_ID_BASE,
    StravaExportSource,
    derived_athlete_id,
)
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


# -- real activities.csv files ---------------------------------------------------------------------


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


# -- header and row parsing ------------------------------------------------------------------------


def test_headers_normalized() -> None:
    assert normalize_header(HEADER[21]) == "Sport Type"
    assert normalize_header(HEADER[22]) == "Start Time"
    assert normalize_header("\ufeffActivity ID") == "Activity ID"
    assert normalize_header("Average &amp; Max  <b>Speed</b> ") == "Average & Max Speed"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Feb 22, 2021, 10:30:06 AM", dt.datetime(2021, 2, 22, 10, 30, 6, tzinfo=dt.timezone.utc)),
        ("Feb 22, 2021, 12:05:00 AM", dt.datetime(2021, 2, 22, 0, 5, 0, tzinfo=dt.timezone.utc)),
        ("Feb 22, 2021, 12:05:00 PM", dt.datetime(2021, 2, 22, 12, 5, 0, tzinfo=dt.timezone.utc)),
        ("Sept 3, 2021, 1:02:03 PM", dt.datetime(2021, 9, 3, 13, 2, 3, tzinfo=dt.timezone.utc)),
        ("2021-02-22 10:30:06", dt.datetime(2021, 2, 22, 10, 30, 6, tzinfo=dt.timezone.utc)),
        ("1987-07-01T08:00:00Z", dt.datetime(1987, 7, 1, 8, tzinfo=dt.timezone.utc)),
    ],
)
def test_export_dates(text: str, expected: dt.datetime) -> None:
    assert parse_export_datetime(text) == expected


def test_synthetic_csv_mapping_and_timezone(tmp_path: Path) -> None:
    rows = [
        # 23:30 UTC on Apr 1 is Apr 2 in Tokyo
        csv_row("1", "Apr 1, 2024, 11:30:00 PM", max_hr_si="181.0", competition="1.0"),
        csv_row("2", "Apr 2, 2024, 8:00:00 AM", kind="Weight Training", km="", metres="", avg_hr="", max_hr_display=""),
        csv_row("3", "Apr 2, 2024, 9:00:00 AM", long_run="true", sport_type="TrailRun"),
        csv_row("4", "Apr 2, 2024, 10:00:00 AM", competition="0.0"),
        csv_row("5", "Apr 2, 2024, 3:30:00 PM"),  # Apr 3 in Tokyo: outside the window
    ]
    (tmp_path / "activities.csv").write_bytes(csv_bytes(rows))
    source = StravaExportSource(export_path=str(tmp_path), athlete_id=99, timezone="Asia/Tokyo")
    result = source.fetch(dt.date(2024, 4, 2), dt.date(2024, 4, 3))

    by_id = {r.activity["id"]: r.activity for r in result.records}
    assert sorted(by_id) == [1, 2, 3, 4]
    race = by_id[1]
    assert race["start_date"] == "2024-04-01T23:30:00Z"
    assert race["start_date_local"] == "2024-04-02T08:30:00Z"
    assert race["timezone"] == "(GMT+09:00) Asia/Tokyo" and race["utc_offset"] == 9 * 3600
    assert race["distance"] == 10021.5  # the SI column, not 10.02 km
    assert race["max_heartrate"] == 181.0  # the SI occurrence when filled...
    assert by_id[4]["max_heartrate"] == 178.0  # ...else the first one
    assert race["workout_type"] == 1 and by_id[3]["workout_type"] == 2 and by_id[4]["workout_type"] == 0
    assert "workout_type" not in by_id[2]  # unknown: both flags empty
    assert race["athlete"] == {"id": 99} and race["type"] == race["sport_type"] == "Run"
    assert race["manual"] is True and race["commute"] is False and race["has_heartrate"] is True
    assert race["moving_time"] == 3000 and race["elapsed_time"] == 3100
    assert by_id[3]["sport_type"] == "TrailRun" and by_id[3]["type"] == "Run"
    gym = by_id[2]
    assert gym["sport_type"] == "WeightTraining" and gym["distance"] is None and gym["has_heartrate"] is False
    assert {r.activity_date for r in result.records} == {dt.date(2024, 4, 2)}


def test_unparseable_date_or_id_is_unplaceable_with_field_reason_and_raw_row(tmp_path: Path) -> None:
    rows = [
        csv_row("1", "Apr 2, 2024, 8:00:00 AM"),
        csv_row("2", "2. Apr. 2024, 08:00:00"),
        csv_row("3", ""),
        csv_row("x4", "Apr 2, 2024, 11:00:00 PM"),
    ]
    (tmp_path / "activities.csv").write_bytes(csv_bytes(rows))
    source = StravaExportSource(timezone="America/Sao_Paulo", export_path=str(tmp_path / "activities.csv"), athlete_id=1)
    for window in [ALL_TIME, (dt.date(2030, 1, 1), dt.date(2030, 1, 2))]:  # whatever the window
        result = source.fetch(*window)
        by_ref = {u.reference: u for u in result.unplaceable}
        assert set(by_ref) == {"activities.csv row 2 (Activity ID 2)", "activities.csv row 3 (Activity ID 3)", "activities.csv row 4"}
    result = source.fetch(*ALL_TIME)
    assert [r.activity["id"] for r in result.records] == [1]
    by_ref = {u.reference: u for u in result.unplaceable}
    bad_date = by_ref["activities.csv row 2 (Activity ID 2)"]
    assert bad_date.field == "Activity Date" and "2. Apr. 2024" in bad_date.reason and "cannot be parsed" in bad_date.reason
    assert bad_date.activity_id == 2 and bad_date.activity_date is None and bad_date.athlete_id == 1
    assert bad_date.raw["Activity Date"] == "2. Apr. 2024, 08:00:00" and bad_date.raw["Distance [2]"] == "10021.5"
    empty = by_ref["activities.csv row 3 (Activity ID 3)"]
    assert empty.field == "Activity Date" and empty.reason == "empty" and "Activity Date" not in empty.raw
    bad_id = by_ref["activities.csv row 4"]
    assert bad_id.field == "Activity ID" and "'x4'" in bad_id.reason and bad_id.activity_id is None
    assert bad_id.activity_date == dt.date(2024, 4, 2)  # 23:00 UTC is still the 2nd in Sao Paulo: its own date
    assert all(u.source == "strava_export" for u in result.unplaceable)


def test_include_earlier_returns_records_before_the_window_without_activity_files(tmp_path: Path) -> None:
    rows = [
        csv_row("5", "May 4, 1991, 9:00:00 AM", kind="Run", filename="activities/5.gpx"),  # a race long before Strava
        csv_row("6", "Dec 31, 2008, 11:30:00 PM"),  # 2008-12-31 21:30 in Sao Paulo
        csv_row("7", "Jan 1, 2009, 1:30:00 AM"),  # still 2008-12-31 in Sao Paulo (UTC-2, summer time)
        csv_row("8", "Jan 1, 2009, 12:00:00 PM", filename="activities/8.gpx"),
        csv_row("9", "Jan 3, 2009, 12:00:00 PM"),
    ]
    make_zip(tmp_path / "export.zip", {
        "activities.csv": csv_bytes(rows),
        "activities/5.gpx": gpx_bytes(),
        "activities/8.gpx": gpx_bytes(start=dt.datetime(2009, 1, 1, 12, tzinfo=dt.timezone.utc)),
    })
    source = StravaExportSource(export_path=str(tmp_path / "export.zip"), athlete_id=1, timezone="America/Sao_Paulo")
    window = (dt.date(2009, 1, 1), dt.date(2009, 1, 2))

    plain = source.fetch(*window)
    assert [r.activity["id"] for r in plain.records] == [8] and plain.earlier == []
    result = source.fetch(*window, include_earlier=True)
    assert [r.activity["id"] for r in result.records] == [8]
    assert result.records[0].streams is not None
    earlier = {r.activity["id"]: r for r in result.earlier}
    assert set(earlier) == {5, 6, 7}
    assert earlier[5].activity_date == dt.date(1991, 5, 4) and earlier[7].activity_date == dt.date(2008, 12, 31)
    assert all(r.streams is None for r in result.earlier)  # quarantined anyway: their files are not read


def test_timezone_is_required_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "activities.csv").write_bytes(csv_bytes([csv_row("1", "Apr 2, 2024, 8:00:00 AM")]))
    with pytest.raises(ValueError, match="STRAVA_EXPORT_TIMEZONE is not set.*IANA"):
        StravaExportSource(export_path=str(tmp_path / "activities.csv")).fetch(*ALL_TIME)
    with pytest.raises(ValueError, match="STRAVA_EXPORT_PATH"):
        StravaExportSource(timezone="UTC").fetch(*ALL_TIME)


def test_athlete_id_from_profile_csv_else_derived_else_configured(tmp_path: Path) -> None:
    rows = [csv_row("9100", "Apr 2, 2024, 8:00:00 AM"), csv_row("9050", "Apr 3, 2024, 8:00:00 AM"), csv_row("x", "")]
    profile = "Athlete ID,Email Address,First Name\r\n4242,someone@example.com,Someone\r\n".encode()
    with_profile = make_zip(tmp_path / "full.zip", {"export_1/activities.csv": csv_bytes(rows), "export_1/profile.csv": profile})
    (tmp_path / "activities.csv").write_bytes(csv_bytes(rows))
    csv_only = tmp_path / "activities.csv"

    def athlete_ids(path: Path, **config: object) -> set[int | None]:
        result = StravaExportSource(export_path=str(path), timezone="UTC", **config).fetch(*ALL_TIME)
        return {r.athlete_id for r in result.records} | {u.athlete_id for u in result.unplaceable}

    assert athlete_ids(with_profile) == {4242}
    log = ListLog()
    StravaExportSource(export_path=str(with_profile), timezone="UTC", athlete_id=77).fetch(*ALL_TIME, log=log)
    assert any("STRAVA_ATHLETE_ID=77" in w and "4242" in w for w in log.warnings())
    assert athlete_ids(with_profile, athlete_id=77) == {77}  # configured wins
    (derived,) = athlete_ids(csv_only)
    assert derived == derived_athlete_id(9050)  # the smallest activity id, whatever the row order
    assert DERIVED_ATHLETE_ID_BASE <= derived < 2 * DERIVED_ATHLETE_ID_BASE
    # Stable: a later export of the same account (one more activity) keeps the id.
    later = tmp_path / "later.csv"
    later.write_bytes(csv_bytes([*rows, csv_row("9900", "May 3, 2024, 8:00:00 AM")]))
    assert athlete_ids(later) == {derived}
    assert derived_athlete_id(9051) != derived and derived_athlete_id(None) == DERIVED_ATHLETE_ID_BASE


def test_lone_distance_column_is_display_units(tmp_path: Path) -> None:
    header = ["Activity ID", "Activity Date", "Activity Type", "Distance", "Moving Time"]
    (tmp_path / "activities.csv").write_bytes(csv_bytes([["1", "Apr 2, 2024, 8:00:00 AM", "Run", "5.00", "1500"]], header))
    log = ListLog()
    km = StravaExportSource(timezone="UTC", export_path=str(tmp_path), athlete_id=1).fetch(*ALL_TIME, log=log)
    mi = StravaExportSource(timezone="UTC", export_path=str(tmp_path), athlete_id=1, display_distance_unit="mi").fetch(*ALL_TIME)
    assert km.records[0].activity["distance"] == 5000.0
    assert mi.records[0].activity["distance"] == pytest.approx(8046.72)
    assert any("one 'Distance' column" in w for w in log.warnings())


def test_missing_required_columns_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "activities.csv").write_bytes(csv_bytes([["1", "x"]], ["Aktivitäts-ID", "Aktivitätsdatum"]))
    with pytest.raises(StravaExportError, match=r"lacks required column\(s\) \['Activity ID', 'Activity Date'\]"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path), athlete_id=1).fetch(*ALL_TIME)


# -- activity files ------------------------------------------------------------------------------


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


# -- zip safety ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "why"),
    [("../evil.txt", "path traversal"), ("activities/../../evil.gpx", "path traversal"),
     ("/etc/evil", "absolute path"), ("C:/evil.gpx", "absolute path"), ("..\\evil.gpx", "path traversal")],
)
def test_zip_slip_member_rejected(tmp_path: Path, member: str, why: str) -> None:
    export = make_zip(tmp_path / "export.zip", {"activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM")]), member: b"x"})
    with pytest.raises(StravaExportError, match="unsafe member name") as info:
        StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1).fetch(*ALL_TIME)
    assert why in str(info.value) and repr(member) in str(info.value)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_filename_pointing_outside_export_rejected(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "secret.gpx").write_bytes(gpx_bytes(3))
    (tmp_path / "export" / "activities.csv").write_bytes(
        csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/../../secret.gpx")])
    )
    with pytest.raises(StravaExportError, match=r"row 1 \(Activity ID 1\): field 'Filename' .* outside the export"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path / "export"), athlete_id=1).fetch(*ALL_TIME)


def test_oversize_member_rejected(tmp_path: Path) -> None:
    big = gpx_bytes(200)
    export = make_zip(
        tmp_path / "export.zip",
        {
            "activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/1.gpx")]),
            "activities/1.gpx": big,
        },
    )
    source = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_member_bytes=len(big) - 1)
    with pytest.raises(StravaExportError, match=r"'activities/1.gpx' is \d+ bytes decompressed, more than max_member_bytes"):
        source.fetch(*ALL_TIME)


def test_gzip_bomb_rejected(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<gpx>" + b" " * 5_000_000 + b"</gpx>")  # ~5 MB from a few KB
    export = make_zip(
        tmp_path / "export.zip",
        {
            "activities.csv": csv_bytes([csv_row("1", "Apr 2, 2024, 6:30:00 AM", filename="activities/1.gpx.gz")]),
            "activities/1.gpx.gz": bomb,
        },
    )
    assert len(bomb) < 50_000
    source = StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_member_bytes=1_000_000)
    with pytest.raises(StravaExportError, match=r"1.gpx.gz: decompresses to more than max_member_bytes=1000000"):
        source.fetch(*ALL_TIME)


def test_total_decompressed_bound(tmp_path: Path) -> None:
    rows = [csv_row(str(i), "Apr 2, 2024, 6:30:00 AM", filename=f"activities/{i}.gpx") for i in range(1, 4)]
    members = {"activities.csv": csv_bytes(rows), **{f"activities/{i}.gpx": gpx_bytes(50) for i in range(1, 4)}}
    export = make_zip(tmp_path / "export.zip", members)
    limit = len(members["activities.csv"]) + 2 * len(members["activities/1.gpx"]) + 10
    with pytest.raises(StravaExportError, match=r"activities/3.gpx takes the decompressed total past max_total_bytes"):
        StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_total_bytes=limit).fetch(*ALL_TIME)


def test_member_count_bound(tmp_path: Path) -> None:
    members = {"activities.csv": csv_bytes([]), **{f"media/{i}.jpg": b"x" for i in range(5)}}
    export = make_zip(tmp_path / "export.zip", members)
    with pytest.raises(StravaExportError, match=r"has 6 members, more than max_members=5"):
        StravaExportSource(timezone="UTC", export_path=str(export), athlete_id=1, max_members=5).fetch(*ALL_TIME)


def test_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StravaExportError, match="neither a zip archive"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path / "notes.txt"), athlete_id=1).fetch(*ALL_TIME)
    with pytest.raises(StravaExportError, match="does not exist"):
        StravaExportSource(timezone="UTC", export_path=str(tmp_path / "nope.zip"), athlete_id=1).fetch(*ALL_TIME)
    with pytest.raises(ValueError, match="not an IANA time zone"):
        StravaExportSource(export_path=str(tmp_path), athlete_id=1, timezone="Mars/Olympus").fetch(*ALL_TIME)


# -- fault isolation: one bad cell or file costs only its row or its streams ----------------------

MOVING_TIME, SI_DISTANCE, AVERAGE_SPEED, AVERAGE_HR = 12, 13, 15, 18  # indices in HEADER


def with_cell(row: list[str], index: int, value: str) -> list[str]:
    assert HEADER[index] in ("Moving Time", "Distance", "Average Speed", "Average Heart Rate")
    return [*row[:index], value, *row[index + 1:]]


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
