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
duplicates (within the window, or by a newer version in another partition): in the output's metadata as handed
to the write, and as a blocking check on the rows the write stored.

Spark runs few jobs here, because each one's fixed cost is most of a one-day run: one collect of small columns of
the parsed rows (every count, the comparison with other partitions in pandas), the bronze count, and the three
writes. The checks read the written window back (``silver/checks.py``).
"""


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
from athlete_platform.frames import stored_rows
from athlete_platform.partitions import daily_partitions, window_dates
from athlete_platform.resources.delta_io import ALSO_REPLACES
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


#: The parsed columns collected before the write (no payload, no HR arrays): every count, the version comparison
#: with other partitions and the checks on the written rows' dates come from them.
SUMMARY_COLUMNS = ["status", "reject_fields", "activity_id", "athlete_id", "sport", *VERSION_ORDER]


def _outputs_and_checks(parsed, raw_activities, io_manager: Any, config: SilverConfig, start, end):
    """The three outputs and the checks from the parsed bronze rows (cached by the caller)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # Few Spark jobs: a job's fixed cost is most of a one-day run. One collect of small columns gives every count
    # before the write; the checks then read the written rows back (silver/checks.py).
    summary = parsed.select(*SUMMARY_COLUMNS).toArrow().to_pandas()
    parse = summarize_parse(summary)
    elsewhere = _rows_of_other_partitions(io_manager, parse.newest["activity_id"], start, end)
    versions = compare_with_other_partitions(parse.newest, elsewhere)
    written = parse.newest[~parse.newest["activity_id"].isin(versions.newer_elsewhere_ids)]

    accepted = parsed.filter(F.col("status") == "accepted")
    newest_first = Window.partitionBy("activity_id").orderBy(*[F.desc(c) for c in VERSION_ORDER])
    window_versions = (
        accepted.withColumn("_version_rank", F.row_number().over(newest_first))
        .filter(F.col("_version_rank") == 1)
        .drop("_version_rank")
    )
    # Cached: both writes read these rows, and the row_number window (a shuffle and a sort over every accepted
    # row) then runs once. The output is these rows minus the few superseded elsewhere.
    with cached(window_versions) as newest_in_window:
        # A filter on the few ids, not a join.
        latest = newest_in_window if not versions.newer_elsewhere_ids else newest_in_window.filter(
            ~F.col("activity_id").isin(versions.newer_elsewhere_ids))
        activities = latest.select(*SILVER_COLUMNS)
        profiles = latest.filter(F.col("hr_bpm").isNotNull()).select(*PROFILE_COLUMNS)
        quarantine = parsed.filter(F.col("status") == "rejected").select(*QUARANTINE_COLUMNS)
        replaces = {ALSO_REPLACES: {"column": "activity_id", "values": versions.older_elsewhere_ids}}
        # Counted apart from the parse and the dedup, so that the accounting check can catch either losing rows.
        rows_in = raw_activities.count()
        superseded = parse.superseded_in_window + len(versions.newer_elsewhere_ids)
        handed = checks.RowAccounting(rows_in=rows_in, silver=len(written), quarantined=parse.rejected,
                                      superseded=superseded)
        yield Output(
            activities,
            output_name="activities",
            metadata={  # what the step handed to the write; the checks count the rows it stored
                "rows_in": rows_in,
                "accepted": len(written),
                "rejected": parse.rejected,
                "duplicates_superseded": superseded,
                "superseded_by_other_partitions": len(versions.newer_elsewhere_ids),
                "replaced_in_other_partitions": len(versions.older_elsewhere_ids),
                "unaccounted": handed.unaccounted,
                "accounting": handed.describe(),
                "quarantined_by_field": MetadataValue.json(parse.rejected_by_field),
                "athletes": int(written["athlete_id"].nunique()),
                "sports": MetadataValue.json({str(k): int(v) for k, v in written["sport"].value_counts().items()}),
                **replaces,
            },
        )
        yield Output(profiles, output_name="activity_hr_profiles", metadata=replaces)
        yield Output(
            quarantine,
            output_name="quarantine",
            metadata={
                "rejected": parse.rejected,
                "reasons_by_field": MetadataValue.md(
                    "\n".join(f"- `{field}`: {count}" for field, count in list(parse.rejected_by_field.items())[:15])
                    or "none"
                ),
            },
        )
    stored = stored_rows(io_manager, SILVER_ACTIVITIES, [*checks.ROW_CHECK_COLUMNS, "activity_date"], "activity_date",
                         start, end)
    accounting = checks.RowAccounting(rows_in=rows_in, silver=len(stored), quarantined=parse.rejected,
                                      superseded=superseded)
    yield from checks.evaluate_silver_checks(
        stored, written_dates=written["activity_date"], start=start, end=end, accounting=accounting,
        quarantine_warn_rate=config.quarantine_warn_rate, rest_of_table=versions.rest_of_table,
    )


