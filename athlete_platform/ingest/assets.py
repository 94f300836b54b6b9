"""Bronze: activities exactly as the configured source delivered them.

Every record the source delivers for the window becomes one bronze row, including the ones silver must
quarantine because they cannot stand on their own date:

* records dated before the first daily partition (``ATHLETE_PLATFORM_PARTITIONS_START``): the first
  partition's fetch asks the source for them (``include_earlier``), and they are stored in that partition;
* records the source could not date or attribute (``FetchResult.unplaceable``): stored in the partition of
  the date they still have, or in the first partition when they have none (or it is before the first),
  so a record lands in exactly one partition whichever window fetched it.

Such rows carry ``quarantine_field`` / ``quarantine_reason`` (null for every other row) and silver sends
them to ``silver/quarantine`` with that reason. Re-materializing a partition replaces exactly its rows.

``ingested_at`` is when a record's content (``content_hash``) *first* arrived: a rerun keeps the time the table
already holds for the same content, so reruns write identical rows and an edited activity (new content) is
newer than the version it replaces, whichever day either landed on (silver orders versions by it).
"""


import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MetadataValue,
    ResourceParam,
    StepLauncher,
    asset,
)

from athlete_platform.asset_keys import RAW_ACTIVITIES
from athlete_platform.partitions import FIRST_DAY, daily_partitions, window_dates
from athlete_platform.resources.sources import ActivitySource, FetchResult, UnplaceableRecord
from athlete_platform.settings import PARTITIONS_START_VAR

BRONZE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("athlete_id", pa.int64()),
        ("activity_id", pa.int64()),
        ("activity_date", pa.date32()),
        ("record_seq", pa.int64()),
        ("payload", pa.string()),
        ("streams", pa.string()),
        ("content_hash", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("quarantine_field", pa.string()),
        ("quarantine_reason", pa.string()),
    ]
)
BEFORE_FIRST_PARTITION_FIELD = "activity_date"


def before_first_partition_reason(day: dt.date, first_day: dt.date) -> str:
    return f"{day} is before the first partition {first_day} (set {PARTITIONS_START_VAR} earlier to analyse it)"


def home_partition(record: UnplaceableRecord, first_day: dt.date) -> dt.date:
    """The one partition an unplaceable record is stored in: its date if it has one on or after the first
    partition, else the first partition."""
    if record.activity_date is not None and record.activity_date >= first_day:
        return record.activity_date
    return first_day


def partition_days(dates: Iterable[dt.date], unplaceable_dates: Iterable[Optional[dt.date]],
                   first_day: dt.date = FIRST_DAY) -> set[dt.date]:
    """The partitions records land in, from their local dates alone (what the inbox sensor reads of an export):
    a dated record on its date, or the first partition when it is before it; an unplaceable one by
    :func:`home_partition`."""
    days = {max(day, first_day) for day in dates}
    days.update(first_day if day is None or day < first_day else day for day in unplaceable_dates)
    return days


def partition_dates(result: FetchResult, first_day: dt.date = FIRST_DAY) -> list[dt.date]:
    """The partition each record of ``result`` is stored in, as :func:`bronze_table` places it: a run that
    must account for every record (an export dropped in the inbox, a whole-history run) covers
    ``min(...)..max(...)`` of these — the first partition as soon as one record is quarantined there."""
    return [
        *(record.activity_date for record in result.records),
        *(first_day for _ in result.earlier),
        *(home_partition(problem, first_day) for problem in result.unplaceable),
    ]


def history_windows(dates: Iterable[dt.date], first_day: dt.date = FIRST_DAY) -> list[tuple[dt.date, dt.date]]:
    """Inclusive partition windows, one run each, that cover every date in ``dates`` (see
    :func:`partition_dates`) without running the empty years between the first partition (where records before
    it, or without a date, are quarantined) and the first real activity: a range run costs Dagster a few
    milliseconds per partition and output (its materialization events), so 2009..2022 for nothing costs minutes."""
    days = sorted(set(dates))
    if not days:
        return []
    if days[0] == first_day and len(days) > 1 and days[1] > first_day + dt.timedelta(days=1):
        return [(first_day, first_day), (days[1], days[-1])]
    return [(days[0], days[-1])]


