"""Silver: typed, deduplicated activities, their HR profiles, and a quarantine of rejected records.

One Spark pass parses every bronze row with the pure parser (``mapInPandas``), then splits accepted rows
from rejected ones. A bronze row that ingest already flagged (``quarantine_field``/``quarantine_reason``:
dated before the first partition, no usable date or id, another athlete) is rejected with that reason
without parsing.

One activity id, one silver row, table-wide. Versions are ordered by their own version time: the first arrival
of that content in bronze (``ingested_at``, kept across reruns), then the later local date, then the later
arrival within the day (``record_seq``) — the same order whether the versions are fetched in one range or on
separate days. Within the window the newest accepted version wins; then it is compared with the row the table
already holds for that id in *other* partitions (an activity whose date was edited lands on another day): if
that one is newer, the window's version is superseded; if the window's is newer, the older row (and its HR
profile) is deleted in the same Delta commit that writes the window (``delta_io.ALSO_REPLACES``). The check
``unique_activity_id`` looks at the whole table as it stands after that commit.

A window with a day bronze was never materialized for fails with a clear message (an empty day must be a rest
day the source reported, not a day nobody fetched); checked against the Dagster instance when the step runs
in-process (a remote Databricks step has no instance history: there the job runs bronze first).

Every bronze row of the window is accounted for: rows in = silver rows + quarantined rows + superseded
duplicates (within the window, or by a newer version in another partition), in the metadata and as a blocking
check. Checks run on the output before it is handed to the IO manager.
"""


from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    BackfillPolicy,
    Config,
    Failure,
    MetadataValue,
    Output,
    ResourceParam,
    StepLauncher,
    multi_asset,
)

from athlete_platform.asset_keys import RAW_ACTIVITIES, SILVER_ACTIVITIES, SILVER_HR_PROFILES, SILVER_QUARANTINE
from athlete_platform.partitions import daily_partitions, window_dates
from athlete_platform.resources.delta_io import ALSO_REPLACES
from athlete_platform.silver import checks
from athlete_platform.silver.parsing import PROFILE_COLUMNS, SILVER_COLUMNS, Rejection, parse_record


PARSED_DDL = (
    "status string, reject_fields string, reason string, "
    "athlete_id long, activity_id long, activity_date date, start_date_utc timestamp, "
    "start_date_local timestamp_ntz, timezone string, name string, sport string, raw_sport_type string, "
    "workout_type int, distance_m double, moving_time_s double, elapsed_time_s double, moving_min double, "
    "elapsed_min double, elevation_gain_m double, average_speed_mps double, max_speed_mps double, "
    "pace_s_per_km double, average_hr double, max_hr double, has_heartrate boolean, manual boolean, "
    "trainer boolean, source string, content_hash string, ingested_at timestamp, record_seq long, "
    "hr_source string, hr_bpm array<double>, seconds array<double>, payload string"
)
PARSED_COLUMNS = [column.split(" ")[0] for column in PARSED_DDL.split(", ")]
QUARANTINE_COLUMNS = [
    "source", "athlete_id", "activity_id", "activity_date", "record_seq", "reject_fields", "reason",
    "payload", "content_hash", "ingested_at",
]
#: A version's order, newest last (module docstring): compared as a struct, field by field.
VERSION_ORDER = ("ingested_at", "activity_date", "record_seq")


def parse_bronze_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """mapInPandas body: every bronze row becomes one parsed row, accepted or rejected."""
    for batch in batches:
        out = []
        for record in batch.itertuples(index=False):
            base = {
                **dict.fromkeys(PARSED_COLUMNS),  # absent values are None (not NaN) for Arrow
                "source": record.source,
                "athlete_id": None if pd.isna(record.athlete_id) else int(record.athlete_id),
                "activity_id": None if pd.isna(record.activity_id) else int(record.activity_id),
                "activity_date": record.activity_date,
                "content_hash": record.content_hash,
                "ingested_at": record.ingested_at,
                "record_seq": record.record_seq,
            }
            flagged = record.quarantine_reason
            if isinstance(flagged, str):  # ingest could not place it: quarantined as received
                out.append(
                    {
                        **base,
                        "status": "rejected",
                        "reject_fields": record.quarantine_field,
                        "reason": f"{record.quarantine_field}: {flagged}",
                        "payload": record.payload,
                    }
                )
                continue
            try:
                parsed = parse_record(
                    source=record.source,
                    athlete_id=int(record.athlete_id),
                    activity_date=pd.Timestamp(record.activity_date).date(),
                    payload=record.payload,
                    streams=None if pd.isna(record.streams) else record.streams,
                    content_hash=record.content_hash,
                    ingested_at=record.ingested_at,
                    record_seq=int(record.record_seq),
                )
            except Rejection as rejection:
                out.append(
                    {
                        **base,
                        "status": "rejected",
                        "reject_fields": ",".join(rejection.problems),
                        "reason": str(rejection),
                        "payload": record.payload,
                    }
                )
                continue
            row = {**base, **parsed.row, "status": "accepted"}
            if parsed.hr_profile is not None:
                row.update(
                    hr_source=parsed.hr_profile["hr_source"],
                    hr_bpm=parsed.hr_profile["hr_bpm"],
                    seconds=parsed.hr_profile["seconds"],
                )
            out.append(row)
        yield pd.DataFrame(out, columns=PARSED_COLUMNS)