@dataclass
class ParseSummary:
    rejected: int
    rejected_by_field: dict[str, int]  # the 50 most frequent reject field sets, most frequent first
    superseded_in_window: int  # accepted versions beyond the newest per id
    newest: pd.DataFrame  # the newest accepted version per id: SUMMARY_COLUMNS


def newest_versions(rows: pd.DataFrame) -> pd.DataFrame:
    """The newest row of each activity id by :data:`VERSION_ORDER`, as the step's row_number window keeps it."""
    return rows.sort_values(["activity_id", *VERSION_ORDER], kind="stable").drop_duplicates("activity_id", keep="last")


def summarize_parse(summary: pd.DataFrame) -> ParseSummary:
    """Counts of the parsed rows (:data:`SUMMARY_COLUMNS`) and the newest accepted version of each id, by
    :data:`VERSION_ORDER` (what the step's row_number window keeps)."""
    rejected = summary[summary["status"] == "rejected"]
    accepted = summary[summary["status"] == "accepted"]
    by_field = rejected["reject_fields"].value_counts().head(50)
    newest = newest_versions(accepted)
    # Accepted rows always carry both ids; the columns are floats when a rejected row had none.
    newest = newest.astype({"activity_id": "int64", "athlete_id": "int64"})
    return ParseSummary(
        rejected=len(rejected),
        rejected_by_field={str(field): int(count) for field, count in by_field.items()},
        superseded_in_window=len(accepted) - len(newest),
        newest=newest.reset_index(drop=True),
    )


def missing_upstream_days(instance: Any, upstream: AssetKey, start, end) -> list[str]:
    """Daily partition keys of ``[start, end)`` the instance has no materialization of ``upstream`` for."""
    import datetime as dt

    done = instance.get_materialized_partitions(upstream)
    days = (start + dt.timedelta(days=offset) for offset in range((end - start).days))
    return [day.isoformat() for day in days if day.isoformat() not in done]


@dataclass
class OtherPartitions:
    newer_elsewhere_ids: list[int]  # the window's version is superseded
    older_elsewhere_ids: list[int]  # the window's version wins: the other partitions' rows are deleted
    rest_of_table: pd.DataFrame  # (activity_id, activity_date) of the rows other partitions keep that matter


def _rows_of_other_partitions(io_manager: Any, window_ids: pd.Series, start, end) -> pd.DataFrame | None:
    """(activity_id, activity_date, version columns) of the silver rows outside ``[start, end)`` that matter to
    this write: those with an id of the window (their versions compete with the window's) and those whose id
    other partitions already hold twice (the table-wide unique-id check must still see them). The rest of the
    table cannot change the outcome: read as Arrow and filtered there, it never becomes a pandas or Spark frame
    (memory and time would grow with history and population, not with the window's rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = ["activity_id", *VERSION_ORDER]
    table = io_manager.read_rows(SILVER_ACTIVITIES.path, columns, partition_column="activity_date", start=start,
                                 end=end, outside=True)
    if table is None or table.num_rows == 0 or table.column_names != columns:
        return None
    ids = table.column("activity_id")
    counts = table.group_by("activity_id").aggregate([("activity_id", "count")])
    duplicated = counts.filter(pc.greater(counts.column("activity_id_count"), 1)).column("activity_id")
    window = pa.array(window_ids.to_numpy(), type=ids.type)
    wanted = pa.chunked_array([window, *duplicated.chunks], type=ids.type).combine_chunks()
    table = table.filter(pc.is_in(ids, value_set=wanted))
    return table.to_pandas() if table.num_rows else None


def compare_with_other_partitions(newest: pd.DataFrame, elsewhere: pd.DataFrame | None) -> OtherPartitions:
    """Which of the window's newest versions (``newest``: activity_id and :data:`VERSION_ORDER`) lose to a newer
    version in another partition, and which win over the older ones there (deleted by the write)."""
    if elsewhere is None:
        return OtherPartitions([], [], pd.DataFrame({"activity_id": pd.Series(dtype="int64"),
                                                     "activity_date": pd.Series(dtype="object")}))
    theirs = newest_versions(elsewhere)
    both = newest[["activity_id", *VERSION_ORDER]].merge(theirs, on="activity_id", suffixes=("_ours", "_theirs"))
    # (ingested_at, activity_date, record_seq) compared field by field, as tuples are.
    theirs_newer = pd.Series(False, index=both.index)
    tied = pd.Series(True, index=both.index)
    for column in VERSION_ORDER:
        ours_value, their_value = both[f"{column}_ours"], both[f"{column}_theirs"]
        theirs_newer |= tied & (their_value > ours_value)
        tied &= their_value == ours_value
    newer = sorted(int(i) for i in both.loc[theirs_newer, "activity_id"])
    older = sorted(int(i) for i in both.loc[~theirs_newer, "activity_id"])
    rest = elsewhere[~elsewhere["activity_id"].isin(older)]
    return OtherPartitions(newer_elsewhere_ids=newer, older_elsewhere_ids=older,
                           rest_of_table=rest[["activity_id", "activity_date"]].reset_index(drop=True))
