"""``monitoring/realized_error``: each race of day D (``labels/race_results``) against the athlete's
latest prediction with ``prediction_date ≤ race_date`` (looked up to 14 days back).

A prediction for D uses only features as of the end of D−1, i.e. it exists before the race day starts, so the
race cannot leak into it. Checks: ``predictions_made_before_race`` (blocking); ``realized_mape``
(non-blocking): WARN when a distance's MAPE > 8 %, ERROR > 12 %.
"""

from typing import Optional

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckResult,
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

from athlete_platform.asset_keys import PREDICTIONS, RACE_RESULTS, REALIZED_ERROR
from athlete_platform.frames import PandasOrNone, as_dates, or_empty, to_table
from athlete_platform.model import contract
from athlete_platform.monitoring.levels import level_check, level_of, md_table
from athlete_platform.partitions import daily_partitions, window_dates

#: A distance's MAPE (%) above which ``realized_mape`` warns, errors.
MAPE_WARN_PCT, MAPE_ERROR_PCT = 8.0, 12.0
#: How many days before a race its prediction is looked up.
PREDICTION_LOOKBACK_DAYS = 14

REALIZED_SCHEMA = pa.schema([
    ("race_date", pa.date32()),
    ("athlete_id", pa.int64()),
    ("activity_id", pa.int64()),
    ("distance_bucket", pa.string()),
    ("official_time_s", pa.float64()),
    ("prediction_date", pa.date32()),
    ("feature_as_of_date", pa.date32()),
    ("days_before_race", pa.int64()),  # race_date − prediction_date (0: the prediction made for race day)
    ("predicted_s", pa.float64()),
    ("lo80_s", pa.float64()),
    ("hi80_s", pa.float64()),
    ("error_s", pa.float64()),  # predicted − official (positive: predicted slower than ran)
    ("abs_error_s", pa.float64()),
    ("abs_pct_error", pa.float64()),
    ("within_80_interval", pa.bool_()),
    ("model_version", pa.string()),
    ("mlflow_run_id", pa.string()),
])


