"""Activities from a Strava bulk export ("Download your data": a .zip, its unpacked folder, or just
its ``activities.csv``).

``activities.csv`` is parsed by column name, because the header set differs between export
versions (84 to 103 columns): unknown columns are ignored; HTML fragments in header names
(``<span class="translation_missing" ...>Sport Type</span>``) are stripped and bare
``translation missing: ...horton_values.start_time`` keys become ``Start Time``; names that appear
twice (``Elapsed Time``, ``Distance``, ``Max Heart Rate``, ``Relative Effort``, ``Commute``) hold the
display-unit value first and the SI value second, and the SI one is used (falling back to the first
for unit-free columns when the second cell is empty). Headers must be in English.

Time zones: ``Activity Date`` is UTC (``"Feb 22, 2021, 10:30:06 AM"``) and no export version has a
time-zone column (84 to 103 columns seen), so ``start_date_local`` (hence the partition date) is derived
with the configured ``timezone`` (an IANA name, ``STRAVA_EXPORT_TIMEZONE``). It is required: without it
``fetch`` fails naming the variable, rather than guessing UTC and putting evening activities of the
Americas on the next day. Activities recorded while travelling get the home zone's wall-clock time,
not the one Strava shows.

Athlete id: ``athlete_id`` when configured (``STRAVA_ATHLETE_ID``); else the ``Athlete ID`` of the
export's ``profile.csv`` (a full export has one; nothing else of that file is read); else, for a bare
``activities.csv``, a stable id derived from the export's smallest activity id
(:func:`derived_athlete_id`, in a range no real Strava id reaches): the same export, or a later one of
the same account, gets the same id, and nothing personal goes into it.

Rows that cannot become an activity (no parseable ``Activity Date`` or ``Activity ID``) are returned as
``unplaceable`` with the column, the reason and the raw row, whatever the window.

Heart-rate streams come from the file in the ``Filename`` column (``activities/<id>.gpx|.tcx|.fit``,
optionally ``.gz``) as ``{"time": {"data": [s from the first sample]}, "heartrate": {"data": [bpm]}}``,
one entry per sample that has both a time and a heart rate. A file without heart rate gives no
streams; a corrupt file gives a warning and no streams. FIT needs the ``fitdecode`` package.

Memory: ``activities.csv`` is streamed (one row at a time; a window keeps only its own records), activity
files are read one at a time. Untrusted archives: members are never extracted; names with ``..``, absolute
paths or drive letters make the whole archive rejected; the member count, each member's
decompressed size (``.gz`` inside included) and the total decompressed per fetch are bounded; files
referenced from the CSV must stay inside the export.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import logging
import math
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from athlete_platform.resources.sources import (
    ActivitySource,
    FetchResult,
    SourceRecord,
    UnplaceableRecord,
)
from athlete_platform.settings import ATHLETE_ID_VAR, EXPORT_TIMEZONE_VAR

_LOG = logging.getLogger(__name__)

SOURCE_NAME = "strava_export"
CSV_NAME = "activities.csv"
PROFILE_NAME = "profile.csv"
#: Derived athlete ids live in [BASE, 2 * BASE): Strava's own ids are far below (9 digits in 2025).
DERIVED_ATHLETE_ID_BASE = 10**15
ACTIVITY_FILE_SUFFIXES = (".gpx", ".tcx", ".fit")
_MB = 1024 * 1024


class StravaExportError(ValueError):
    """The export is unusable or unsafe (bad archive, unsafe member name, size bound exceeded,
    missing required column)."""


class ActivityFileError(ValueError):
    """One activity file could not be parsed (corrupt, truncated, unsupported)."""


class StravaExportSource(ActivitySource):
    """Activities of one athlete from a Strava bulk export (see the module docstring)."""

    export_path: Optional[str] = Field(
        default=None, description="Export .zip, its unpacked folder, or an activities.csv file (STRAVA_EXPORT_PATH)."
    )
    athlete_id: Optional[int] = Field(
        default=None,
        description="Strava athlete id of the export's owner (STRAVA_ATHLETE_ID); None: profile.csv, else derived.",
    )
    timezone: Optional[str] = Field(
        default=None,
        description="IANA zone used to derive start_date_local from the UTC 'Activity Date' (STRAVA_EXPORT_TIMEZONE); required.",
    )
    parse_activity_files: bool = Field(default=True, description="Read HR streams from activity files.")
    display_distance_unit: str = Field(
        default="km",
        description="Unit of a lone 'Distance' column (exports without the SI column): 'km' or 'mi'.",
    )
    max_member_bytes: int = Field(default=200 * _MB, description="Largest decompressed file read.")
    max_total_bytes: int = Field(default=4096 * _MB, description="Most decompressed bytes read per fetch.")
    max_members: int = Field(default=200_000, description="Most members an export archive may hold.")

    @property
    def source_name(self) -> str:
        return SOURCE_NAME

    def zone(self) -> ZoneInfo:
        """The configured zone; a ValueError naming ``STRAVA_EXPORT_TIMEZONE`` when unset or unknown."""
        if not self.timezone:
            raise ValueError(
                f"{EXPORT_TIMEZONE_VAR} is not set: a Strava export's activities.csv has UTC start times only, and "
                "the athlete's local date decides each activity's day. Set it to the athlete's home zone (an IANA "
                "name such as Europe/Lisbon or America/Sao_Paulo); UTC only if that is really where they live."
            )
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"StravaExportSource.timezone {self.timezone!r} ({EXPORT_TIMEZONE_VAR}) is not an IANA time zone"
            ) from None

    def fetch(self, start: dt.date, end: dt.date, log: Any = None, *, include_earlier: bool = False) -> FetchResult:
        """Rows whose local start date is in ``[start, end)`` (with ``include_earlier`` also every row before
        ``start``, without activity files: they are quarantined, not analysed); rows with no parseable
        date or id go to ``unplaceable`` whatever the window."""
        log = log or _LOG
        if end <= start:
            raise ValueError(f"StravaExportSource.fetch: empty window [{start}, {end})")
        zone = self.zone()
        if self.display_distance_unit not in _DISPLAY_DISTANCE_M:
            raise ValueError(
                f"StravaExportSource.display_distance_unit must be 'km' or 'mi', got {self.display_distance_unit!r}"
            )
        if not self.export_path:
            raise ValueError("StravaExportSource.export_path is not set (STRAVA_EXPORT_PATH): where is the export?")

        result = FetchResult()
        with _open_export(Path(self.export_path), self._limits()) as export:
            table = export.activities_table()
            if table.single_distance:
                log.warning(
                    "Strava export: activities.csv has one 'Distance' column (no SI column); "
                    "reading it as %s", self.display_distance_unit,
                )
            athlete_id = self._athlete_id(export, table, log)
            files = 0
            coverage = _Coverage()
            for row_number, row in table.rows():
                reference = f"activities.csv row {row_number}"
                try:
                    activity = row_to_activity(row, athlete_id, zone, self.display_distance_unit)
                except RowError as err:
                    if err.activity_id is not None:
                        reference += f" (Activity ID {err.activity_id})"
                    result.unplaceable.append(
                        UnplaceableRecord(
                            source=SOURCE_NAME, reference=reference, field=err.field, reason=str(err),
                            raw=row.as_dict(), athlete_id=athlete_id, activity_id=err.activity_id,
                            activity_date=err.activity_date,
                        )
                    )
                    continue
                activity_date = dt.date.fromisoformat(activity["start_date_local"][:10])
                coverage.add(activity_date)
                earlier = activity_date < start
                if (earlier and not include_earlier) or activity_date >= end:
                    continue  # another window's row: its warnings are that window's to report
                for warning in row.warnings:
                    log.warning("Strava export: %s (Activity ID %s): %s", reference, activity["id"], warning)
                streams = None
                filename = row.text("Filename")
                if filename and self.parse_activity_files and export.has_files and not earlier:
                    files += 1
                    streams = self._streams(export, filename, f"{reference} (Activity ID {activity['id']})", log)
                record = SourceRecord(
                    source=SOURCE_NAME,
                    athlete_id=athlete_id,
                    activity_date=activity_date,
                    activity=activity,
                    streams=streams,
                )
                (result.earlier if earlier else result.records).append(record)
            result.covered_until = coverage.covered_until(export.created_on(zone))
        log.info(
            "Strava export: %d activities in [%s, %s)%s (%d activity files read), %d unplaceable rows",
            len(result.records), start, end,
            f", {len(result.earlier)} before {start}" if include_earlier else "", files, len(result.unplaceable),
        )
        return result

    def scan_dates(self, until: dt.date) -> ExportDates:
        """The local dates an export's rows fall on (``until`` excluded), reading only ``activities.csv``, one row
        at a time and only the columns that place a row: what the inbox sensor needs to plan runs, in bounded
        memory. Raises like ``fetch`` for an unusable export."""
        zone = self.zone()
        if not self.export_path:
            raise ValueError("StravaExportSource.export_path is not set (STRAVA_EXPORT_PATH): where is the export?")
        scan = ExportDates()
        with _open_export(Path(self.export_path), self._limits()) as export:
            for _, row in export.activities_table().rows():
                scan.rows += 1
                try:
                    _, _, local = place_row(row, zone)
                except RowError as err:
                    scan.unplaceable.add(err.activity_date)
                    continue
                if local.date() < until:
                    scan.dates.add(local.date())
        return scan

    def _athlete_id(self, export: _Export, table: ActivitiesTable, log: Any) -> int:
        """Configured id, else profile.csv's, else derived from the smallest activity id (module docstring)."""
        profile_id = export.read_profile_athlete_id(log)
        if self.athlete_id is not None:
            if profile_id is not None and profile_id != self.athlete_id:
                log.warning(
                    "Strava export: %s=%s is used, but the export's profile.csv says athlete %s",
                    ATHLETE_ID_VAR, self.athlete_id, profile_id,
                )
            return self.athlete_id
        if profile_id is not None:
            log.info("Strava export: athlete id %s from profile.csv", profile_id)
            return profile_id
        ids = [activity_id for _, row in table.rows() if (activity_id := _positive_int(row.text("Activity ID")))]
        derived = derived_athlete_id(min(ids) if ids else None)
        log.info(
            "Strava export: no athlete id in the export (no profile.csv) and %s unset: using the stable id %s "
            "derived from its first activity id", ATHLETE_ID_VAR, derived,
        )
        return derived

    def _limits(self) -> _Limits:
        return _Limits(self.max_member_bytes, self.max_total_bytes, self.max_members)

    def _streams(self, export: _Export, filename: str, reference: str, log: Any) -> dict[str, Any] | None:
        """The file's HR streams; a file that cannot be read (corrupt member, bad CRC, unsupported
        compression, corrupt GPX/TCX/FIT) costs only its streams, with a warning naming it. Safety bounds
        (sizes, paths) still stop the fetch: they mean the export itself is not to be trusted."""
        try:
            data = export.read_activity_file(filename, reference)
            if data is None:
                log.warning("Strava export: %s: file %r is not in the export; no streams", reference, filename)
                return None
            streams = parse_activity_file(
                filename, data, max_bytes=export.limits.max_member_bytes, budget=export.budget
            )
        except ActivityFileError as err:
            log.warning("Strava export: %s: cannot read %r: %s; no streams", reference, filename, err)
            return None
        if streams is None:
            log.debug("Strava export: %s: %r has no heart rate", reference, filename)
        return streams