def days_beyond_source(result: FetchResult, start: dt.date, end: dt.date) -> int:
    """How many days of ``[start, end)`` lie on or after the source's ``covered_until`` (0 for a live source)."""
    if result.covered_until is None:
        return 0
    return max(0, (end - max(start, result.covered_until)).days)


@dataclass
class BronzeBatch:
    table: pa.Table
    in_window: int  # records dated inside the window
    before_first_partition: int
    unplaceable: list[UnplaceableRecord]  # unplaceable records stored in this window
    unplaceable_elsewhere: int  # unplaceable records the source returned that belong to another partition


def first_arrivals(previous: Any) -> dict[str, dt.datetime]:
    """``content_hash -> earliest ingested_at`` of the rows a window held before this write (an Arrow table with
    those two columns, or None for a new table)."""
    if previous is None:
        return {}
    # In Arrow, not row by row in Python: one earliest time per content, and a window's rows share a handful of
    # ingestion times, so each distinct time becomes a datetime once.
    earliest = previous.group_by("content_hash").aggregate([("ingested_at", "min")])  # min skips nulls
    earliest = earliest.filter(pc.field("content_hash").is_valid() & pc.field("ingested_at_min").is_valid())
    hashes, times = earliest["content_hash"], earliest["ingested_at_min"]
    distinct_times = pc.unique(times)
    distinct_datetimes = distinct_times.to_pylist()
    positions = pc.index_in(times, value_set=distinct_times).to_pylist()
    return dict(zip(hashes.to_pylist(), (distinct_datetimes[position] for position in positions)))


def bronze_table(result: FetchResult, ingested_at: dt.datetime, *, start: dt.date, end: dt.date,
                 first_day: dt.date = FIRST_DAY, first_seen: Mapping[str, dt.datetime] | None = None) -> BronzeBatch:
    """One row per record as received, each in exactly one partition of ``[start, end)``.

    ``ingested_at`` is ``first_seen[content_hash]`` when the content arrived before (:func:`first_arrivals`),
    else this fetch's time. ``record_seq`` is the arrival order within the row's partition day, so the version
    order (silver) is the same whether the day was fetched alone or inside a range.
    """
    first_seen = first_seen or {}
    # (source, athlete_id, activity_id, activity_date, payload, streams, content_hash, quarantine_field,
    # quarantine_reason) per row, in arrival order; one tuple a row is cheaper than eleven appends at 65k rows.
    rows: list[tuple] = []
    for record in result.records:
        if not start <= record.activity_date < end:
            raise ValueError(
                f"{record.source} returned a record dated {record.activity_date} for the window [{start}, {end})"
            )
        rows.append((record.source, record.athlete_id, record.activity_id, record.activity_date, *record.serialized(),
                     None, None))
    if result.earlier and start != first_day:
        raise ValueError(f"records before {start} belong to the first partition {first_day} only")
    for record in result.earlier:
        if record.activity_date >= start:
            raise ValueError(f"{record.source} returned a record dated {record.activity_date} as earlier than {start}")
        rows.append((record.source, record.athlete_id, record.activity_id, first_day, *record.serialized(),
                     BEFORE_FIRST_PARTITION_FIELD, before_first_partition_reason(record.activity_date, first_day)))
    stored: list[UnplaceableRecord] = []
    elsewhere = 0
    for problem in result.unplaceable:
        day = home_partition(problem, first_day)
        if not start <= day < end:
            elsewhere += 1
            continue
        stored.append(problem)
        rows.append((problem.source, problem.athlete_id, problem.activity_id, day, problem.payload_json(), None,
                     problem.content_hash(), problem.field, f"{problem.reason} [{problem.reference}]"))
    (sources, athlete_ids, activity_ids, days, payloads, streams, content_hashes, quarantine_fields,
     quarantine_reasons) = (list(column) for column in zip(*rows)) if rows else ([] for _ in range(9))
    arrivals_per_day: defaultdict[dt.date, Iterator[int]] = defaultdict(itertools.count)
    columns = {
        "source": sources,
        "athlete_id": athlete_ids,
        "activity_id": activity_ids,
        "activity_date": days,
        "record_seq": [next(arrivals_per_day[day]) for day in days],
        "payload": payloads,
        "streams": streams,
        "content_hash": content_hashes,
        "ingested_at": [first_seen.get(content_hash, ingested_at) for content_hash in content_hashes],
        "quarantine_field": quarantine_fields,
        "quarantine_reason": quarantine_reasons,
    }
    return BronzeBatch(
        table=pa.table(columns, schema=BRONZE_SCHEMA),
        in_window=len(result.records),
        before_first_partition=len(result.earlier),
        unplaceable=stored,
        unplaceable_elsewhere=elsewhere,
    )