def realized_errors(races: pd.DataFrame, predictions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(one row per race with a prediction made before it, races without one).

    The prediction is the athlete's latest with ``prediction_date ≤ race_date`` (features < prediction_date
    ≤ race_date, so never the race day's own features).
    """
    if races.empty:
        return pd.DataFrame(columns=REALIZED_SCHEMA.names), 0
    left = races.loc[:, ["race_date", "athlete_id", "activity_id", "distance_bucket", "official_time_s"]].copy()
    left["athlete_id"] = left["athlete_id"].astype("int64")
    left["_race_day"] = pd.to_datetime(as_dates(left["race_date"]))
    if predictions.empty:
        return pd.DataFrame(columns=REALIZED_SCHEMA.names), len(left)
    right = predictions.copy()
    right["athlete_id"] = right["athlete_id"].astype("int64")
    right["_prediction_day"] = pd.to_datetime(as_dates(right["prediction_date"]))
    joined = pd.merge_asof(
        left.sort_values("_race_day"),
        right.sort_values("_prediction_day"),
        left_on="_race_day", right_on="_prediction_day", by="athlete_id",
        direction="backward", allow_exact_matches=True,  # prediction_date == race_date is made before the race
    )
    matched = joined[joined["_prediction_day"].notna()].copy()
    unmatched = len(joined) - len(matched)
    if matched.empty:
        return pd.DataFrame(columns=REALIZED_SCHEMA.names), unmatched
    predicted, low, high = (np.full(len(matched), np.nan) for _ in range(3))
    buckets = matched["distance_bucket"].to_numpy()
    for distance in contract.DISTANCES_M:
        mask = buckets == distance
        point, lo, hi = contract.prediction_columns(distance)
        predicted[mask] = matched.loc[mask, point].to_numpy(dtype=float)
        low[mask] = matched.loc[mask, lo].to_numpy(dtype=float)
        high[mask] = matched.loc[mask, hi].to_numpy(dtype=float)
    official = matched["official_time_s"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "race_date": matched["_race_day"].dt.date,
        "athlete_id": matched["athlete_id"].to_numpy(),
        "activity_id": matched["activity_id"].astype("int64").to_numpy(),
        "distance_bucket": buckets,
        "official_time_s": official,
        "prediction_date": matched["_prediction_day"].dt.date,
        "feature_as_of_date": as_dates(matched["feature_as_of_date"]),
        "days_before_race": (matched["_race_day"] - matched["_prediction_day"]).dt.days.astype("int64").to_numpy(),
        "predicted_s": predicted, "lo80_s": low, "hi80_s": high,
        "error_s": predicted - official,
        "abs_error_s": np.abs(predicted - official),
        "abs_pct_error": np.abs(predicted - official) / official * 100.0,
        "within_80_interval": (official >= low) & (official <= high),
        "model_version": matched["model_version"].astype(str).to_numpy(),
        "mlflow_run_id": matched["mlflow_run_id"].to_numpy(),
    })
    return out.sort_values(["race_date", "athlete_id", "activity_id"]).reset_index(drop=True), unmatched


@asset(
    key=REALIZED_ERROR,
    ins={
        "race_results": AssetIn(key=RACE_RESULTS, dagster_type=PandasOrNone),
        "predictions": AssetIn(
            key=PREDICTIONS,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-PREDICTION_LOOKBACK_DAYS, end_offset=0),
            dagster_type=PandasOrNone,
        ),
    },
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "race_date"},
    check_specs=[
        AssetCheckSpec(
            "predictions_made_before_race", asset=REALIZED_ERROR, blocking=True,
            description="prediction_date ≤ race_date and feature_as_of_date < race_date for every row.",
        ),
        AssetCheckSpec(
            "realized_mape", asset=REALIZED_ERROR, blocking=False,
            description=f"Per distance MAPE: WARN > {MAPE_WARN_PCT} %, ERROR > {MAPE_ERROR_PCT} %.",
        ),
    ],
    kinds={"python", "delta"},
    code_version="1",
    description=(
        "Each race of the day vs the athlete's latest prediction made before it (prediction_date ≤ race_date, "
        "features < prediction_date): error in seconds and %, interval hit, model version."
    ),
)
def realized_error(
    context: AssetExecutionContext, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    race_results: Optional[pd.DataFrame], predictions: Optional[pd.DataFrame],
):
    start, end = window_dates(context)
    races = or_empty(race_results)
    table, unmatched = realized_errors(races, or_empty(predictions))
    by_distance = (
        table.groupby("distance_bucket").agg(
            races=("abs_error_s", "size"), mae_s=("abs_error_s", "mean"), mape_pct=("abs_pct_error", "mean"),
            coverage_80=("within_80_interval", "mean"),
        ).reset_index()
        if not table.empty else pd.DataFrame(columns=["distance_bucket", "races", "mae_s", "mape_pct", "coverage_80"])
    )
    by_distance["level"] = [level_of(v, MAPE_WARN_PCT, MAPE_ERROR_PCT) for v in by_distance["mape_pct"]]
    yield Output(
        to_table(table, REALIZED_SCHEMA),
        metadata={"races": len(races), "matched": len(table), "races_without_prediction": unmatched,
                  "by_distance": md_table(by_distance)},
    )
    bad = table[
        (as_dates(table["prediction_date"]) > as_dates(table["race_date"]))
        | (as_dates(table["feature_as_of_date"]) >= as_dates(table["race_date"]))
    ] if not table.empty else table
    yield AssetCheckResult(
        check_name="predictions_made_before_race", asset_key=REALIZED_ERROR, passed=bad.empty,
        metadata={"violations": len(bad), "window": f"[{start}, {end})"},
    )
    yield level_check(
        "realized_mape", REALIZED_ERROR, by_distance["level"],
        {"warn_pct": MAPE_WARN_PCT, "error_pct": MAPE_ERROR_PCT, "by_distance": md_table(by_distance),
         "matched_races": len(table)},
    )
