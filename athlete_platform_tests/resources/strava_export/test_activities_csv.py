"""activities.csv: header normalization, export dates, the column mapping and time zone, unplaceable rows with
their field and reason, records before the window, the athlete id, display-unit distances, required columns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from athlete_platform.resources.strava_export.activities_csv import normalize_header, parse_export_datetime
from athlete_platform.resources.strava_export.errors import StravaExportError
from athlete_platform.resources.strava_export.source import (
    DERIVED_ATHLETE_ID_BASE,
    StravaExportSource,
    derived_athlete_id,
)
from athlete_platform_tests.resources.strava_export.builders import (
    ALL_TIME,
    HEADER,
    ListLog,
    csv_bytes,
    csv_row,
    gpx_bytes,
    make_zip,
)


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
