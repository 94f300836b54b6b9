"""The feature tables' asset checks, evaluated on the rows a step stored.

A feature step hands its Spark frame to the IO manager, which computes it once while writing it; the checks then
read the window's few checked columns back through the IO manager (``read_rows``: locally a filtered read of the
Delta files, not a Spark job; on Unity Catalog one small query). Checking the output before the write meant caching it in Spark and running an
aggregation job per check: the cache alone (Spark's rows turned into cached columns, then back for the write)
cost about a third of a feature step. The functions here are pandas over those columns, engine-free, and also
carry each table's summary figures (athletes, load, mean CTL/ATL/TSB on the last day) in the check metadata.
"""

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, AssetKey

from athlete_platform.asset_keys import ACTIVITY_FEATURES, DAILY_FEATURES, ROLLING_FEATURES, WEEKLY_FEATURES
from athlete_platform.domain import hr_zones

#: Days before the window's end in which an activity makes an athlete "recently active" (the rolling table must
#: then have its row on the last day): CTL's time constant.
RECENTLY_ACTIVE_DAYS = 42
#: The activity table's time-in-zone columns, as ``compute.activity_features`` names them.
ZONE_COLUMNS = tuple(f"{name}_pct" for name in hr_zones.ZONE_NAMES)


def blocking(asset_key: AssetKey, name: str, description: str | None = None) -> AssetCheckSpec:
    """A feature table's check: each blocks the table's downstream assets when it fails."""
    return AssetCheckSpec(name, asset=asset_key, blocking=True, description=description)


def duplicate_keys(rows: pd.DataFrame, keys: Sequence[str]) -> int:
    """Rows beyond the first of each key."""
    return int(rows.duplicated(list(keys)).sum())


def one_row_per_key(check_name: str, asset_key: AssetKey, rows: pd.DataFrame, keys: Sequence[str],
                    **summary: int | float) -> AssetCheckResult:
    """Passes when no two rows share ``keys``; ``summary`` adds the table's figures to the metadata."""
    duplicates = duplicate_keys(rows, keys)
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=duplicates == 0,
        metadata={"rows": len(rows), "distinct_keys": len(rows) - duplicates, **summary},
    )


# -- activity features -----------------------------------------------------------------------------

ACTIVITY_CHECKS = [
    blocking(ACTIVITY_FEATURES, "unique_activity_id"),
    blocking(
        ACTIVITY_FEATURES,
        "hr_zones_sum_to_100_or_null",
        "Zone shares sum to 100 ± 0.5 when present; all five null together; null without HR.",
    ),
    blocking(ACTIVITY_FEATURES, "training_load_non_negative"),
]
ACTIVITY_CHECK_COLUMNS = ["activity_id", "avg_hr", "training_load", *ZONE_COLUMNS]


def activity_checks(rows: pd.DataFrame) -> list[AssetCheckResult]:
    zones = rows[list(ZONE_COLUMNS)]
    nulls = zones.isna().sum(axis=1)
    all_zones = nulls == 0
    bad_sum = int((all_zones & ((zones.sum(axis=1) - 100.0).abs() > 0.5)).sum())
    partial = int(((nulls > 0) & (nulls < len(ZONE_COLUMNS))).sum())
    without_hr = int((rows["avg_hr"].isna() & (nulls < len(ZONE_COLUMNS))).sum())
    load = rows["training_load"]
    bad_load = int((load.isna() | (load < 0)).sum())
    duplicates = duplicate_keys(rows, ["activity_id"])
    return [
        AssetCheckResult(
            check_name="unique_activity_id",
            asset_key=ACTIVITY_FEATURES,
            passed=duplicates == 0,
            metadata={"rows": len(rows), "distinct_ids": len(rows) - duplicates},
        ),
        AssetCheckResult(
            check_name="hr_zones_sum_to_100_or_null",
            asset_key=ACTIVITY_FEATURES,
            passed=bad_sum + partial + without_hr == 0,
            metadata={
                "rows_with_zones": int(all_zones.sum()),
                "sum_off_by_more_than_0_5": bad_sum,
                "partially_null_zones": partial,
                "zones_without_hr": without_hr,
            },
        ),
        AssetCheckResult(
            check_name="training_load_non_negative",
            asset_key=ACTIVITY_FEATURES,
            passed=bad_load == 0,
            metadata={"null_or_negative_load": bad_load},
        ),
    ]


# -- daily features --------------------------------------------------------------------------------

DAILY_CHECKS = [
    blocking(DAILY_FEATURES, "one_row_per_athlete_day"),
    blocking(
        DAILY_FEATURES,
        "no_missing_calendar_days",
        "Every athlete has a row for every day of the window from its first day (rest days included).",
    ),
]
DAILY_CHECK_COLUMNS = ["athlete_id", "date", "daily_load"]