@asset(
    key=RAW_ACTIVITIES,
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "activity_date"},
    kinds={"python", "delta"},
    code_version="3",
    description=(
        "Activities as received from the configured source (Strava API, Strava export or the simulator), "
        "one row per record with source, content hash and ingestion time. Placed by the athlete's local date; "
        "records before the first partition or without a usable date/id are kept in the first partition "
        "(or their own date) with the reason silver quarantines them for."
    ),
)
def raw_activities(
    context: AssetExecutionContext,
    activity_source: ActivitySource,
    # Remote on Databricks (its output goes to a Unity Catalog table through the cluster's Spark), in-process locally.
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    io_manager: ResourceParam[Any],  # the window's current rows: first arrival times (delta_io.read_rows)
) -> pa.Table:
    start, end = window_dates(context)
    include_earlier = start == FIRST_DAY
    result = activity_source.fetch(start, end, log=context.log, include_earlier=include_earlier)
    uncovered = days_beyond_source(result, start, end)
    if uncovered == (end - start).days:
        raise Failure(
            description=(
                f"{activity_source.source_name} has no data for [{start}, {end}): it covers days before "
                f"{result.covered_until} (a bulk export ends when it was made). Nothing is written, so these days "
                "do not pass as rest days; drop a newer export, or materialize days it covers."
            ),
            metadata={"covered_until": str(result.covered_until)},
        )
    if uncovered:
        context.log.warning(
            f"{activity_source.source_name} covers days before {result.covered_until}: the last {uncovered} day(s) of "
            f"[{start}, {end}) have no data from it and are stored without activities"
        )
    previous = io_manager.read_rows(context.asset_key.path, ["content_hash", "ingested_at"],
                                    partition_column="activity_date", start=start, end=end)
    first_seen = first_arrivals(previous)
    batch = bronze_table(result, dt.datetime.now(dt.timezone.utc), start=start, end=end, first_seen=first_seen)
    if batch.before_first_partition:
        context.log.warning(
            f"{batch.before_first_partition} records are dated before the first partition {FIRST_DAY}: kept in "
            f"bronze/silver quarantine of {FIRST_DAY}; set {PARTITIONS_START_VAR} earlier to analyse them"
        )
    for problem in batch.unplaceable[:20]:
        context.log.warning(f"{problem.source} {problem.reference}: {problem.field}: {problem.reason}")
    if batch.unplaceable_elsewhere:
        context.log.info(
            f"{batch.unplaceable_elsewhere} unplaceable records belong to another partition (their own date, or "
            f"the first partition {FIRST_DAY}) and are stored there"
        )
    table = batch.table
    context.add_output_metadata(
        {
            "source": activity_source.source_name,
            "records": table.num_rows,
            "records_in_window": batch.in_window,
            "records_before_first_partition": batch.before_first_partition,
            "days_beyond_source_data": uncovered,
            "records_seen_before": sum(h in first_seen for h in table.column("content_hash").to_pylist()),
            "unplaceable_records": len(batch.unplaceable),
            "unplaceable_records_of_other_partitions": batch.unplaceable_elsewhere,
            "athletes": len(set(table.column("athlete_id").drop_null().to_pylist())),
            "unplaceable_examples": MetadataValue.md(
                "\n".join(f"- {p.reference}: {p.field}: {p.reason}" for p in batch.unplaceable[:20]) or "none"
            ),
        }
    )
    return table