@dataclass
class ExportDates:
    """What :meth:`StravaExportSource.scan_dates` found: distinct local dates of the activity rows, the dates
    (None: none) of the rows that cannot be placed, and the number of rows."""

    dates: set[dt.date] = field(default_factory=set)
    unplaceable: set[dt.date | None] = field(default_factory=set)
    rows: int = 0


class _Coverage:
    """The export covers local dates before max(its last activity + 1 day, the day it was made)."""

    def __init__(self) -> None:
        self.last: dt.date | None = None

    def add(self, day: dt.date) -> None:
        if self.last is None or day > self.last:
            self.last = day

    def covered_until(self, created_on: dt.date | None) -> dt.date | None:
        after_last = None if self.last is None else self.last + dt.timedelta(days=1) if self.last < dt.date.max else self.last
        ends = [d for d in (created_on, after_last) if d is not None]
        return max(ends) if ends else None


def derived_athlete_id(first_activity_id: int | None) -> int:
    """A stable athlete id for an export that carries none: a hash of its smallest activity id (activity
    ids are public and not personal), mapped into ``[DERIVED_ATHLETE_ID_BASE, 2 * DERIVED_ATHLETE_ID_BASE)``
    so it can never equal a real Strava athlete id. No valid activity id at all: the base itself."""
    if first_activity_id is None:
        return DERIVED_ATHLETE_ID_BASE
    digest = hashlib.sha256(f"strava-export-athlete:{first_activity_id}".encode()).digest()
    return DERIVED_ATHLETE_ID_BASE + int.from_bytes(digest[:8], "big") % DERIVED_ATHLETE_ID_BASE


