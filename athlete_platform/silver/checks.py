"""Asset checks of silver activities, evaluated on the output in the same step (no second read).

The row-level checks (duration and distance, pace and HR, rows in their own partition) are counted together in
one Spark aggregation (:func:`row_check_counts`, or the asset's own aggregation carrying :func:`row_failure_sums`)
and judged by one small function each; the table-wide unique-id check groups by id. In a range run (single-run
backfill) a result covers the whole window; its metadata says which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec

from athlete_platform.asset_keys import SILVER_ACTIVITIES
from athlete_platform.domain.running import RUN_SPORTS
from athlete_platform.silver.parsing import DISTANCE_SPORTS, HR_RANGE_BPM, RUN_PACE_S_PER_KM

SILVER = SILVER_ACTIVITIES

SILVER_CHECK_SPECS = [
    AssetCheckSpec(
        "unique_activity_id",
        asset=SILVER,
        blocking=True,
        description="One row per activity id in the whole table, as it stands after this write (all partitions).",
    ),
    AssetCheckSpec(
        "positive_duration_and_distance",
        asset=SILVER,
        blocking=True,
        description="No zero/negative moving or elapsed time; no negative distance; no zero distance for distance sports.",
    ),
    AssetCheckSpec(
        "plausible_pace_and_hr",
        asset=SILVER,
        blocking=True,
        description=f"Run pace within {RUN_PACE_S_PER_KM} s/km; HR within {HR_RANGE_BPM} bpm.",
    ),
    AssetCheckSpec(
        "rows_in_own_partition", asset=SILVER, blocking=True, description="activity_date inside the materialized window."
    ),
    AssetCheckSpec(
        "every_record_accounted_for",
        asset=SILVER,
        blocking=True,
        description="Bronze rows of the window = silver rows + quarantined rows + superseded duplicates (in the "
        "window or by a newer version in another partition).",
    ),
    AssetCheckSpec(
        "quarantine_rate",
        asset=SILVER,
        blocking=False,
        description="Share of received records rejected stays under the configured threshold (warning).",
    ),
]


@dataclass(frozen=True)
class RowAccounting:
    """Where every bronze row of a window went. ``rows_in`` is counted on bronze, ``superseded`` on the
    accepted rows (versions beyond the first per id), ``silver`` on the output: none is derived from
    the others, so a row lost (or doubled) by the parse or the dedup shows as ``unaccounted``."""

    rows_in: int
    silver: int
    quarantined: int
    superseded: int

    @property
    def unaccounted(self) -> int:
        return self.rows_in - self.silver - self.quarantined - self.superseded

    def describe(self) -> str:
        return (
            f"rows in {self.rows_in} = silver {self.silver} + quarantined {self.quarantined} "
            f"+ superseded duplicates {self.superseded}" + (f" + UNACCOUNTED {self.unaccounted}" if self.unaccounted else "")
        )


def check_every_record_accounted_for(accounting: RowAccounting) -> AssetCheckResult:
    return AssetCheckResult(
        check_name="every_record_accounted_for",
        asset_key=SILVER,
        passed=accounting.unaccounted == 0,
        metadata={
            "rows_in": accounting.rows_in,
            "silver": accounting.silver,
            "quarantined": accounting.quarantined,
            "superseded_duplicates": accounting.superseded,
            "unaccounted": accounting.unaccounted,
        },
    )


def check_unique_activity_id(activities, rest_of_table=None) -> AssetCheckResult:
    """``rest_of_table``: (activity_id, activity_date) of the rows other partitions keep after this write; with
    it the check sees the whole table, not just the window."""
    from pyspark.sql import functions as F

    rows = activities.select("activity_id", "activity_date")
    if rest_of_table is not None:
        rows = rows.unionByName(rest_of_table.select("activity_id", "activity_date"))
    # Counted per id alone (a hash aggregation); the dates only of the sampled ids: collecting every id's dates
    # made Spark sort the whole window by id (collect_list falls back to a sort-based aggregation past 128 keys).
    duplicated = rows.groupBy("activity_id").agg(F.count(F.lit(1)).alias("count")).filter(F.col("count") > 1)
    sample = [row["activity_id"] for row in duplicated.select("activity_id").limit(SAMPLE_IDS).collect()]
    examples = []
    if sample:
        dates = dict(rows.filter(F.col("activity_id").isin(sample)).groupBy("activity_id")
                     .agg(F.sort_array(F.collect_list("activity_date")).alias("dates")).collect())
        examples = [f"{activity_id} on {', '.join(map(str, dates[activity_id]))}" for activity_id in sample]
    return AssetCheckResult(
        check_name="unique_activity_id",
        asset_key=SILVER,
        passed=not examples,
        metadata={"duplicated_ids_sample": str(examples), "scope": "table" if rest_of_table is not None else "window"},
    )


#: Examples named in a failed check's metadata.
SAMPLE_IDS = 5


def row_conditions(start: dt.date, end: dt.date) -> dict:
    """The per-row failures of the row-level checks, as Spark column expressions (true = the row fails)."""
    from pyspark.sql import functions as F

    low_pace, high_pace = RUN_PACE_S_PER_KM
    low_hr, high_hr = HR_RANGE_BPM
    return {
        "positive_duration_and_distance": (
            (F.col("moving_time_s") <= 0)
            | (F.col("elapsed_time_s") <= 0)
            | (F.col("distance_m") < 0)
            | ((F.col("distance_m") == 0) & F.col("sport").isin(*DISTANCE_SPORTS))
            | F.col("moving_time_s").isNull()
            | F.col("distance_m").isNull()
        ),
        "plausible_pace_and_hr": (
            (F.col("sport").isin(*RUN_SPORTS) & ~F.col("pace_s_per_km").between(low_pace, high_pace))
            | (F.col("average_hr").isNotNull() & ~F.col("average_hr").between(low_hr, high_hr))
            | (F.col("max_hr").isNotNull() & ~F.col("max_hr").between(low_hr, high_hr))
        ),
        "rows_in_own_partition": (F.col("activity_date") < F.lit(start)) | (F.col("activity_date") >= F.lit(end)),
    }


def row_failure_sums(start: dt.date, end: dt.date) -> list:
    """Per row-level check, its failing rows as a Spark aggregate column named after the check (a comparison with
    a null is no verdict: not a failure); an aggregation of the caller's may carry them (one job fewer)."""
    from pyspark.sql import functions as F

    return [F.sum(F.coalesce(failing, F.lit(False)).cast("int")).alias(name)
            for name, failing in row_conditions(start, end).items()]


