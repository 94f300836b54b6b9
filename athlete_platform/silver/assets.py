"""Silver: typed, deduplicated activities, their HR profiles, and a quarantine of rejected records.

One Spark pass parses every bronze row with the pure parser (``mapInPandas`` over
``batches.parse_bronze_batches``), then splits accepted rows from rejected ones. A bronze row that ingest already
flagged (``quarantine_field``/``quarantine_reason``: dated before the first partition, no usable date or id,
another athlete) is rejected with that reason without parsing.

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


from dataclasses import dataclass
from typing import Any, Optional

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
from athlete_platform.resources.delta_io import ALSO_REPLACES, spark_schema
from athlete_platform.resources.spark import cached
from athlete_platform.silver import checks
from athlete_platform.silver.batches import PARSED_DDL, QUARANTINE_COLUMNS, parse_bronze_batches
from athlete_platform.silver.parsing import PROFILE_COLUMNS, SILVER_COLUMNS


#: A version's order, newest last (module docstring): compared as a struct, field by field.
VERSION_ORDER = ("ingested_at", "activity_date", "record_seq")


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
    with cached(raw_activities.mapInPandas(parse_bronze_batches, schema=PARSED_DDL)) as parsed:
        yield from _outputs_and_checks(parsed, raw_activities, io_manager, config, start, end)


def _outputs_and_checks(parsed, raw_activities, io_manager: Any, config: SilverConfig, start, end):
    """The three outputs and the checks from the parsed bronze rows (cached by the caller)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    accepted = parsed.filter(F.col("status") == "accepted")
    newest_first = Window.partitionBy("activity_id").orderBy(*[F.desc(c) for c in VERSION_ORDER])
    window_versions = (
        accepted.withColumn("_version_rank", F.row_number().over(newest_first))
        .filter(F.col("_version_rank") == 1)
        .drop("_version_rank")
    )
    # Cached, not the output after the comparison: the window's ids, the comparison with other partitions, the
    # outputs, the checks and the writes all read these rows, and the row_number window (a shuffle and a sort
    # over every accepted row) then runs once. The output is these rows minus the few superseded elsewhere.
    with cached(window_versions) as newest_in_window:
        elsewhere = _rows_of_other_partitions(io_manager, newest_in_window, start, end)
        versions = _compare_with_other_partitions(newest_in_window, elsewhere)
        # A filter on the few ids, not a join: every output, count and check reads these rows again.
        latest = newest_in_window if not versions.newer_elsewhere_ids else newest_in_window.filter(
            ~F.col("activity_id").isin(versions.newer_elsewhere_ids))
        activities = latest.select(*SILVER_COLUMNS)
        profiles = latest.filter(F.col("hr_bpm").isNotNull()).select(*PROFILE_COLUMNS)
        quarantine = parsed.filter(F.col("status") == "rejected").select(*QUARANTINE_COLUMNS)
        replaces = {ALSO_REPLACES: {"column": "activity_id", "values": versions.older_elsewhere_ids}}

        # Few Spark jobs, each over cached rows: one per frame, not one per number (a job's fixed cost is most of a
        # one-day run). Parsed rows by status and reject fields, with the accepted rows' distinct ids.
        parsed_groups = parsed.groupBy("status", "reject_fields").agg(
            F.count(F.lit(1)).alias("rows"), F.countDistinct("activity_id").alias("ids")
        ).collect()
        rejected = sum(r["rows"] for r in parsed_groups if r["status"] == "rejected")
        accepted_versions = [r for r in parsed_groups if r["status"] == "accepted"]
        # Versions beyond the first per id within the window (accepted rows always carry an id).
        superseded_in_window = sum(r["rows"] - r["ids"] for r in accepted_versions)
        by_field = dict(sorted(((r["reject_fields"], r["rows"]) for r in parsed_groups if r["status"] == "rejected"),
                               key=lambda item: -item[1])[:50])
        # The output's rows by sport and the row-level checks' failing rows, in the same job.
        row_failures = checks.row_failure_sums(start, end)
        by_sport = activities.groupBy("sport").agg(
            F.count(F.lit(1)).alias("rows"), F.collect_set("athlete_id").alias("athletes"), *row_failures
        ).collect()
        accepted_rows = sum(r["rows"] for r in by_sport)
        failing_rows = {name: sum(int(r[name] or 0) for r in by_sport) for name in checks.row_conditions(start, end)}
        # Counted apart from the parse and the dedup, so that the accounting check can catch either losing rows.
        rows_in = raw_activities.count()
        superseded = superseded_in_window + len(versions.newer_elsewhere_ids)
        accounting = checks.RowAccounting(rows_in=rows_in, silver=accepted_rows, quarantined=rejected, superseded=superseded)
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
                "athletes": len({athlete for r in by_sport for athlete in r["athletes"]}),
                "sports": MetadataValue.json({r["sport"]: r["rows"] for r in by_sport}),
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
            rest_of_table=versions.rest_of_table, failing_rows=failing_rows,
        )


def missing_upstream_days(instance: Any, upstream: AssetKey, start, end) -> list[str]:
    """Daily partition keys of ``[start, end)`` the instance has no materialization of ``upstream`` for."""
    import datetime as dt

    done = instance.get_materialized_partitions(upstream)
    days = (start + dt.timedelta(days=offset) for offset in range((end - start).days))
    return [day.isoformat() for day in days if day.isoformat() not in done]


@dataclass
class _OtherPartitions:
    newer_elsewhere_ids: list[int]  # the window's version is superseded
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
    return newest_in_window.sparkSession.createDataFrame(table, schema=spark_schema(table.schema))


def _compare_with_other_partitions(newest_in_window, elsewhere) -> _OtherPartitions:
    from pyspark.sql import functions as F

    session = newest_in_window.sparkSession
    if elsewhere is None:
        empty = session.createDataFrame([], "activity_id long, activity_date date")
        return _OtherPartitions([], [], empty)
    version = F.struct(*VERSION_ORDER)
    ours = newest_in_window.select("activity_id", version.alias("ours"))
    theirs = elsewhere.groupBy("activity_id").agg(F.max(version).alias("theirs"))
    both = ours.join(theirs, "activity_id").select(
        "activity_id", (F.col("theirs") > F.col("ours")).alias("theirs_newer")
    ).collect()
    newer = sorted(int(r["activity_id"]) for r in both if r["theirs_newer"])
    older = sorted(int(r["activity_id"]) for r in both if not r["theirs_newer"])
    rest = elsewhere.filter(~F.col("activity_id").isin(older)) if older else elsewhere
    return _OtherPartitions(
        newer_elsewhere_ids=newer,
        older_elsewhere_ids=older,
        rest_of_table=rest.select("activity_id", "activity_date"),
    )
