"""``monitoring/performance_estimate``: NannyML DLE (direct loss estimation) estimated MAE per distance of the
day's predictions, with the DLE fitted at training time for the *model version that made them*
(``contract.DLE_ARTIFACT_PATH`` on the version's MLflow run). No ground truth needed.

Reference MAE: the MAE logged on the training run (``lineage.reference_mae``), else the DLE's realized MAE on its
own reference set. Check ``estimated_mae_within_reference`` (non-blocking): WARN when the estimate's lower
confidence bound / reference > 1.25, ERROR > 1.5. The bound, not the point: one day of predictions at a distance
few athletes race gives a wide band (NannyML's ±3 sampling-error SDs; on the demo's marathon 250–1,360 s around
800 s against a reference of 600 s), and an excess inside that band is not evidence that the model degraded.

NannyML is imported inside the asset (see :mod:`athlete_platform.monitoring.nannyml_support`).
"""

import copy
import warnings
from typing import Any, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Output,
    ResourceParam,
    StepLauncher,
    asset,
)

from athlete_platform.asset_keys import INFERENCE_LOG, PERFORMANCE_ESTIMATE
from athlete_platform.frames import PandasOrNone, as_dates, or_empty, to_table
from athlete_platform.inference import lineage
from athlete_platform.model import contract
from athlete_platform.monitoring.levels import level_check, level_of, md_table
from athlete_platform.monitoring.nannyml_support import period_rows
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.mlflow_resource import MlflowResource

#: estimated / reference MAE above which the check warns, errors (the module docstring and the check say so).
DLE_WARN_RATIO, DLE_ERROR_RATIO = 1.25, 1.5

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
    frame = period_rows(estimator.result.to_df(), "reference")
    sizes = (frame[("chunk", "end_index")] - frame[("chunk", "start_index")] + 1).to_numpy(dtype=float)
    realized = frame[("mae", "realized")].to_numpy(dtype=float)
    ok = np.isfinite(realized)
    return float(np.average(realized[ok], weights=sizes[ok])) if ok.any() else float("nan")


def mae_only(estimator: Any) -> Any:
    """``estimator`` estimating the MAE only and keeping no earlier result: a shallow copy, the fitted
    estimator is untouched. The same MAE rows as the full estimator's, for a fraction of the work: each metric
    (RMSE too) is its own LightGBM model and chunk loop, and ``estimate`` with a stored result deep-copies it
    twice — the metrics' LightGBM models with it — to prepend the reference rows, which are dropped here."""
    view = copy.copy(estimator)
    view.metrics = [metric for metric in estimator.metrics if metric.column_name == "mae"]
    view.result = None
    return view


def estimate_mae(estimator: Any, rows: pd.DataFrame, distance: str) -> dict[str, float]:
    """DLE estimate of the MAE of ``rows`` (inference-log rows) at ``distance``: row-weighted over chunks.
    ``estimator``: a DLE with an MAE metric, best a :func:`mae_only` view of it."""
    point = contract.prediction_columns(distance)[0]
    analysis = rows.loc[:, list(estimator.feature_column_names)].astype("float64").copy()
    analysis[estimator.y_pred] = rows[point].to_numpy(dtype="float64")
    if getattr(estimator, "timestamp_column_name", None):
        analysis[estimator.timestamp_column_name] = pd.to_datetime(rows["prediction_date"]).to_numpy()
    with warnings.catch_warnings():
        # One day of predictions is a deliberately small analysis set: one or a few chunks is expected.
        warnings.filterwarnings("ignore", message="The resulting number of chunks is too low", category=UserWarning)
        result = period_rows(estimator.estimate(analysis.reset_index(drop=True)).to_df(), "analysis")
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
            description=(
                f"DLE-estimated MAE (lower confidence bound) / reference MAE: WARN > {DLE_WARN_RATIO}, "
                f"ERROR > {DLE_ERROR_RATIO}."
            ),
        )
    ],
    kinds={"python", "nannyml", "delta"},
    code_version="2",
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
            for distance in contract.DISTANCES_M:
                estimator = estimators.get(distance)
                if estimator is None:  # too few reference races at training time (the artifact's "skipped")
                    context.log.info(f"model {name} v{version}: no DLE estimator for {distance}, not estimated")
                    continue
                if distance in logged_mae:
                    reference, source = logged_mae[distance], "mlflow_metric"
                else:
                    reference, source = dle_reference_mae(estimator), "dle_reference"
                mae_estimator = mae_only(estimator)
                for day, rows in by_version.groupby("prediction_date"):
                    estimate = estimate_mae(mae_estimator, rows, distance)
                    usable = bool(reference) and np.isfinite(reference)
                    ratio = estimate["estimated_mae_s"] / reference if usable else float("nan")
                    lower = estimate["estimated_mae_lower_s"]
                    judged = (lower if np.isfinite(lower) else estimate["estimated_mae_s"]) / reference if usable else float("nan")
                    records.append({
                        "prediction_date": day, "model_name": name, "model_version": str(version),
                        "distance": distance, "n_predictions": len(rows), **estimate,
                        "reference_mae_s": reference, "reference_source": source, "ratio_to_reference": ratio,
                        "level": level_of(judged, DLE_WARN_RATIO, DLE_ERROR_RATIO),
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
                                      "estimated_mae_lower_s", "reference_mae_s", "ratio_to_reference", "level"]]) if not worst.empty else "none",
            "estimates": len(table),
        },
    )