def row_check_counts(activities, start: dt.date, end: dt.date,
                     failing_rows: dict[str, int] | None = None) -> dict[str, tuple[int, list[int]]]:
    """Per row-level check: (failing rows, a few failing activity ids). The counts in one Spark job — each check
    a job of its own cost more than the checking itself on a day's rows — unless the caller counted them already
    (``failing_rows``, from :func:`row_failure_sums`); the ids of a failing check in one more job, bounded by
    :data:`SAMPLE_IDS` (collected in the aggregation, a window where every row fails would bring every id to the
    driver)."""
    from pyspark.sql import functions as F

    if failing_rows is None:
        row = activities.agg(*row_failure_sums(start, end)).first()
        failing_rows = {name: int(row[name] or 0) for name in row_conditions(start, end)}
    counts = {}
    for name, failing in row_conditions(start, end).items():
        rows = failing_rows[name]
        sample = [r["activity_id"] for r in activities.filter(F.coalesce(failing, F.lit(False)))
                  .select("activity_id").limit(SAMPLE_IDS).collect()] if rows else []
        counts[name] = (rows, sample)
    return counts


def check_positive_duration_and_distance(counts: dict[str, tuple[int, list[int]]]) -> AssetCheckResult:
    bad_rows, examples = counts["positive_duration_and_distance"]
    return AssetCheckResult(
        check_name="positive_duration_and_distance",
        asset_key=SILVER,
        passed=bad_rows == 0,
        metadata={"bad_rows": bad_rows, "activity_ids_sample": str(examples)},
    )


def check_plausible_pace_and_hr(counts: dict[str, tuple[int, list[int]]]) -> AssetCheckResult:
    implausible, examples = counts["plausible_pace_and_hr"]
    return AssetCheckResult(
        check_name="plausible_pace_and_hr",
        asset_key=SILVER,
        passed=implausible == 0,
        metadata={"implausible_rows": implausible, "activity_ids_sample": str(examples)},
    )


def check_rows_in_own_partition(counts: dict[str, tuple[int, list[int]]], start: dt.date, end: dt.date) -> AssetCheckResult:
    outside, _ = counts["rows_in_own_partition"]
    return AssetCheckResult(
        check_name="rows_in_own_partition",
        asset_key=SILVER,
        passed=outside == 0,
        metadata={"window": f"[{start}, {end})", "rows_outside": outside},
    )


def check_quarantine_rate(received: int, rejected: int, warn_rate: float) -> AssetCheckResult:
    rate = rejected / received if received else 0.0
    return AssetCheckResult(
        check_name="quarantine_rate",
        asset_key=SILVER,
        passed=rate <= warn_rate,
        severity=AssetCheckSeverity.WARN,
        metadata={"received": received, "rejected": rejected, "rate": round(rate, 4), "threshold": warn_rate},
    )


def evaluate_silver_checks(
    activities, *, start: dt.date, end: dt.date, accounting: RowAccounting, quarantine_warn_rate: float,
    rest_of_table=None, failing_rows: dict[str, int] | None = None,
) -> Iterator[AssetCheckResult]:
    """``failing_rows``: the row-level checks' counts when the caller's aggregation carried them (:func:`row_failure_sums`)."""
    yield check_unique_activity_id(activities, rest_of_table)
    counts = row_check_counts(activities, start, end, failing_rows)
    yield check_positive_duration_and_distance(counts)
    yield check_plausible_pace_and_hr(counts)
    yield check_rows_in_own_partition(counts, start, end)
    yield check_every_record_accounted_for(accounting)
    yield check_quarantine_rate(accounting.rows_in, accounting.quarantined, quarantine_warn_rate)