class SilverConfig(Config):
    quarantine_warn_rate: float = 0.05


@multi_asset(
    outs={
        "activities": AssetOut(
            key=SILVER_ACTIVITIES,
            metadata={"partition_expr": "activity_date"},
            description="Typed activities (contract in silver/parsing.py), one row per activity id, latest version.",
            kinds={"spark", "delta"},
            code_version="3",
        ),
        "activity_hr_profiles": AssetOut(
            key=SILVER_HR_PROFILES,
            metadata={"partition_expr": "activity_date"},
            description="Per activity with HR: seconds spent at each HR value (stream) or per split (splits), for time in zone.",
            kinds={"spark", "delta"},
            code_version="2",
        ),
        "quarantine": AssetOut(
            key=SILVER_QUARANTINE,
            metadata={"partition_expr": "activity_date"},
            description="Rejected records as received, with the offending fields and the reason.",
            kinds={"spark", "delta"},
            code_version="2",
        ),
    },
    ins={"raw_activities": AssetIn(key=RAW_ACTIVITIES)},
    group_name="silver",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=checks.SILVER_CHECK_SPECS,
)
def silver_activities(
    context: AssetExecutionContext,
    config: SilverConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],  # remote on Databricks, in-process locally
    io_manager: ResourceParam[Any],  # reads the table's rows of other partitions (delta_io.read_rows)
    raw_activities,
):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    start, end = window_dates(context)
    if pyspark_step_launcher is None:  # in-process, the run's own instance (a remote step's has no history)
        missing = missing_upstream_days(context.instance, RAW_ACTIVITIES, start, end)
        if missing:
            raise Failure(
                description=(
                    f"ingest/raw_activities was never materialized for {len(missing)} day(s) of [{start}, {end}) "
                    f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}): silver would store them as "
                    "days without activities. Materialize bronze for them first (ingest_job runs both)."
                ),
                metadata={"missing_days": len(missing)},
            )
    parsed = raw_activities.mapInPandas(parse_bronze_batches, schema=PARSED_DDL).cache()
    accepted = parsed.filter(F.col("status") == "accepted")
    newest_first = Window.partitionBy("activity_id").orderBy(*[F.desc(c) for c in VERSION_ORDER])
    newest_in_window = (
        accepted.withColumn("_version_rank", F.row_number().over(newest_first))
        .filter(F.col("_version_rank") == 1)
        .drop("_version_rank")
    )
    elsewhere = _rows_of_other_partitions(io_manager, newest_in_window, start, end)
    versions = _compare_with_other_partitions(newest_in_window, elsewhere)
    latest = newest_in_window.join(versions.newer_elsewhere, "activity_id", "left_anti").cache()
    activities = latest.select(*SILVER_COLUMNS)
    profiles = latest.filter(F.col("hr_bpm").isNotNull()).select(*PROFILE_COLUMNS)
    quarantine = parsed.filter(F.col("status") == "rejected").select(*QUARANTINE_COLUMNS)
    replaces = {ALSO_REPLACES: {"column": "activity_id", "values": versions.older_elsewhere_ids}}

    counts = parsed.groupBy("status").count().collect()
    by_status = {row["status"]: row["count"] for row in counts}
    rejected = by_status.get("rejected", 0)
    accepted_rows = activities.count()
    # Counted apart from the parse and the dedup, so that the accounting check can catch either losing rows.
    rows_in = raw_activities.count()
    superseded_in_window = (
        accepted.groupBy("activity_id").count().agg(F.sum(F.col("count") - 1).alias("superseded")).first()["superseded"]
    ) or 0
    superseded = superseded_in_window + len(versions.newer_elsewhere_ids)
    accounting = checks.RowAccounting(rows_in=rows_in, silver=accepted_rows, quarantined=rejected, superseded=superseded)
    by_field = {
        r["reject_fields"]: r["count"]
        for r in quarantine.groupBy("reject_fields").count().orderBy(F.desc("count")).limit(50).collect()
    }
    yield Output(
        activities,
        output_name="activities",
        metadata={
            "rows_in": rows_in,
            "accepted": accepted_rows,
            "rejected": rejected,
            "duplicates_superseded": superseded,
            "superseded_by_other_partitions": len(versions.newer_elsewhere_ids),
            "replaced_in_other_partitions": len(versions.older_elsewhere_ids),
            "unaccounted": accounting.unaccounted,
            "accounting": accounting.describe(),
            "quarantined_by_field": MetadataValue.json(by_field),
            "athletes": activities.select("athlete_id").distinct().count(),
            "sports": MetadataValue.json(
                {r["sport"]: r["count"] for r in activities.groupBy("sport").count().collect()}
            ),
            **replaces,
        },
    )
    yield Output(profiles, output_name="activity_hr_profiles", metadata=replaces)
    yield Output(
        quarantine,
        output_name="quarantine",
        metadata={
            "rejected": rejected,
            "reasons_by_field": MetadataValue.md(
                "\n".join(f"- `{field}`: {count}" for field, count in list(by_field.items())[:15]) or "none"
            ),
        },
    )
    yield from checks.evaluate_silver_checks(
        activities, start=start, end=end, accounting=accounting, quarantine_warn_rate=config.quarantine_warn_rate,
        rest_of_table=versions.rest_of_table,
    )