def _positive_int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


# -- activities.csv ------------------------------------------------------------------------------

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
_DISPLAY_DISTANCE_M = {"km": 1000.0, "mi": 1609.344}


def sport_type_from_export(display: str) -> str:
    """``"Weight Training"`` -> ``"WeightTraining"``, ``"E-Bike Ride"`` -> ``"EBikeRide"``."""
    display = display.strip()
    if display in _SPORT_TYPE_EXCEPTIONS:
        return _SPORT_TYPE_EXCEPTIONS[display]
    return re.sub(r"[\s\-]+", "", display)


def place_row(row: Row, zone: ZoneInfo) -> tuple[int, dt.datetime, dt.datetime]:
    """(activity id, UTC start, local start): what places a row in a partition. Raises RowError."""
    raw_id = row.text("Activity ID")
    activity_id = _positive_int(raw_id)
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
        distance = row.contract_number("Distance", scale=_DISPLAY_DISTANCE_M[display_distance_unit])
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


# -- activity files ------------------------------------------------------------------------------


def parse_activity_file(
    name: str, data: bytes, *, max_bytes: int = 200 * _MB, budget: _Budget | None = None
) -> dict[str, Any] | None:
    """HR streams from a .gpx/.tcx/.fit file (optionally .gz); None when it has no HR samples.
    Raises ActivityFileError for unsupported or corrupt files, StravaExportError for a .gz that
    decompresses beyond ``max_bytes``."""
    lowered = name.lower()
    if lowered.endswith(".gz"):
        data = _gunzip_bounded(data, max_bytes, name)
        if budget is not None:
            budget.charge(len(data), name)
        lowered = lowered[:-3]
    if lowered.endswith(".gpx") or lowered.endswith(".tcx"):
        samples = _xml_samples(data.lstrip())  # Strava's TCX files start with spaces before <?xml
    elif lowered.endswith(".fit"):
        samples = _fit_samples(data)
    else:
        raise ActivityFileError(f"unsupported file type (expected {', '.join(ACTIVITY_FILE_SUFFIXES)}, optionally .gz)")
    return _streams_from_samples(samples)


