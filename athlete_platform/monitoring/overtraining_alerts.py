"""``monitoring/overtraining_alerts``: athletes whose rolling features of D flag ``is_overtraining_risk``
(ACWR > 1.5, monotony > 2, TSB < −30: see ``features.compute``), with reasons, CTL/ATL/TSB and ACWR.

Checks (non-blocking): ``overtraining_alert_share``: WARN when more than 10 % of the non-warm-up athletes of
the day are flagged, ERROR above 25 % (a population-wide spike points at a load bug, e.g. duplicated
activities); ``flagged_rows_have_reasons``.
"""

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
    asset,
)

from athlete_platform.asset_keys import OVERTRAINING_ALERTS, ROLLING_FEATURES
from athlete_platform.frames import PandasOrNone, as_dates, or_empty, to_table
from athlete_platform.monitoring.levels import level_check, level_of, md_table
from athlete_platform.partitions import daily_partitions

#: Share of the day's non-warm-up athletes flagged above which ``overtraining_alert_share`` warns, errors.
OVERTRAINING_WARN_SHARE, OVERTRAINING_ERROR_SHARE = 0.10, 0.25

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


@asset(
    key=OVERTRAINING_ALERTS,
    ins={"rolling": AssetIn(key=ROLLING_FEATURES, dagster_type=PandasOrNone)},
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "as_of_date"},
    check_specs=[
        AssetCheckSpec(
            "overtraining_alert_share", asset=OVERTRAINING_ALERTS, blocking=False,
            description=(
                f"Share of the day's non-warm-up athletes flagged: WARN > {OVERTRAINING_WARN_SHARE:.0%}, "
                f"ERROR > {OVERTRAINING_ERROR_SHARE:.0%}."
            ),
        ),
        AssetCheckSpec(
            "flagged_rows_have_reasons", asset=OVERTRAINING_ALERTS, blocking=False,
            description="Every flagged athlete has at least one risk reason code.",
        ),
    ],
    kinds={"python", "delta"},
    code_version="1",
    description=(
        "Athletes whose rolling features of the day flag overtraining risk (ACWR > 1.5, monotony > 2, "
        "TSB < −30) with reasons, CTL/ATL/TSB, ACWR and its Gabbett zone."
    ),
)
def overtraining_alerts(context: AssetExecutionContext, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]], rolling: Optional[pd.DataFrame]):
    frame = or_empty(rolling)
    table = overtraining_rows(frame)
    if frame.empty:
        shares = pd.DataFrame(columns=["as_of_date", "athletes", "flagged", "share"])
    else:
        eligible = frame[~frame["is_warmup"].astype("boolean").fillna(False).astype(bool)].assign(
            as_of_date=lambda f: as_dates(f["as_of_date"])
        )
        shares = eligible.groupby("as_of_date").agg(
            athletes=("athlete_id", "nunique"),
            flagged=("is_overtraining_risk", lambda s: int(s.astype("boolean").fillna(False).sum())),
        ).reset_index()
        shares["share"] = shares["flagged"] / shares["athletes"]
    levels = [level_of(v, OVERTRAINING_WARN_SHARE, OVERTRAINING_ERROR_SHARE) for v in shares["share"]]
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
         "warn_share": OVERTRAINING_WARN_SHARE, "error_share": OVERTRAINING_ERROR_SHARE,
         "by_day": md_table(shares.assign(level=levels))},
    )
    missing = int((table["n_reasons"] == 0).sum()) if not table.empty else 0
    yield AssetCheckResult(
        check_name="flagged_rows_have_reasons", asset_key=OVERTRAINING_ALERTS, passed=missing == 0,
        severity=AssetCheckSeverity.ERROR, metadata={"flagged_without_reason": missing},
    )
