"""Monitoring tables, one per daily partition, each with checks that WARN or ERROR at documented thresholds.

* ``monitoring/performance_estimate`` — NannyML DLE (direct loss estimation) estimated MAE per distance of
  the day's predictions, with the DLE fitted at training time for the *model version that made them*
  (``contract.DLE_ARTIFACT_PATH`` on the version's MLflow run). Reference MAE: the MAE logged on the
  training run (``lineage.reference_mae``), else the DLE's realized MAE on its own reference set.
  Check ``estimated_mae_within_reference``: WARN when estimated / reference > 1.25, ERROR > 1.5.
* ``monitoring/realized_error`` — each race of day D (``feature_store/race_results``) against the latest
  prediction with ``prediction_date ≤ race_date`` (looked up to 14 days back). A prediction for D uses only
  features as of the end of D−1, i.e. it exists before the race day starts, so the race cannot leak into
  it. Check ``realized_mape``: WARN when a distance's MAPE > 8 %, ERROR > 12 %; blocking check
  ``predictions_made_before_race``.
* ``monitoring/feature_drift`` — NannyML univariate drift (Jensen–Shannon, weekly chunks) of the served
  features against the serving version's training window as served: :mod:`athlete_platform.monitoring.feature_drift`.
* ``monitoring/overtraining_alerts`` — athletes whose rolling features of D flag ``is_overtraining_risk``
  (ACWR > 1.5, monotony > 2, TSB < −30: see ``features.compute``), with reasons, CTL/ATL/TSB and ACWR.
  Check ``overtraining_alert_share``: WARN when more than 10 % of the non-warm-up athletes of the day are
  flagged, ERROR above 25 % (a population-wide spike points at a load bug, e.g. duplicated activities).

Checks other than ``predictions_made_before_race`` are non-blocking: they alert without stopping the run.
"""

import warnings
from typing import Any, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    Output,
    ResourceParam,
    StepLauncher,
    TimeWindowPartitionMapping,
    asset,
)

from athlete_platform.inference import lineage
from athlete_platform.inference.assets import INFERENCE_LOG, PREDICTIONS, ROLLING_FEATURES
from athlete_platform.inference.frames import PandasOrNone, as_dates, or_empty, to_table
from athlete_platform.model import contract
from athlete_platform.monitoring.feature_drift import feature_drift
from athlete_platform.monitoring.levels import level_check, level_of, md_table
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import window_dates
from athlete_platform.resources.mlflow_resource import MlflowResource

PERFORMANCE_ESTIMATE = AssetKey(["monitoring", "performance_estimate"])
REALIZED_ERROR = AssetKey(["monitoring", "realized_error"])
OVERTRAINING_ALERTS = AssetKey(["monitoring", "overtraining_alerts"])
RACE_RESULTS = AssetKey(["feature_store", "race_results"])

DISTANCES = tuple(contract.DISTANCES_M)

# Thresholds (documented in the module docstring and in each check's description).
DLE_WARN_RATIO, DLE_ERROR_RATIO = 1.25, 1.5
MAPE_WARN_PCT, MAPE_ERROR_PCT = 8.0, 12.0
PREDICTION_LOOKBACK_DAYS = 14
OVERTRAINING_WARN_SHARE, OVERTRAINING_ERROR_SHARE = 0.10, 0.25


# ======================================================================================================
# performance_estimate
# ======================================================================================================

PERFORMANCE_SCHEMA = pa.schema([
    ("prediction_date", pa.date32()),
    ("model_name", pa.string()),
    ("model_version", pa.string()),
    ("distance", pa.string()),
    ("n_predictions", pa.int64()),
    ("estimated_mae_s", pa.float64()),
    ("estimated_mae_lower_s", pa.float64()),
    ("estimated_mae_upper_s", pa.float64()),
    ("reference_mae_s", pa.float64()),
    ("reference_source", pa.string()),  # "mlflow_metric" | "dle_reference"
    ("ratio_to_reference", pa.float64()),
    ("dle_alert", pa.bool_()),
    ("level", pa.string()),  # ok | warn | error
])


def dle_reference_mae(estimator: Any) -> float:
    """Row-weighted realized MAE of the DLE's own reference chunks (computed at fit time)."""
    frame = estimator.result.filter(period="reference").to_df()
    sizes = (frame[("chunk", "end_index")] - frame[("chunk", "start_index")] + 1).to_numpy(dtype=float)
    realized = frame[("mae", "realized")].to_numpy(dtype=float)
    ok = np.isfinite(realized)
    return float(np.average(realized[ok], weights=sizes[ok])) if ok.any() else float("nan")