def _gunzip_bounded(data: bytes, max_bytes: int, name: str) -> bytes:
    out = bytearray()
    stream = data
    try:
        while stream:
            decompressor = zlib.decompressobj(wbits=31)  # gzip header; loop for multi-member files
            chunk = decompressor.decompress(stream, max_bytes + 1 - len(out))
            out += chunk
            if len(out) > max_bytes or decompressor.unconsumed_tail:
                raise StravaExportError(
                    f"{name}: decompresses to more than max_member_bytes={max_bytes}; refusing to read it"
                )
            if not decompressor.eof:
                raise ActivityFileError("truncated gzip data")
            stream = decompressor.unused_data
    except zlib.error as err:
        raise ActivityFileError(f"corrupt gzip data: {err}") from None
    return bytes(out)


Sample = tuple[dt.datetime, float | None]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_samples(data: bytes) -> list[Sample]:
    """(time, hr) of each GPX ``trkpt`` / TCX ``Trackpoint``; namespaces ignored (gpxtpx:hr,
    ns3:hr, TCX HeartRateBpm/Value)."""
    samples: list[Sample] = []
    try:
        for _event, elem in ET.iterparse(io.BytesIO(data), events=("end",)):
            if _local(elem.tag) not in ("trkpt", "Trackpoint"):
                continue
            when: dt.datetime | None = None
            hr: float | None = None
            for child in elem.iter():
                local = _local(child.tag)
                if local in ("time", "Time") and when is None and child.text:
                    when = _parse_xml_time(child.text)
                elif local in ("hr", "heartrate") and child.text:
                    hr = _to_float(child.text)
                elif local == "HeartRateBpm":
                    value = next((c.text for c in child if _local(c.tag) == "Value"), None)
                    hr = _to_float(value)
            if when is not None:
                samples.append((when, hr))
            elem.clear()
    except ET.ParseError as err:
        raise ActivityFileError(f"malformed XML: {err}") from None
    except (LookupError, ValueError) as err:  # unknown or unsupported encoding declaration
        raise ActivityFileError(f"unreadable XML ({type(err).__name__}: {err})") from None
    return samples


