"""``monitoring/overtraining_alerts``: athletes whose rolling features of D flag ``is_overtraining_risk``
(ACWR > 1.5, monotony > 2, TSB < −30: see ``features.compute``), with reasons, CTL/ATL/TSB and ACWR.

Checks (non-blocking): ``overtraining_alert_share`` looks for a population-wide *spike* (it points at a load
bug, e.g. duplicated activities): the day's share of flagged non-warm-up athletes against the same population's
share over the previous 91 days. WARN when the share is above 10 % and more than 3 binomial standard errors
above that baseline, ERROR above 25 % and 5 standard errors. A population where some athletes always run
monotonous weeks (Foster's monotony > 2 is common in amateurs) has a high baseline and stays green; each
flagged athlete is still in the table. With fewer than 28 baseline days the fixed shares alone decide.
Days with fewer than 10 non-warm-up athletes are not judged (one runner's export: every flag is a 100 % share).
``flagged_rows_have_reasons``: every flagged athlete has a reason code.
"""

import datetime as dt
from typing import Optional

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Output,
    ResourceParam,
    StepLauncher,
    TimeWindowPartitionMapping,
    asset,
)

from athlete_platform.asset_keys import OVERTRAINING_ALERTS, ROLLING_FEATURES
from athlete_platform.frames import PandasOrNone, as_dates, or_empty, to_table
from athlete_platform.monitoring.levels import ERROR, OK, WARN, level_check, level_of, md_table
from athlete_platform.partitions import daily_partitions, window_dates
from athlete_platform.resources.delta_io import ALLOW_MISSING, COLUMNS

#: Share of the day's non-warm-up athletes flagged above which ``overtraining_alert_share`` may warn, error...
OVERTRAINING_WARN_SHARE, OVERTRAINING_ERROR_SHARE = 0.10, 0.25
#: ...when it is also this many binomial standard errors above the population's own baseline share.
SPIKE_WARN_SE, SPIKE_ERROR_SE = 3.0, 5.0
#: The baseline: flagged athlete-days / athlete-days over the days before D (at least MIN_BASELINE_DAYS of them).
BASELINE_DAYS, MIN_BASELINE_DAYS = 91, 28
#: A baseline share below this is taken as this for the standard error (a spike from 0 % is still judged).
MIN_BASELINE_SHARE = 0.01
#: A share of fewer athletes says nothing about the population (one runner's export: every flag is 100 %):
#: such days are not judged; the flagged athletes are still in the table.
MIN_SHARE_ATHLETES = 10
#: The rows read: the day (or range) and the baseline days before it, only the columns the table and shares use.
WITH_BASELINE = TimeWindowPartitionMapping(start_offset=-BASELINE_DAYS, end_offset=0)
READ_COLUMNS = ("as_of_date", "athlete_id", "is_warmup", "is_overtraining_risk", "risk_reasons", "ctl", "atl", "tsb",
                "acwr_rolling_7_28", "acwr_ewma_7_28", "monotony_7d", "strain_7d")
SEVERITY_ORDER = (OK, WARN, ERROR)

OVERTRAINING_SCHEMA = pa.schema([
    ("as_of_date", pa.date32()),
    ("athlete_id", pa.int64()),
    ("risk_level", pa.string()),  # elevated (one reason) | high (two or more)
    ("risk_reasons", pa.string()),
    ("n_reasons", pa.int64()),
    ("ctl", pa.float64()),
    ("atl", pa.float64()),
    ("tsb", pa.float64()),
    ("acwr_rolling_7_28", pa.float64()),
    ("acwr_ewma_7_28", pa.float64()),
    ("acwr_zone", pa.string()),  # Gabbett 2016 on acwr_rolling_7_28
    ("monotony_7d", pa.float64()),
    ("strain_7d", pa.float64()),
])


def acwr_zone(value: float) -> str:
    """Gabbett 2016: < 0.8 low, 0.8-1.3 sweet spot, 1.3-1.5 elevated, ≥ 1.5 danger."""
    if value is None or not np.isfinite(value):
        return "unknown"
    if value < 0.8:
        return "low"
    if value <= 1.3:
        return "sweet_spot"
    if value < 1.5:
        return "elevated"
    return "danger"


def overtraining_rows(rolling: pd.DataFrame) -> pd.DataFrame:
    if rolling.empty:
        return pd.DataFrame(columns=OVERTRAINING_SCHEMA.names)
    flagged = rolling[rolling["is_overtraining_risk"].astype("boolean").fillna(False).astype(bool)].copy()
    reasons = flagged["risk_reasons"].fillna("").astype(str)
    flagged["n_reasons"] = reasons.map(lambda text: len([r for r in text.split(",") if r])).astype("int64")
    flagged["risk_level"] = np.where(flagged["n_reasons"] >= 2, "high", "elevated")
    flagged["risk_reasons"] = reasons
    flagged["as_of_date"] = as_dates(flagged["as_of_date"])
    flagged["acwr_zone"] = [acwr_zone(v) for v in flagged["acwr_rolling_7_28"].astype(float)]
    return flagged.sort_values(["as_of_date", "n_reasons", "athlete_id"], ascending=[True, False, True]).reset_index(
        drop=True
    )[OVERTRAINING_SCHEMA.names]