def missing_upstream_days(instance: Any, upstream: AssetKey, start, end) -> list[str]:
    """Daily partition keys of ``[start, end)`` the instance has no materialization of ``upstream`` for."""
    import datetime as dt

    done = instance.get_materialized_partitions(upstream)
    days = (start + dt.timedelta(days=offset) for offset in range((end - start).days))
    return [day.isoformat() for day in days if day.isoformat() not in done]


@dataclass
class _OtherPartitions:
    newer_elsewhere: Any  # Spark DataFrame of activity_id: the window's version is superseded
    newer_elsewhere_ids: list[int]
    older_elsewhere_ids: list[int]  # the window's version wins: the other partitions' rows are deleted
    rest_of_table: Any  # Spark DataFrame (activity_id, activity_date) of the rows other partitions keep


def _rows_of_other_partitions(io_manager: Any, newest_in_window: Any, start, end):
    """(activity_id, activity_date, version columns) of the silver rows outside ``[start, end)`` that matter to
    this write, as Spark: those with an id of the window (their versions compete with the window's) and those
    whose id other partitions already hold twice (the table-wide unique-id check must still see them).

    The rest of the table cannot change the outcome, so it stays out of Spark: handed over as local data it
    made every daily run ship the whole table's ids into Spark's tasks (memory and time growing with history
    and population, not with the day's rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = ["activity_id", *VERSION_ORDER]
    table = io_manager.read_rows(SILVER_ACTIVITIES.path, columns, partition_column="activity_date", start=start,
                                 end=end, outside=True)
    if table is None or table.num_rows == 0 or table.column_names != columns:
        return None
    window_ids = newest_in_window.select("activity_id").toArrow().column("activity_id")
    ids = table.column("activity_id")
    counts = table.group_by("activity_id").aggregate([("activity_id", "count")])
    duplicated = counts.filter(pc.greater(counts.column("activity_id_count"), 1)).column("activity_id")
    wanted = pa.chunked_array([*window_ids.chunks, *duplicated.chunks], type=ids.type).combine_chunks()
    table = table.filter(pc.is_in(ids, value_set=wanted))
    if table.num_rows == 0:
        return None
    return newest_in_window.sparkSession.createDataFrame(table)


def _compare_with_other_partitions(newest_in_window, elsewhere) -> _OtherPartitions:
    from pyspark.sql import functions as F

    session = newest_in_window.sparkSession
    if elsewhere is None:
        empty = session.createDataFrame([], "activity_id long, activity_date date")
        return _OtherPartitions(empty.select("activity_id"), [], [], empty)
    version = F.struct(*VERSION_ORDER)
    ours = newest_in_window.select("activity_id", version.alias("ours"))
    theirs = elsewhere.groupBy("activity_id").agg(F.max(version).alias("theirs"))
    both = ours.join(theirs, "activity_id").select(
        "activity_id", (F.col("theirs") > F.col("ours")).alias("theirs_newer")
    ).collect()
    newer = sorted(int(r["activity_id"]) for r in both if r["theirs_newer"])
    older = sorted(int(r["activity_id"]) for r in both if not r["theirs_newer"])
    ids = "activity_id long"
    rest = elsewhere.join(session.createDataFrame([(i,) for i in older], ids), "activity_id", "left_anti")
    return _OtherPartitions(
        newer_elsewhere=session.createDataFrame([(i,) for i in newer], ids),
        newer_elsewhere_ids=newer,
        older_elsewhere_ids=older,
        rest_of_table=rest.select("activity_id", "activity_date"),
    )
