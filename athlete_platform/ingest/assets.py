"""Bronze: activities exactly as the configured source delivered them."""


import datetime as dt
from collections import Counter
from typing import Optional

import pyarrow as pa
from dagster import AssetExecutionContext, BackfillPolicy, MetadataValue, ResourceParam, StepLauncher, asset

from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import window_dates
from athlete_platform.resources.sources import ActivitySource, FetchResult

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
    ]
)


def bronze_table(result: FetchResult, ingested_at: dt.datetime) -> pa.Table:
    """One row per record as received.

    ``record_seq`` is the arrival order within the record's day, so "latest version wins" picks the same
    row whether the day was fetched alone or inside a range.
    """
    columns: dict[str, list] = {name: [] for name in BRONZE_SCHEMA.names}
    seen_per_day: Counter[dt.date] = Counter()
    for record in result.records:
        seq = seen_per_day[record.activity_date]
        seen_per_day[record.activity_date] += 1
        raw_id = record.activity.get("id")
        columns["source"].append(record.source)
        columns["athlete_id"].append(record.athlete_id)
        columns["activity_id"].append(raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None)
        columns["activity_date"].append(record.activity_date)
        columns["record_seq"].append(seq)
        columns["payload"].append(record.payload_json())
        columns["streams"].append(record.streams_json())
        columns["content_hash"].append(record.content_hash())
        columns["ingested_at"].append(ingested_at)
    return pa.table(columns, schema=BRONZE_SCHEMA)


@asset(
    key_prefix=["bronze"],
    name="raw_activities",
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "activity_date"},
    kinds={"python", "delta"},
    code_version="1",
    description=(
        "Activities as received from the configured source (Strava API, Strava export or the simulator), "
        "one row per record with source, content hash and ingestion time. Placed by the athlete's local date."
    ),
)
def raw_activities(
    context: AssetExecutionContext,
    activity_source: ActivitySource,
    # Remote on Databricks (its output goes to a Unity Catalog table through the cluster's Spark), in-process locally.
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
) -> pa.Table:
    start, end = window_dates(context)
    result = activity_source.fetch(start, end, log=context.log)
    table = bronze_table(result, dt.datetime.now(dt.timezone.utc))
    if result.unplaceable:
        # Not silently dropped: these cannot belong to any date partition, so they are surfaced here.
        for problem in result.unplaceable[:20]:
            context.log.warning(f"{problem.source} {problem.reference}: {problem.reason}")
    context.add_output_metadata(
        {
            "source": activity_source.source_name,
            "records": table.num_rows,
            "athletes": len(set(table.column("athlete_id").to_pylist())),
            "unplaceable_records": len(result.unplaceable),
            "unplaceable_examples": MetadataValue.md(
                "\n".join(f"- {p.reference}: {p.reason}" for p in result.unplaceable[:20]) or "none"
            ),
        }
    )
    return table
