"""Asset checks of silver activities, on what the step wrote: pandas over small columns, no Spark job of their own.

The value-level checks (duration and distance, pace and HR) and the table-wide unique-id check read the window's
rows back from the table after the write (``read_rows``: locally a filtered read of the Delta files, on Unity
Catalog one small query), with the rows other partitions keep; ``rows_in_own_partition`` and the accounting
use the step's summary of the parsed rows, collected before the write. In a range run (single-run backfill) a
result covers the whole window; its metadata says which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
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
    accepted rows (versions beyond the first per id), ``silver`` on the rows the write stored: none is derived from
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


def check_unique_activity_id(window: pd.DataFrame, rest_of_table: pd.DataFrame | None = None) -> AssetCheckResult:
    """``window``: (activity_id, activity_date) of the window's stored rows; ``rest_of_table``: those of the rows
    other partitions keep after this write. With it the check sees the whole table, not just the window."""
    rows = window[["activity_id", "activity_date"]]
    if rest_of_table is not None:
        rows = pd.concat([rows, rest_of_table[["activity_id", "activity_date"]]], ignore_index=True)
    counts = rows["activity_id"].value_counts()
    sample = sorted(int(i) for i in counts[counts > 1].index)[:SAMPLE_IDS]
    dates = rows[rows["activity_id"].isin(sample)].groupby("activity_id")["activity_date"].agg(sorted)
    examples = [f"{activity_id} on {', '.join(map(str, dates[activity_id]))}" for activity_id in sample]
    return AssetCheckResult(
        check_name="unique_activity_id",
        asset_key=SILVER,
        passed=not examples,
        metadata={"duplicated_ids_sample": str(examples), "scope": "table" if rest_of_table is not None else "window"},
    )


#: Examples named in a failed check's metadata.
SAMPLE_IDS = 5

#: The columns the row-level checks read (from the window's stored rows).
ROW_CHECK_COLUMNS = ["activity_id", "sport", "moving_time_s", "elapsed_time_s", "distance_m", "pace_s_per_km",
                     "average_hr", "max_hr"]


def row_failures(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Per value-level check, the rows that fail it (a comparison with a missing value is no verdict, not a
    failure; a missing duration or distance is one)."""
    low_pace, high_pace = RUN_PACE_S_PER_KM
    low_hr, high_hr = HR_RANGE_BPM
    moving, elapsed, distance, pace = (rows[c] for c in ("moving_time_s", "elapsed_time_s", "distance_m", "pace_s_per_km"))

    def outside(values: pd.Series, low: float, high: float) -> pd.Series:
        return values.notna() & ~values.between(low, high)

    return {
        "positive_duration_and_distance": (
            (moving <= 0) | (elapsed <= 0) | (distance < 0) | ((distance == 0) & rows["sport"].isin(DISTANCE_SPORTS))
            | moving.isna() | distance.isna()
        ),
        "plausible_pace_and_hr": (
            (rows["sport"].isin(RUN_SPORTS) & outside(pace, low_pace, high_pace))
            | outside(rows["average_hr"], low_hr, high_hr) | outside(rows["max_hr"], low_hr, high_hr)
        ),
    }


def row_check_counts(rows: pd.DataFrame) -> dict[str, tuple[int, list[int]]]:
    """Per value-level check: (failing rows, a few failing activity ids, at most :data:`SAMPLE_IDS`)."""
    return {name: (int(failing.sum()), sorted(int(i) for i in rows.loc[failing, "activity_id"])[:SAMPLE_IDS])
            for name, failing in row_failures(rows).items()}


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


def check_rows_in_own_partition(dates: pd.Series, start: dt.date, end: dt.date) -> AssetCheckResult:
    """``dates``: activity_date of the rows handed to the write."""
    outside = int(((dates < start) | (dates >= end)).sum())
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
    stored: pd.DataFrame, *, written_dates: pd.Series, start: dt.date, end: dt.date, accounting: RowAccounting,
    quarantine_warn_rate: float, rest_of_table: pd.DataFrame | None = None,
) -> Iterator[AssetCheckResult]:
    """``stored``: the window's rows as stored by the write (:data:`ROW_CHECK_COLUMNS` and activity_date);
    ``written_dates``: activity_date of the rows handed to the write."""
    yield check_unique_activity_id(stored, rest_of_table)
    counts = row_check_counts(stored)
    yield check_positive_duration_and_distance(counts)
    yield check_plausible_pace_and_hr(counts)
    yield check_rows_in_own_partition(written_dates, start, end)
    yield check_every_record_accounted_for(accounting)
    yield check_quarantine_rate(accounting.rows_in, accounting.quarantined, quarantine_warn_rate)
