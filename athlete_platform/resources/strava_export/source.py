"""The Strava bulk export as an activity source (the resource).

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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from athlete_platform.resources.sources import (
    ActivitySource,
    FetchResult,
    SourceRecord,
    UnplaceableRecord,
)
from athlete_platform.resources.strava_export.activities_csv import (
    DISPLAY_DISTANCE_M,
    ActivitiesTable,
    RowError,
    place_row,
    positive_int,
    row_to_activity,
)
from athlete_platform.resources.strava_export.activity_files import parse_activity_file
from athlete_platform.resources.strava_export.archive import MB, Export, Limits, open_export
from athlete_platform.resources.strava_export.errors import ActivityFileError
from athlete_platform.settings import ATHLETE_ID_VAR, EXPORT_TIMEZONE_VAR

# The package's name, as before the split: log filters and captures keep working.
_LOG = logging.getLogger(__package__)

SOURCE_NAME = "strava_export"
#: Derived athlete ids live in [BASE, 2 * BASE): Strava's own ids are far below (9 digits in 2025).
DERIVED_ATHLETE_ID_BASE = 10**15


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
    max_member_bytes: int = Field(default=200 * MB, description="Largest decompressed file read.")
    max_total_bytes: int = Field(default=4096 * MB, description="Most decompressed bytes read per fetch.")
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
        if self.display_distance_unit not in DISPLAY_DISTANCE_M:
            raise ValueError(
                f"StravaExportSource.display_distance_unit must be 'km' or 'mi', got {self.display_distance_unit!r}"
            )
        if not self.export_path:
            raise ValueError("StravaExportSource.export_path is not set (STRAVA_EXPORT_PATH): where is the export?")

        result = FetchResult()
        with open_export(Path(self.export_path), self._limits()) as export:
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
        with open_export(Path(self.export_path), self._limits()) as export:
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

    def _athlete_id(self, export: Export, table: ActivitiesTable, log: Any) -> int:
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
        ids = [activity_id for _, row in table.rows() if (activity_id := positive_int(row.text("Activity ID")))]
        derived = derived_athlete_id(min(ids) if ids else None)
        log.info(
            "Strava export: no athlete id in the export (no profile.csv) and %s unset: using the stable id %s "
            "derived from its first activity id", ATHLETE_ID_VAR, derived,
        )
        return derived

    def _limits(self) -> Limits:
        return Limits(self.max_member_bytes, self.max_total_bytes, self.max_members)

    def _streams(self, export: Export, filename: str, reference: str, log: Any) -> dict[str, Any] | None:
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