def daily_checks(rows: pd.DataFrame, end: dt.date) -> list[AssetCheckResult]:
    """``end``: the window's exclusive end; every athlete's calendar reaches the day before it."""
    dates = pd.to_datetime(rows["date"])
    spans = dates.groupby(rows["athlete_id"]).agg(["min", "max", "count"])
    gaps = int(((spans["max"] - spans["min"]).dt.days + 1 != spans["count"]).sum())
    not_to_end = int((spans["max"] != pd.Timestamp(end - dt.timedelta(days=1))).sum())
    return [
        one_row_per_key("one_row_per_athlete_day", DAILY_FEATURES, rows, ["athlete_id", "date"],
                        athletes=len(spans), total_load=float(rows["daily_load"].sum())),
        AssetCheckResult(
            check_name="no_missing_calendar_days",
            asset_key=DAILY_FEATURES,
            passed=gaps == 0 and not_to_end == 0,
            metadata={"athletes_with_gaps": gaps, "athletes_not_reaching_window_end": not_to_end},
        ),
    ]


# -- weekly features -------------------------------------------------------------------------------

WEEKLY_CHECKS = [blocking(WEEKLY_FEATURES, "one_row_per_athlete_week")]
WEEKLY_CHECK_COLUMNS = ["athlete_id", "week_start"]


def weekly_checks(rows: pd.DataFrame) -> list[AssetCheckResult]:
    return [one_row_per_key("one_row_per_athlete_week", WEEKLY_FEATURES, rows, ["athlete_id", "week_start"])]


# -- rolling features ------------------------------------------------------------------------------

ROLLING_CHECKS = [
    blocking(ROLLING_FEATURES, "one_row_per_athlete_day"),
    blocking(
        ROLLING_FEATURES,
        "pmc_and_acwr_non_null",
        "CTL, ATL, TSB and EWMA ACWR are set on every row (ACWR may be null only on zero chronic load).",
    ),
    blocking(
        ROLLING_FEATURES,
        "row_for_every_recently_active_athlete",
        f"Every athlete with an activity in the {RECENTLY_ACTIVE_DAYS} days before the window end has a row on its "
        "last day.",
    ),
]
ROLLING_CHECK_COLUMNS = ["athlete_id", "as_of_date", "ctl", "atl", "tsb", "acwr_ewma_7_28", "ewma_chronic",
                         "is_overtraining_risk"]
#: The daily table's columns the last check reads, over the ``RECENTLY_ACTIVE_DAYS`` before the window's end.
RECENT_ACTIVITY_COLUMNS = ["athlete_id", "activity_count"]


def recently_active_window(end: dt.date) -> tuple[dt.date, dt.date]:
    """The daily partitions ``[start, end)`` in which an activity makes an athlete recently active."""
    return end - dt.timedelta(days=RECENTLY_ACTIVE_DAYS), end


def rolling_checks(rows: pd.DataFrame, recent_days: pd.DataFrame, end: dt.date) -> list[AssetCheckResult]:
    """``rows``: the stored window; ``recent_days``: the daily table's rows of :func:`recently_active_window`."""
    last_day = end - dt.timedelta(days=1)
    on_last = pd.to_datetime(rows["as_of_date"]) == pd.Timestamp(last_day)
    null_pmc = int((rows["ctl"].isna() | rows["atl"].isna() | rows["tsb"].isna()).sum())
    null_acwr = int((rows["acwr_ewma_7_28"].isna() & (rows["ewma_chronic"] > 0)).sum())
    last = rows.loc[on_last]
    active = recent_days.loc[recent_days["activity_count"] > 0, "athlete_id"].unique()
    missing = np.setdiff1d(active, last["athlete_id"].to_numpy())
    return [
        one_row_per_key(
            "one_row_per_athlete_day", ROLLING_FEATURES, rows, ["athlete_id", "as_of_date"],
            athletes_on_last_day=len(last),
            overtraining_risk_rows=int(rows["is_overtraining_risk"].eq(True).sum()),
            **{f"mean_{name}_last_day": _mean(last[name]) for name in ("ctl", "atl", "tsb")},
        ),
        AssetCheckResult(
            check_name="pmc_and_acwr_non_null",
            asset_key=ROLLING_FEATURES,
            passed=null_pmc + null_acwr == 0,
            metadata={"rows_null_pmc": null_pmc, "rows_null_acwr_with_load": null_acwr},
        ),
        AssetCheckResult(
            check_name="row_for_every_recently_active_athlete",
            asset_key=ROLLING_FEATURES,
            passed=len(missing) == 0,
            metadata={"missing_athletes": len(missing), "missing_athletes_sample": str(missing[:10].tolist()),
                      "last_day": str(last_day)},
        ),
    ]


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if values.notna().any() else 0.0