def _parse_xml_time(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def _to_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # "nan" in a GPX is no heart rate


_FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.timezone.utc)
_FIT_DECODER_FAILURES = (struct.error, TypeError, AssertionError, ValueError, IndexError, KeyError, OverflowError)


def _fit_samples(data: bytes) -> list[Sample]:
    try:
        import fitdecode
    except ImportError:
        raise ActivityFileError("reading .fit files needs the 'fitdecode' package") from None
    samples: list[Sample] = []
    try:
        with fitdecode.FitReader(
            io.BytesIO(data),
            check_crc=fitdecode.CrcCheck.READONLY,
            error_handling=fitdecode.ErrorHandling.IGNORE,
        ) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage) or frame.name != "record":
                    continue
                when = frame.get_value("timestamp", fallback=None)
                if isinstance(when, (int, float)):
                    when = _FIT_EPOCH + dt.timedelta(seconds=when)
                if not isinstance(when, dt.datetime):
                    continue
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.timezone.utc)
                hr = frame.get_value("heart_rate", fallback=None)
                samples.append((when, float(hr) if isinstance(hr, (int, float)) else None))
    except fitdecode.FitError as err:
        raise ActivityFileError(f"corrupt FIT data: {err}") from None
    except _FIT_DECODER_FAILURES as err:
        # fitdecode (even with ErrorHandling.IGNORE) fails this way on some corrupt bytes (found by
        # fuzzing: athlete_platform_tests/resources/test_parser_fuzz.py): the file is corrupt, not the code.
        raise ActivityFileError(f"corrupt FIT data ({type(err).__name__}: {err})") from None
    return samples


def _streams_from_samples(samples: list[Sample]) -> dict[str, Any] | None:
    if not samples:
        return None
    t0 = samples[0][0]
    times: list[int] = []
    bpm: list[int] = []
    for when, hr in samples:
        if hr is None or hr <= 0:
            continue
        times.append(int(round((when - t0).total_seconds())))
        bpm.append(int(round(hr)))
    if not bpm:
        return None
    meta = {"series_type": "time", "original_size": len(bpm), "resolution": "high"}
    return {"time": {"data": times, **meta}, "heartrate": {"data": bpm, **meta}}


# -- reading the export safely -------------------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    max_member_bytes: int
    max_total_bytes: int
    max_members: int


