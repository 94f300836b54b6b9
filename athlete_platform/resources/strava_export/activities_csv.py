"""``activities.csv`` (and ``profile.csv``) of a Strava export, streamed and read by column name.

``activities.csv`` is parsed by column name, because the header set differs between export
versions (84 to 103 columns): unknown columns are ignored; HTML fragments in header names
(``<span class="translation_missing" ...>Sport Type</span>``) are stripped and bare
``translation missing: ...horton_values.start_time`` keys become ``Start Time``; names that appear
twice (``Elapsed Time``, ``Distance``, ``Max Heart Rate``, ``Relative Effort``, ``Commute``) hold the
display-unit value first and the SI value second, and the SI one is used (falling back to the first
for unit-free columns when the second cell is empty). Headers must be in English.

``Activity Date`` is UTC; a row's local start comes from the zone the source is configured with
(:mod:`athlete_platform.resources.strava_export.source`).

Rows that cannot become an activity (no parseable ``Activity Date`` or ``Activity ID``) are returned as
``unplaceable`` with the column, the reason and the raw row, whatever the window.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from athlete_platform.resources.strava_export.errors import StravaExportError

CSV_NAME = "activities.csv"
PROFILE_NAME = "profile.csv"


def positive_int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


_TAG = re.compile(r"<[^>]*>")
_TRANSLATION_MISSING = re.compile(r"^translation missing:\s*\S*?([A-Za-z0-9_]+)$")


def normalize_header(raw: str) -> str:
    """Column name without HTML, entities, BOM or odd spacing; Strava's untranslated
    ``translation missing: en-US....horton_values.start_time`` becomes ``Start Time``."""
    text = html.unescape(_TAG.sub("", raw)).replace("\ufeff", "")
    text = " ".join(text.split())
    missing = _TRANSLATION_MISSING.match(text)
    if missing:
        text = missing.group(1).replace("_", " ").title()
    return text


class RowError(ValueError):
    """A row that cannot become an activity: ``field`` is the column at fault; the id and the local date
    are kept when the row has them."""

    def __init__(self, field: str, message: str, *, activity_id: int | None = None,
                 activity_date: dt.date | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.activity_id = activity_id
        self.activity_date = activity_date


class ActivitiesTable:
    """``activities.csv`` with columns looked up by (normalized) name, read as a stream: ``rows()`` reads the
    file again from the start each time and holds one row at a time, so memory does not grow with the file."""

    def __init__(self, columns: dict[str, list[int]], open_body: Callable[[], Iterator[list[str]]]) -> None:
        self.columns = columns  # name -> indices, in file order
        self._open_body = open_body

    @property
    def single_distance(self) -> bool:
        return len(self.columns.get("Distance", [])) == 1

    def rows(self) -> Iterator[tuple[int, Row]]:
        """(row number counted from 1 after the header, row)."""
        for number, cells in enumerate(self._open_body(), start=1):
            if not any(c.strip() for c in cells):
                continue
            yield number, Row(self.columns, cells)


def parse_activities_csv(
    data: bytes, *, required: tuple[str, ...] = ("Activity ID", "Activity Date"), name: str = CSV_NAME
) -> ActivitiesTable:
    """A Strava export CSV given as bytes (``activities.csv``, or ``profile.csv`` with its own ``required``
    columns)."""
    return read_activities_csv(lambda: io.BytesIO(data), required=required, name=name)


def read_activities_csv(
    open_binary: Callable[[], BinaryIO], *, required: tuple[str, ...] = ("Activity ID", "Activity Date"),
    name: str = CSV_NAME,
) -> ActivitiesTable:
    """A Strava export CSV streamed from ``open_binary()`` (called once for the header and once per pass over
    the rows). Raises StravaExportError for a file that is empty, not UTF-8, malformed CSV, or lacks a
    ``required`` column (the error surfaces where it is met: a bad byte in row 9,000 while reading row 9,000)."""

    def records(skip_header: bool) -> Iterator[list[str]]:
        with open_binary() as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            try:
                if skip_header:
                    next(reader, None)
                yield from reader
            except UnicodeDecodeError as err:
                raise StravaExportError(f"{name} is not UTF-8 (line {reader.line_num + 1}): {err}") from None
            except csv.Error as err:
                raise StravaExportError(f"{name} line {reader.line_num}: {err}") from None

    header_reader = records(skip_header=False)
    try:
        header = next(header_reader)
    except StopIteration:
        raise StravaExportError(f"{name} is empty") from None
    finally:
        header_reader.close()
    columns: dict[str, list[int]] = {}
    for index, raw in enumerate(header):
        column = normalize_header(raw)
        if column:
            columns.setdefault(column, []).append(index)
    missing = [column for column in required if column not in columns]
    if missing:
        raise StravaExportError(
            f"{name} lacks required column(s) {missing} (English headers expected; "
            f"found {len(columns)} columns)"
        )
    return ActivitiesTable(columns, lambda: records(skip_header=True))


class Row:
    """One CSV row; getters take the SI (last) occurrence of a duplicated name."""

    def __init__(self, columns: dict[str, list[int]], cells: list[str]) -> None:
        self._columns = columns
        self._cells = cells
        self.warnings: list[str] = []

    def _cell(self, index: int) -> str:
        return self._cells[index].strip() if index < len(self._cells) else ""

    def as_dict(self) -> dict[str, str]:
        """The row's non-empty cells as received, by column name (a repeated name's later cells as
        ``"Distance [2]"``): the raw value kept with a quarantined row."""
        out: dict[str, str] = {}
        for name, indices in self._columns.items():
            for occurrence, index in enumerate(indices, start=1):
                value = self._cells[index] if index < len(self._cells) else ""
                if value.strip():
                    out[name if occurrence == 1 else f"{name} [{occurrence}]"] = value
        return out

    def has(self, name: str) -> bool:
        return name in self._columns

    def occurrences(self, name: str) -> int:
        return len(self._columns.get(name, []))

    def text(self, name: str, *, si_only: bool = False) -> str:
        """Last non-empty occurrence (the SI one); with ``si_only`` just the last occurrence."""
        indices = self._columns.get(name, [])
        if si_only:
            return self._cell(indices[-1]) if indices else ""
        for index in reversed(indices):
            value = self._cell(index)
            if value:
                return value
        return ""

    def _finite(self, name: str, *, si_only: bool) -> tuple[float | None, str]:
        """(the cell as a finite number or None, the raw text); ``nan``, ``inf`` and ``1e400`` are not finite."""
        value = self.text(name, si_only=si_only)
        if not value:
            return None, value
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None, value
        return (number if math.isfinite(number) else None), value

    def number(self, name: str, *, si_only: bool = False) -> float | None:
        """An optional field silver does not check (calories, watts...): a cell that is not a finite number
        is left out, with a warning."""
        number, value = self._finite(name, si_only=si_only)
        if number is None and value:
            self.warnings.append(f"field {name!r} is not a finite number: {value[:20]!r}; left empty")
        return number

    def integer(self, name: str, *, si_only: bool = False) -> int | None:
        value = self.number(name, si_only=si_only)
        return None if value is None else int(round(value))

    def contract_number(self, name: str, *, si_only: bool = False, integer: bool = False,
                        scale: float = 1.0) -> float | int | str | None:
        """A field of the silver contract (distance, times, speeds, HR, elevation): the number (times
        ``scale``), or the raw text when the cell is not a finite number, so that silver quarantines the
        row naming the field and quoting the text (never a silent null)."""
        number, value = self._finite(name, si_only=si_only)
        if number is None:
            return value or None
        number *= scale
        return int(round(number)) if integer else number

    def flag(self, name: str) -> bool | None:
        value = self.text(name).lower()
        if not value:
            return None
        if value in ("true", "yes", "1", "1.0"):
            return True
        if value in ("false", "no", "0", "0.0"):
            return False
        self.warnings.append(f"field {name!r} is not a boolean: {value[:20]!r}; left empty")
        return None


_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_EXPORT_DATE = re.compile(
    r"^(?P<mon>[A-Za-z]{3})[A-Za-z]*\.?\s+(?P<day>\d{1,2}),\s*(?P<year>\d{4}),?\s+"
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?$"
)


def parse_export_datetime(text: str) -> dt.datetime:
    """``"Feb 22, 2021, 10:30:06 AM"`` (English, locale-independent) or ISO 8601, as aware UTC.
    Raises ValueError saying what was expected."""
    value = text.strip()
    match = _EXPORT_DATE.match(value)
    if match:
        month = _MONTHS.get(match["mon"].lower())
        if month is None:
            raise ValueError(f"unknown month {match['mon']!r}")
        hour = int(match["h"])
        if match["ampm"]:
            if not 1 <= hour <= 12:
                raise ValueError(f"hour {hour} with AM/PM")
            pm = match["ampm"].lower().startswith("p")
            hour = hour % 12 + (12 if pm else 0)
        return dt.datetime(
            int(match["year"]), month, int(match["day"]), hour, int(match["m"]), int(match["s"] or 0),
            tzinfo=dt.timezone.utc,
        )
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError('expected e.g. "Feb 22, 2021, 10:30:06 AM" (UTC) or ISO 8601') from None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)


# Export 'Activity Type' display names whose API sport_type is not the name without spaces.
_SPORT_TYPE_EXCEPTIONS = {
    "Rock Climb": "RockClimbing",
    "Weight Training": "WeightTraining",
    "Stand Up Paddle": "StandUpPaddling",
}
# API legacy `type` for sport types that are not types of their own.
_LEGACY_TYPE = {"TrailRun": "Run", "MountainBikeRide": "Ride", "GravelRide": "Ride", "EMountainBikeRide": "EBikeRide"}
DISPLAY_DISTANCE_M = {"km": 1000.0, "mi": 1609.344}


def sport_type_from_export(display: str) -> str:
    """``"Weight Training"`` -> ``"WeightTraining"``, ``"E-Bike Ride"`` -> ``"EBikeRide"``."""
    display = display.strip()
    if display in _SPORT_TYPE_EXCEPTIONS:
        return _SPORT_TYPE_EXCEPTIONS[display]
    return re.sub(r"[\s\-]+", "", display)


def place_row(row: Row, zone: ZoneInfo) -> tuple[int, dt.datetime, dt.datetime]:
    """(activity id, UTC start, local start): what places a row in a partition. Raises RowError."""
    raw_id = row.text("Activity ID")
    activity_id = positive_int(raw_id)
    raw_date = row.text("Activity Date")
    if not raw_date:
        raise RowError("Activity Date", "empty", activity_id=activity_id)
    try:
        start_utc = parse_export_datetime(raw_date)
        local = start_utc.astimezone(zone)
    except ValueError as err:
        raise RowError("Activity Date", f"{raw_date[:40]!r} cannot be parsed: {err}", activity_id=activity_id) from None
    except OverflowError:  # e.g. Dec 31, 9999 11 PM UTC is already year 10000 in Tokyo
        raise RowError("Activity Date", f"{raw_date[:40]!r} is out of range in {zone.key}",
                       activity_id=activity_id) from None
    if activity_id is None:
        raise RowError("Activity ID", f"not a positive integer: {raw_id[:30]!r}", activity_date=local.date())
    return activity_id, start_utc, local


def row_to_activity(row: Row, athlete_id: int, zone: ZoneInfo, display_distance_unit: str = "km") -> dict[str, Any]:
    """A Strava-API-shaped activity dict from one CSV row. Raises RowError for no id or date. A contract
    field (distance, times, speeds, elevation, HR) whose cell is not a finite number keeps its raw text,
    which silver quarantines with the field and the reason; other numeric cells are left out with a warning."""
    activity_id, start_utc, local = place_row(row, zone)
    offset = local.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60

    display_type = row.text("Sport Type") or row.text("Activity Type")
    sport_type = sport_type_from_export(display_type) if display_type else None
    if row.occurrences("Distance") == 1:  # older/trimmed exports: display units only
        distance = row.contract_number("Distance", scale=DISPLAY_DISTANCE_M[display_distance_unit])
    else:
        distance = row.contract_number("Distance", si_only=True)
    filename = row.text("Filename")
    average_hr = row.contract_number("Average Heart Rate")
    max_hr = row.contract_number("Max Heart Rate")

    activity: dict[str, Any] = {
        "id": activity_id,
        "athlete": {"id": athlete_id},
        "name": row.text("Activity Name"),
        "type": _LEGACY_TYPE.get(sport_type or "", sport_type),
        "sport_type": sport_type,
        "start_date": _iso_z(start_utc),
        "start_date_local": _iso_z(local),  # Strava's style: wall clock + 'Z'
        "timezone": f"(GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}) {zone.key}",
        "utc_offset": offset.total_seconds(),
        "distance": distance,
        "moving_time": row.contract_number("Moving Time", integer=True),
        "elapsed_time": row.contract_number("Elapsed Time", integer=True),
        "total_elevation_gain": row.contract_number("Elevation Gain"),
        "average_speed": row.contract_number("Average Speed"),
        "max_speed": row.contract_number("Max Speed"),
        "average_heartrate": average_hr,
        "max_heartrate": max_hr,
        "has_heartrate": average_hr is not None or max_hr is not None,
        "manual": not filename,
        "commute": bool(row.flag("Commute")),
    }
    workout_type = _workout_type(row)
    if workout_type is not None:
        activity["workout_type"] = workout_type
    total_work_j = row.number("Total Work")
    optional = {
        "elev_high": row.number("Elevation High"),
        "elev_low": row.number("Elevation Low"),
        "average_cadence": row.number("Average Cadence"),
        "average_watts": row.number("Average Watts"),
        "max_watts": row.integer("Max Watts"),
        "weighted_average_watts": row.integer("Weighted Average Power"),
        "kilojoules": None if total_work_j is None else total_work_j / 1000.0,
        "calories": row.number("Calories"),
        "suffer_score": row.number("Relative Effort"),
        "perceived_exertion": row.number("Perceived Exertion"),
    }
    activity.update({k: v for k, v in optional.items() if v is not None})
    return activity


def _iso_z(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` with a four-digit year (strftime's %Y does not pad years before 1000)."""
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def _workout_type(row: Row) -> int | None:
    """1 race / 2 long run / 0 default from the 'Competition' and 'Long Run' flags of newer exports;
    None (key omitted) when the export has neither flag or both cells are empty (unknown)."""
    competition = row.flag("Competition") if row.has("Competition") else None
    long_run = row.flag("Long Run") if row.has("Long Run") else None
    if competition:
        return 1
    if long_run:
        return 2
    if competition is False or long_run is False:
        return 0
    return None