def daily_shares(rolling: pd.DataFrame) -> pd.DataFrame:
    """Per day: non-warm-up athletes, how many are flagged, and the share."""
    if rolling.empty:
        return pd.DataFrame({"as_of_date": pd.Series([], dtype=object), "athletes": pd.Series([], dtype="int64"),
                             "flagged": pd.Series([], dtype="int64"), "share": pd.Series([], dtype="float64")})
    eligible = rolling[~rolling["is_warmup"].astype("boolean").fillna(False).astype(bool)].assign(
        as_of_date=lambda f: as_dates(f["as_of_date"]),
        flag=lambda f: f["is_overtraining_risk"].astype("boolean").fillna(False).astype("int64"),
    )
    shares = eligible.groupby("as_of_date").agg(athletes=("athlete_id", "nunique"), flagged=("flag", "sum")).reset_index()
    shares["share"] = shares["flagged"] / shares["athletes"]
    return shares


def share_levels(days: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """``days`` (from :func:`daily_shares`) with each day's baseline share over the previous ``BASELINE_DAYS``
    (``history`` and ``days`` together), its standard-error distance and the level."""
    known = pd.concat([history, days], ignore_index=True).drop_duplicates("as_of_date", keep="last")
    out = days.copy()
    baselines, baseline_days, spikes, levels = [], [], [], []
    for day, athletes, share in zip(out["as_of_date"], out["athletes"], out["share"]):
        window = known[(known["as_of_date"] < day) & (known["as_of_date"] >= day - dt.timedelta(days=BASELINE_DAYS))]
        fixed = level_of(share, OVERTRAINING_WARN_SHARE, OVERTRAINING_ERROR_SHARE)
        if athletes < MIN_SHARE_ATHLETES:
            baselines.append(np.nan), baseline_days.append(len(window)), spikes.append(np.nan), levels.append(OK)
            continue
        if len(window) < MIN_BASELINE_DAYS or window["athletes"].sum() == 0:
            baselines.append(np.nan), baseline_days.append(len(window)), spikes.append(np.nan), levels.append(fixed)
            continue
        p0 = float(window["flagged"].sum() / window["athletes"].sum())
        se = np.sqrt(max(p0, MIN_BASELINE_SHARE) * (1 - min(p0, 1 - 1e-9)) / athletes)
        spike = (share - p0) / se
        # Both must say so: the lower of the share's level and the spike's level.
        level = min(fixed, level_of(spike, SPIKE_WARN_SE, SPIKE_ERROR_SE), key=SEVERITY_ORDER.index)
        baselines.append(p0), baseline_days.append(len(window)), spikes.append(spike), levels.append(level)
    return out.assign(baseline_share=baselines, baseline_days=baseline_days, spike_se=spikes, level=levels)


@asset(
    key=OVERTRAINING_ALERTS,
    ins={"rolling": AssetIn(key=ROLLING_FEATURES, partition_mapping=WITH_BASELINE, dagster_type=PandasOrNone,
                            metadata={ALLOW_MISSING: True, COLUMNS: list(READ_COLUMNS)})},
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "as_of_date"},
    check_specs=[
        AssetCheckSpec(
            "overtraining_alert_share", asset=OVERTRAINING_ALERTS, blocking=False,
            description=(
                f"A spike in the share of the day's non-warm-up athletes flagged, against the previous "
                f"{BASELINE_DAYS} days: WARN > {OVERTRAINING_WARN_SHARE:.0%} and > {SPIKE_WARN_SE:g} standard errors "
                f"above the baseline share, ERROR > {OVERTRAINING_ERROR_SHARE:.0%} and > {SPIKE_ERROR_SE:g}; days with "
                f"fewer than {MIN_SHARE_ATHLETES} athletes are not judged."
            ),
        ),
        AssetCheckSpec(
            "flagged_rows_have_reasons", asset=OVERTRAINING_ALERTS, blocking=False,
            description="Every flagged athlete has at least one risk reason code.",
        ),
    ],
    kinds={"python", "delta"},
    code_version="3",
    description=(
        "Athletes whose rolling features of the day flag overtraining risk (ACWR > 1.5, monotony > 2, "
        "TSB < −30) with reasons, CTL/ATL/TSB, ACWR and its Gabbett zone."
    ),
)
def overtraining_alerts(context: AssetExecutionContext, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
                        rolling: Optional[pd.DataFrame]):
    start, end = window_dates(context)
    read = or_empty(rolling)
    in_window = as_dates(read["as_of_date"]).between(start, end - dt.timedelta(days=1)) if not read.empty else []
    frame, before = (read[in_window], read[~in_window]) if not read.empty else (read, read)
    table = overtraining_rows(frame)
    shares = share_levels(daily_shares(frame), daily_shares(before))
    levels = list(shares["level"])
    yield Output(
        to_table(table, OVERTRAINING_SCHEMA),
        metadata={
            "flagged": len(table),
            "high_risk": int((table["risk_level"] == "high").sum()) if not table.empty else 0,
            "alerts": md_table(table[["as_of_date", "athlete_id", "risk_level", "risk_reasons", "ctl", "atl", "tsb",
                                       "acwr_rolling_7_28", "monotony_7d"]]),
        },
    )
    yield level_check(
        "overtraining_alert_share", OVERTRAINING_ALERTS, levels,
        {"max_share": float(shares["share"].max()) if not shares.empty else 0.0,
         "baseline_days": int(shares["baseline_days"].iloc[-1]) if not shares.empty else 0,
         "warn_share": OVERTRAINING_WARN_SHARE, "error_share": OVERTRAINING_ERROR_SHARE,
         "warn_se": SPIKE_WARN_SE, "error_se": SPIKE_ERROR_SE,
         "by_day": md_table(shares)},
    )
    missing = int((table["n_reasons"] == 0).sum()) if not table.empty else 0
    yield AssetCheckResult(
        check_name="flagged_rows_have_reasons", asset_key=OVERTRAINING_ALERTS, passed=missing == 0,
        severity=AssetCheckSeverity.ERROR, metadata={"flagged_without_reason": missing},
    )