def estimate_mae(estimator: Any, rows: pd.DataFrame, distance: str) -> dict[str, float]:
    """DLE estimate of the MAE of ``rows`` (inference-log rows) at ``distance``: row-weighted over chunks."""
    point = contract.prediction_columns(distance)[0]
    analysis = rows.loc[:, list(estimator.feature_column_names)].astype("float64").copy()
    analysis[estimator.y_pred] = rows[point].to_numpy(dtype="float64")
    if getattr(estimator, "timestamp_column_name", None):
        analysis[estimator.timestamp_column_name] = pd.to_datetime(rows["prediction_date"]).to_numpy()
    with warnings.catch_warnings():
        # One day of predictions is a deliberately small analysis set: one or a few chunks is expected.
        warnings.filterwarnings("ignore", message="The resulting number of chunks is too low", category=UserWarning)
        result = estimator.estimate(analysis.reset_index(drop=True)).filter(period="analysis").to_df()
    sizes = (result[("chunk", "end_index")] - result[("chunk", "start_index")] + 1).to_numpy(dtype=float)

    def weighted(column: str) -> float:
        values = result[("mae", column)].to_numpy(dtype=float)
        ok = np.isfinite(values)
        return float(np.average(values[ok], weights=sizes[ok])) if ok.any() else float("nan")

    return {
        "estimated_mae_s": weighted("value"),
        "estimated_mae_lower_s": weighted("lower_confidence_boundary"),
        "estimated_mae_upper_s": weighted("upper_confidence_boundary"),
        "dle_alert": bool(result[("mae", "alert")].fillna(False).astype(bool).any()),
    }


@asset(
    key=PERFORMANCE_ESTIMATE,
    ins={"inference_log": AssetIn(key=INFERENCE_LOG, dagster_type=PandasOrNone)},
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "prediction_date"},
    check_specs=[
        AssetCheckSpec(
            "estimated_mae_within_reference", asset=PERFORMANCE_ESTIMATE, blocking=False,
            description=f"DLE-estimated MAE / reference MAE: WARN > {DLE_WARN_RATIO}, ERROR > {DLE_ERROR_RATIO}.",
        )
    ],
    kinds={"python", "nannyml", "delta"},
    code_version="1",
    description=(
        "Per prediction date, model version and distance: NannyML DLE estimated MAE of the day's predictions "
        "(no ground truth needed) against the version's reference MAE."
    ),
)
def performance_estimate(
    context: AssetExecutionContext, mlflow: MlflowResource, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    inference_log: Optional[pd.DataFrame],
):
    log = or_empty(inference_log)
    records = []
    if not log.empty:
        from athlete_platform.monitoring.nannyml_support import import_nannyml

        import_nannyml()  # before unpickling the estimators (see nannyml_support)
        client = mlflow.client()
        log = log.assign(prediction_date=as_dates(log["prediction_date"]))
        for (run_id, name, version), by_version in log.groupby(["mlflow_run_id", "model_name", "model_version"]):
            estimators = lineage.load_dle_estimators(client, run_id)
            logged_mae = lineage.reference_mae(client, run_id)
            for distance in DISTANCES:
                estimator = estimators.get(distance)
                if estimator is None:  # too few reference races at training time (the artifact's "skipped")
                    context.log.info(f"model {name} v{version}: no DLE estimator for {distance}, not estimated")
                    continue
                if distance in logged_mae:
                    reference, source = logged_mae[distance], "mlflow_metric"
                else:
                    reference, source = dle_reference_mae(estimator), "dle_reference"
                for day, rows in by_version.groupby("prediction_date"):
                    estimate = estimate_mae(estimator, rows, distance)
                    ratio = estimate["estimated_mae_s"] / reference if reference and np.isfinite(reference) else float("nan")
                    records.append({
                        "prediction_date": day, "model_name": name, "model_version": str(version),
                        "distance": distance, "n_predictions": len(rows), **estimate,
                        "reference_mae_s": reference, "reference_source": source, "ratio_to_reference": ratio,
                        "level": level_of(ratio, DLE_WARN_RATIO, DLE_ERROR_RATIO),
                    })
    table = pd.DataFrame.from_records(records, columns=PERFORMANCE_SCHEMA.names)
    yield Output(
        to_table(table, PERFORMANCE_SCHEMA),
        metadata={"rows": len(table), "estimates": md_table(table.drop(columns=["model_name"]))},
    )
    worst = table.sort_values("ratio_to_reference", ascending=False).head(5) if not table.empty else table
    yield level_check(
        "estimated_mae_within_reference", PERFORMANCE_ESTIMATE, table["level"],
        {
            "max_ratio": float(table["ratio_to_reference"].max()) if not table.empty else 0.0,
            "warn_ratio": DLE_WARN_RATIO, "error_ratio": DLE_ERROR_RATIO,
            "worst": md_table(worst[["prediction_date", "model_version", "distance", "estimated_mae_s",
                                      "reference_mae_s", "ratio_to_reference", "level"]]) if not worst.empty else "none",
            "estimates": len(table),
        },
    )


# ======================================================================================================
# realized_error
# ======================================================================================================

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
    for distance in DISTANCES:
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


# ======================================================================================================
# overtraining_alerts
# ======================================================================================================

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


MONITORING_ASSETS = [performance_estimate, realized_error, feature_drift, overtraining_alerts]