class _Budget:
    """Decompressed bytes read during one fetch, bounded by ``max_total_bytes``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, size: int, name: str) -> None:
        self.used += size
        if self.used > self.limit:
            raise StravaExportError(
                f"reading {name} takes the decompressed total past max_total_bytes={self.limit}; "
                "raise it or fetch a smaller window"
            )


def check_member_name(name: str) -> None:
    """Reject names that could escape an extraction directory (zip slip), even though members are
    never extracted: such an archive is not a genuine export."""
    parts = re.split(r"[\\/]+", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise StravaExportError(f"unsafe member name {name!r} in export archive: absolute path")
    if ".." in parts:
        raise StravaExportError(f"unsafe member name {name!r} in export archive: path traversal ('..')")


class _BoundedStream(io.RawIOBase):
    """A binary stream that refuses to yield more than ``limit`` bytes (a zip's declared size can lie), and turns
    a corrupt zip member (bad CRC, truncated data) met while streaming into a StravaExportError."""

    def __init__(self, raw: BinaryIO, name: str, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            count = self._raw.readinto(buffer)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise StravaExportError(f"{self._name}: corrupt archive member: {err}") from None
        self._read += count or 0
        if self._read > self._limit:
            raise StravaExportError(
                f"export member {self._name!r} is more than max_member_bytes={self._limit} bytes decompressed; "
                "refusing to read it"
            )
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Export:
    """Read-only view of an export: zip (members streamed, never extracted), folder, or a lone activities.csv."""

    has_files = True

    def __init__(self, limits: _Limits) -> None:
        self.limits = limits
        self.budget = _Budget(limits.max_total_bytes)
        self._charged: set[str] = set()

    def open_csv(self) -> BinaryIO:
        """A fresh binary stream of ``activities.csv``, bounded by ``max_member_bytes``."""
        raise NotImplementedError

    def activities_table(self) -> ActivitiesTable:
        return read_activities_csv(self.open_csv, name=CSV_NAME)

    def read_csv(self) -> bytes:
        with self.open_csv() as handle:
            return handle.read()

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        raise NotImplementedError

    def read_profile(self) -> bytes | None:
        """``profile.csv`` beside ``activities.csv``, None when the export has none."""
        return None

    def created_on(self, zone: ZoneInfo) -> dt.date | None:
        """The local day ``activities.csv`` was written (the export's data ends then), None when unknown."""
        return None

    def read_profile_athlete_id(self, log: Any) -> int | None:
        """The ``Athlete ID`` of ``profile.csv`` (no other column is read), None when absent or unusable."""
        data = self.read_profile()
        if data is None:
            return None
        try:
            table = parse_activities_csv(data, required=("Athlete ID",), name=PROFILE_NAME)
        except StravaExportError as err:
            log.warning("Strava export: %s; athlete id not taken from it", err)
            return None
        for _, row in table.rows():
            athlete_id = _positive_int(row.text("Athlete ID"))
            if athlete_id is None:
                log.warning("Strava export: %s has no usable 'Athlete ID'", PROFILE_NAME)
            return athlete_id
        return None

    def close(self) -> None:
        return

    def _charge_once(self, name: str, size: int) -> None:
        """Charge a file streamed more than once (the CSV) to the budget once."""
        if name not in self._charged:
            self._charged.add(name)
            self.budget.charge(size, name)

    def _check_reference(self, filename: str, reference: str) -> str:
        name = filename.strip().replace("\\", "/")
        try:
            check_member_name(name)
        except StravaExportError:
            raise StravaExportError(
                f"{reference}: field 'Filename' {filename!r} points outside the export"
            ) from None
        return name

    def _too_big(self, name: str, size: int) -> StravaExportError:
        return StravaExportError(
            f"export member {name!r} is {size} bytes decompressed, more than "
            f"max_member_bytes={self.limits.max_member_bytes}; refusing to read it"
        )


class _ZipExport(_Export):
    def __init__(self, path: Path, limits: _Limits) -> None:
        super().__init__(limits)
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise StravaExportError(f"{path.name}: not a readable zip archive: {err}") from None
        infos = self.zf.infolist()
        if len(infos) > limits.max_members:
            self.zf.close()
            raise StravaExportError(
                f"{path.name} has {len(infos)} members, more than max_members={limits.max_members}"
            )
        try:
            for info in infos:
                check_member_name(info.filename)
        except StravaExportError:
            self.zf.close()
            raise
        self.members = {info.filename: info for info in infos if not info.is_dir()}
        csvs = sorted((n for n in self.members if PurePosixPath(n).name == CSV_NAME), key=lambda n: n.count("/"))
        if not csvs:
            self.zf.close()
            raise StravaExportError(f"{path.name} has no {CSV_NAME}")
        self.csv_name = csvs[0]
        parent = str(PurePosixPath(self.csv_name).parent)
        self.prefix = "" if parent == "." else parent + "/"

    def _read(self, name: str) -> bytes:
        info = self.members[name]
        limit = self.limits.max_member_bytes
        if info.file_size > limit:
            raise self._too_big(name, info.file_size)
        try:
            with self.zf.open(info) as handle:
                data = handle.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:  # bad CRC, truncated or corrupt data
            raise ActivityFileError(f"corrupt archive member: {err}") from None
        except (RuntimeError, NotImplementedError) as err:  # encrypted / unsupported compression
            raise ActivityFileError(f"archive member cannot be read: {err}") from None
        if len(data) > limit:
            raise self._too_big(name, len(data))
        self.budget.charge(len(data), name)
        return data

    def created_on(self, zone: ZoneInfo) -> dt.date | None:
        year, month, day, *_ = self.members[self.csv_name].date_time  # zip times are wall clock, zone-less
        return dt.date(year, month, day) if year > 1980 else None  # 1980-01-01: the format's "unset"

    def open_csv(self) -> BinaryIO:
        info = self.members[self.csv_name]
        if info.file_size > self.limits.max_member_bytes:
            raise self._too_big(self.csv_name, info.file_size)
        self._charge_once(self.csv_name, info.file_size)
        try:
            handle = self.zf.open(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as err:
            raise StravaExportError(f"{self.csv_name} cannot be read: {err}") from None
        return _BoundedStream(handle, self.csv_name, self.limits.max_member_bytes)

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        name = self.prefix + self._check_reference(filename, reference)
        if name not in self.members:
            return None
        return self._read(name)

    def read_profile(self) -> bytes | None:
        name = self.prefix + PROFILE_NAME
        return self._read(name) if name in self.members else None

    def close(self) -> None:
        self.zf.close()


class _FolderExport(_Export):
    def __init__(self, root: Path, limits: _Limits) -> None:
        super().__init__(limits)
        self.root = root.resolve()
        if not (self.root / CSV_NAME).is_file():
            raise StravaExportError(f"export folder {root} has no {CSV_NAME}")

    def _read(self, path: Path, name: str) -> bytes:
        size = path.stat().st_size
        if size > self.limits.max_member_bytes:
            raise self._too_big(name, size)
        with path.open("rb") as handle:
            data = handle.read(self.limits.max_member_bytes + 1)
        if len(data) > self.limits.max_member_bytes:
            raise self._too_big(name, len(data))
        self.budget.charge(len(data), name)
        return data

    def open_csv(self) -> BinaryIO:
        path = self.csv_path()
        size = path.stat().st_size
        if size > self.limits.max_member_bytes:
            raise self._too_big(path.name, size)
        self._charge_once(path.name, size)
        return _BoundedStream(path.open("rb"), path.name, self.limits.max_member_bytes)

    def csv_path(self) -> Path:
        return self.root / CSV_NAME

    def created_on(self, zone: ZoneInfo) -> dt.date | None:
        return dt.datetime.fromtimestamp(self.csv_path().stat().st_mtime, tz=zone).date()

    def read_profile(self) -> bytes | None:
        path = self.root / PROFILE_NAME
        if path.is_symlink() or not path.is_file():
            return None
        return self._read(path, PROFILE_NAME)

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        name = self._check_reference(filename, reference)
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):  # a symlink pointing out of the export
            raise StravaExportError(f"{reference}: field 'Filename' {filename!r} resolves outside the export")
        if not path.is_file():
            return None
        return self._read(path, name)


class _CsvOnlyExport(_FolderExport):
    """Just an activities.csv (any file name): no activity files, so no streams."""

    has_files = False

    def __init__(self, csv_path: Path, limits: _Limits) -> None:
        _Export.__init__(self, limits)
        self._csv_path = csv_path

    def csv_path(self) -> Path:
        return self._csv_path

    def read_activity_file(self, filename: str, reference: str) -> bytes | None:
        return None

    def read_profile(self) -> bytes | None:
        return None


class _open_export:  # noqa: N801 - used as a context manager like open()
    def __init__(self, path: Path, limits: _Limits) -> None:
        self.path = path
        self.limits = limits
        self.export: _Export | None = None

    def __enter__(self) -> _Export:
        path = self.path
        if path.is_dir():
            self.export = _FolderExport(path, self.limits)
        elif path.is_file() and zipfile.is_zipfile(path):
            self.export = _ZipExport(path, self.limits)
        elif path.is_file() and path.suffix.lower() == ".csv":
            self.export = _CsvOnlyExport(path, self.limits)
        elif path.exists():
            raise StravaExportError(f"export_path {path} is neither a zip archive, a folder nor a .csv file")
        else:
            raise StravaExportError(f"export_path {path} does not exist")
        return self.export

    def __exit__(self, *exc: object) -> None:
        if self.export is not None:
            self.export.close()


__all__ = [
    "ActivityFileError",
    "ExportDates",
    "StravaExportError",
    "StravaExportSource",
    "check_member_name",
    "derived_athlete_id",
    "normalize_header",
    "parse_activities_csv",
    "parse_activity_file",
    "parse_export_datetime",
    "place_row",
    "read_activities_csv",
    "row_to_activity",
    "sport_type_from_export",
]
