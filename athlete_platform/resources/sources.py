"""Where activities come from: one abstract resource, three implementations.

Every source yields :class:`SourceRecord` objects whose ``activity`` is shaped like a Strava API v3
``SummaryActivity``/``DetailedActivity`` JSON object, so one parser (``athlete_platform.silver.parsing``)
serves them all. Streams, when a source has them, are shaped like the Strava streams response with
``key_by_type=true``: ``{"time": {"data": [...]}, "heartrate": {"data": [...]}, ...}``.

A source is asked for a window of local dates ``[start, end)`` (the athlete's ``start_date_local`` date,
which is how activities map to partitions). With ``include_earlier`` (the bronze asset asks so for the
first daily partition) it also returns, in ``FetchResult.earlier``, every record dated before ``start``.
Records it cannot turn into a dated record of the athlete (no parseable date or id, another athlete's
id) are returned in ``FetchResult.unplaceable`` with the field, the reason and the raw value, whatever
the window; the bronze asset places each of them in exactly one partition and silver quarantines it.
Nothing a source receives is dropped silently. A source whose data ends somewhere (a bulk export) says where in
``FetchResult.covered_until``: bronze refuses a window wholly after it rather than storing an empty "rest day".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dagster import ConfigurableResource


@dataclass(frozen=True)
class SourceRecord:
    """One activity as received from a source."""

    source: str  # "strava_api" | "strava_export" | "simulator"
    athlete_id: int
    activity_date: dt.date  # local date of start_date_local: the partition the record belongs to
    activity: dict[str, Any]  # Strava-API-shaped activity JSON object
    streams: dict[str, Any] | None = None  # Strava streams keyed by type, or None

    def payload_json(self) -> str:
        return json.dumps(self.activity, sort_keys=True, default=str)

    def streams_json(self) -> str | None:
        return None if self.streams is None else json.dumps(self.streams, sort_keys=True, default=str)

    def serialized(self) -> tuple[str, str | None, str]:
        """(payload JSON, streams JSON, content hash), each serialized once: bronze stores all three, and
        serializing twice was a third of a bronze write's time."""
        payload, streams = self.payload_json(), self.streams_json()
        digest = hashlib.sha256(payload.encode())
        digest.update((streams or "").encode())
        return payload, streams, digest.hexdigest()

    def content_hash(self) -> str:
        return self.serialized()[2]

    @property
    def activity_id(self) -> int | None:
        """The activity's ``id`` when it is an integer (what bronze files it under), else None."""
        raw_id = self.activity.get("id")
        return raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None


class RenderedSourceRecord(SourceRecord):
    """A record whose source delivers the activity as its payload JSON already, byte for byte what
    :meth:`SourceRecord.payload_json` writes for the activity (the simulator renders it from its columns, much
    cheaper than building the dict and serializing it): bronze stores that string as is, and ``activity`` is
    parsed from it only when asked for. Without streams."""

    def __init__(self, source: str, athlete_id: int, activity_date: dt.date, activity_id: int, payload: str) -> None:
        # Frozen like SourceRecord: the fields are set here once (the dataclass __init__ would want the dict).
        for name, value in (("source", source), ("athlete_id", athlete_id), ("activity_date", activity_date),
                            ("_activity_id", activity_id), ("_payload", payload)):
            object.__setattr__(self, name, value)

    @cached_property
    def activity(self) -> dict[str, Any]:  # type: ignore[override]
        return json.loads(self._payload)

    @property
    def activity_id(self) -> int | None:
        return self._activity_id

    def payload_json(self) -> str:
        return self._payload


@dataclass(frozen=True)
class UnplaceableRecord:
    """A record the source received but cannot turn into a dated record of the athlete.

    ``field`` names the offending field in the source's own terms (``Activity Date`` of an export,
    ``start_date_local`` of the API); ``reason`` says what is wrong with it, quoting the raw value;
    ``raw`` is the record as received (a JSON-able object). ``activity_date`` is the date the record
    can still be given (e.g. a row with a bad id but a good date), None when it has none: the bronze
    asset then puts it in the first partition.
    """

    source: str
    reference: str  # e.g. "activities.csv row 17" or "activity 123"
    field: str
    reason: str
    raw: Any = None
    athlete_id: int | None = None
    activity_id: int | None = None
    activity_date: dt.date | None = None

    def payload_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True, default=str)

    def content_hash(self) -> str:
        return hashlib.sha256(self.payload_json().encode()).hexdigest()


@dataclass
class FetchResult:
    records: list[SourceRecord] = field(default_factory=list)  # dated inside [start, end)
    earlier: list[SourceRecord] = field(default_factory=list)  # dated before start (include_earlier only)
    unplaceable: list[UnplaceableRecord] = field(default_factory=list)
    #: The source's data covers local dates before this day (a bulk export: until it was made); None for a
    #: live source (the API, the simulator). A day on or after it has no data at all, not a rest day.
    covered_until: dt.date | None = None


class ActivitySource(ConfigurableResource, ABC):
    """Abstract activity source. Implementations: Strava API, Strava bulk export, simulator."""

    @property
    @abstractmethod
    def source_name(self) -> str: ...

    @abstractmethod
    def fetch(self, start: dt.date, end: dt.date, log: Any = None, *, include_earlier: bool = False) -> FetchResult:
        """Activities whose local start date is in ``[start, end)`` (and, with ``include_earlier``, every
        one before ``start`` in ``earlier``), plus the records that cannot be placed. ``log`` is an
        optional logger (Dagster's ``context.log``) for progress messages."""
