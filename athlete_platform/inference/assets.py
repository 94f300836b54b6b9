"""Daily race-time predictions and the inference log.

For each prediction date D (a daily partition) and each athlete *active as of D* — a rolling-features row
for D−1 and at least one activity in the 42 days D−42..D−1 — the registered model predicts 5K/10K/21K/42K
times with 80 % intervals from ``contract.model_input(rolling row of D−1)``. Features are strictly before D
(input mapping ``TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)``): a prediction for D can be
made at the start of D and is used as "the prediction before a race on D".

A range run (single-run backfill) loads rolling features [start−1, end−1) once and pairs each D with D−1.

Model lineage is explicit (see :mod:`athlete_platform.inference.lineage`): ``model_alias`` resolved to a
version per run, or ``point_in_time_model`` choosing per D the newest version trained before D. Every row
carries model_name, model_version, model_alias, mlflow_run_id.

Shadow scoring (alias mode): when ``shadow_alias`` (default ``challenger``) names a version other than the
served one, that version scores the very same feature rows beside it. The inference log then holds two rows
per (athlete, day): the served one (``served`` true, ``model_role`` = the alias it was resolved through,
normally ``champion``) and the shadow one (``served`` false, ``model_role`` = ``challenger``), each with its
exact version. Gold predictions are the served rows only; consumers of the log that want what was served
filter on ``served`` (:func:`served_rows`). Point-in-time mode serves one version per day and scores no
shadow (``model_role`` = ``point_in_time``): a backfill has no "challenger of that day" to replay.
Promotion (``model/champion_decision``) judges the challenger on these shadow rows.

Checks are evaluated **before** anything is written: when a blocking check fails, its result is recorded
and the step fails without writing either table (publishing bad predictions is the effect to prevent).
"""


import datetime as dt
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
    AssetOut,
    BackfillPolicy,
    Config,
    Failure,
    MetadataValue,
    Output,
    ResourceParam,
    StepLauncher,
    TimeWindowPartitionMapping,
    multi_asset,
)
from pydantic import Field

from athlete_platform.asset_keys import DAILY_FEATURES, INFERENCE_LOG, PREDICTIONS, ROLLING_FEATURES
from athlete_platform.frames import PandasOrNone, as_dates, empty_frame, to_table, window_days
from athlete_platform.inference import lineage
from athlete_platform.model import contract
from athlete_platform.partitions import PREVIOUS_DAY, daily_partitions, window_dates
from athlete_platform.resources.mlflow_resource import MlflowResource

#: An athlete is active as of D with an activity on one of the days D−ACTIVE_WINDOW_DAYS .. D−1.
ACTIVE_WINDOW_DAYS = 42
ACTIVITY_LOOKBACK = TimeWindowPartitionMapping(start_offset=-ACTIVE_WINDOW_DAYS, end_offset=-1)
DISTANCES = tuple(contract.DISTANCES_M)
POINT_COLUMNS = tuple(contract.prediction_columns(d)[0] for d in DISTANCES)
#: ``model_role`` of the rows served in point-in-time mode (no alias chose that version).
POINT_IN_TIME_ROLE = "point_in_time"

_LINEAGE_FIELDS = [
    pa.field("model_name", pa.string()),
    pa.field("model_version", pa.string()),
    pa.field("model_alias", pa.string()),  # null in point-in-time mode
    pa.field("mlflow_run_id", pa.string()),
]
_PREDICTION_FIELDS = [pa.field(c, pa.float64()) for c in contract.PREDICTION_COLUMNS]

PREDICTIONS_SCHEMA = pa.schema(
    [
        pa.field("athlete_id", pa.int64()),
        pa.field("prediction_date", pa.date32()),
        pa.field("feature_as_of_date", pa.date32()),
        *_PREDICTION_FIELDS,
        *_LINEAGE_FIELDS,
    ]
)
INFERENCE_LOG_SCHEMA = pa.schema(
    [
        pa.field("athlete_id", pa.int64()),
        pa.field("prediction_date", pa.date32()),
        pa.field("feature_as_of_date", pa.date32()),
        pa.field("last_activity_date", pa.date32()),
        *[pa.field(c, pa.float64()) for c in contract.FEATURE_COLUMNS],  # exactly what the model received
        *_PREDICTION_FIELDS,
        *_LINEAGE_FIELDS,
        pa.field("model_uri", pa.string()),
        pa.field("model_role", pa.string()),  # champion (the serving alias) | challenger (shadow) | point_in_time
        pa.field("served", pa.bool_()),  # true: the row is in inference/athlete_predictions; false: shadow scoring
        pa.field("dagster_run_id", pa.string()),
        pa.field("logged_at", pa.timestamp("us", tz="UTC")),
    ]
)

INFERENCE_CHECK_SPECS = [
    AssetCheckSpec(
        "unique_athlete_prediction_date", asset=PREDICTIONS, blocking=True,
        description="One prediction row per (athlete_id, prediction_date).",
    ),
    AssetCheckSpec(
        "no_feature_leakage", asset=PREDICTIONS, blocking=True,
        description="Every row's feature_as_of_date is strictly before its prediction_date (predictions and log).",
    ),
    AssetCheckSpec(
        "monotone_in_distance", asset=PREDICTIONS, blocking=True,
        description=(
            "Finite positive point predictions, non-decreasing in distance (pred_5k ≤ pred_10k ≤ pred_21k ≤ "
            "pred_42k, the model contract's cumulative-maximum rule); ties are counted in the metadata."
        ),
    ),
    AssetCheckSpec(
        "interval_contains_point", asset=PREDICTIONS, blocking=False,
        description="lo80 ≤ pred ≤ hi80 for every distance (warning).",
    ),
    AssetCheckSpec(
        "row_count_matches_predictions", asset=INFERENCE_LOG, blocking=True,
        description=(
            "Log rows = prediction rows + shadow rows: the served log rows have exactly the (athlete_id, "
            "prediction_date) keys of the predictions, and each shadow row one of those keys, once per version."
        ),
    ),
]


class InferenceConfig(Config):
    model_alias: str = Field(
        default=contract.CHAMPION_ALIAS,
        description="Registry alias resolved to one model version for the whole run (alias mode).",
    )
    point_in_time_model: bool = Field(
        default=False,
        description=(
            "Backfills: per prediction date D use the newest registered version whose training cut-off is "
            "before D (no model that saw D or later). Days without such a version get no predictions."
        ),
    )
    shadow_alias: str = Field(
        default=contract.CHALLENGER_ALIAS,
        description=(
            "Alias mode: this alias's version, when set and not the served version, scores the same rows as a "
            "shadow (inference log only, served=false). Empty: no shadow scoring."
        ),
    )


# -- pure parts (tested directly) -----------------------------------------------------------------------


def active_feature_rows(
    rolling: pd.DataFrame | None, daily: pd.DataFrame | None, prediction_dates: list[dt.date]
) -> pd.DataFrame:
    """Rolling rows of D−1 of the athletes active as of D, with ``prediction_date`` = D.

    Active as of D: a rolling row for D−1 and an activity (daily ``activity_count`` > 0) on D−42..D−1.
    Adds ``feature_as_of_date`` (= D−1) and ``last_activity_date``.
    """
    columns = ["athlete_id", "prediction_date", "feature_as_of_date", "last_activity_date", *contract.FEATURE_COLUMNS]
    if rolling is None or rolling.empty or daily is None or daily.empty:
        return pd.DataFrame(columns=columns)
    rows = rolling.copy()
    rows["feature_as_of_date"] = as_dates(rows["as_of_date"])
    rows["prediction_date"] = rows["feature_as_of_date"] + dt.timedelta(days=1)
    rows = rows[rows["prediction_date"].isin(set(prediction_dates))]
    activity_days = daily.loc[daily["activity_count"] > 0, ["athlete_id", "date"]].copy()
    if rows.empty or activity_days.empty:
        return pd.DataFrame(columns=columns)
    activity_days["_day"] = pd.to_datetime(activity_days["date"])
    activity_days["athlete_id"] = activity_days["athlete_id"].astype("int64")
    rows["_day"] = pd.to_datetime(rows["feature_as_of_date"])
    rows["athlete_id"] = rows["athlete_id"].astype("int64")
    # Latest activity day ≤ D−1 per athlete (merge_asof needs both sides sorted on the key).
    merged = pd.merge_asof(
        rows.sort_values("_day"),
        activity_days[["athlete_id", "_day"]].rename(columns={"_day": "_last"}).sort_values("_last"),
        left_on="_day",
        right_on="_last",
        by="athlete_id",
        direction="backward",
    )
    horizon = merged["_day"] - pd.Timedelta(days=ACTIVE_WINDOW_DAYS - 1)  # D−42 = (D−1) − 41
    active = merged[merged["_last"].notna() & (merged["_last"] >= horizon)].copy()
    active["last_activity_date"] = active["_last"].dt.date
    return active.sort_values(["prediction_date", "athlete_id"]).reset_index(drop=True)[
        ["athlete_id", "prediction_date", "feature_as_of_date", "last_activity_date", *contract.FEATURE_COLUMNS]
    ]


def predict_frame(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """The model's PREDICTION_COLUMNS for ``rows`` (index aligned), via the one contract input path."""
    output = model.predict(contract.model_input(rows))
    if not isinstance(output, pd.DataFrame):
        output = pd.DataFrame(np.asarray(output, dtype="float64"), columns=list(contract.PREDICTION_COLUMNS))
    missing = [c for c in contract.PREDICTION_COLUMNS if c not in output.columns]
    if missing:
        raise KeyError(f"model output lacks contract columns {missing}")
    if len(output) != len(rows):
        raise ValueError(f"model returned {len(output)} rows for {len(rows)} inputs")
    output = output.loc[:, list(contract.PREDICTION_COLUMNS)].astype("float64")
    output.index = rows.index
    return output


def served_rows(inference_log: pd.DataFrame) -> pd.DataFrame:
    """The log rows that were served (gold predictions), without shadow rows; a log written before shadow
    scoring (no ``served`` column) was all served."""
    if "served" not in inference_log.columns:
        return inference_log
    return inference_log[inference_log["served"].fillna(True).astype(bool)]


def evaluate_inference_checks(predictions: pd.DataFrame, inference_log: pd.DataFrame) -> list[AssetCheckResult]:
    """The five inference checks on the outputs (before they are written)."""
    keys = ["athlete_id", "prediction_date"]
    duplicated = predictions[predictions.duplicated(keys, keep=False)]

    def leaking(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        return frame[~(as_dates(frame["feature_as_of_date"]) < as_dates(frame["prediction_date"]))]

    leaks = pd.concat([leaking(predictions)[keys], leaking(inference_log)[keys]]).drop_duplicates()

    points = predictions.loc[:, list(POINT_COLUMNS)].to_numpy(dtype="float64") if not predictions.empty else np.empty((0, 4))
    finite_positive = np.isfinite(points).all(axis=1) & (points > 0).all(axis=1)
    steps = np.diff(points, axis=1)
    non_decreasing = (steps >= 0).all(axis=1)
    ties = int(((steps == 0).any(axis=1) & non_decreasing).sum())
    not_monotone = predictions[~(finite_positive & non_decreasing)]

    outside = np.zeros(len(predictions), dtype=bool)
    for distance in DISTANCES:
        point, low, high = contract.prediction_columns(distance)
        if not predictions.empty:
            outside |= ~((predictions[low] <= predictions[point]) & (predictions[point] <= predictions[high])).to_numpy()

    def key_set(frame: pd.DataFrame) -> set[tuple[int, dt.date]]:
        if frame.empty:
            return set()
        return set(zip(frame["athlete_id"].astype("int64"), as_dates(frame["prediction_date"])))

    served = served_rows(inference_log)
    shadow = inference_log.loc[inference_log.index.difference(served.index)]
    same_keys = key_set(predictions) == key_set(served)
    shadow_keys_served = key_set(shadow) <= key_set(predictions)
    shadow_duplicates = int(shadow.duplicated([*keys, "model_version"]).sum()) if not shadow.empty else 0

    def sample(frame: pd.DataFrame) -> str:
        return str([(int(a), str(d)) for a, d in frame[keys].head(5).itertuples(index=False)])

    return [
        AssetCheckResult(
            check_name="unique_athlete_prediction_date", asset_key=PREDICTIONS, passed=duplicated.empty,
            metadata={"rows": len(predictions), "duplicated_rows": len(duplicated), "sample": sample(duplicated)},
        ),
        AssetCheckResult(
            check_name="no_feature_leakage", asset_key=PREDICTIONS, passed=leaks.empty,
            metadata={"leaking_rows": len(leaks), "sample": sample(leaks), "rule": "feature_as_of_date < prediction_date"},
        ),
        AssetCheckResult(
            check_name="monotone_in_distance", asset_key=PREDICTIONS, passed=not_monotone.empty,
            metadata={"violations": len(not_monotone), "rows_with_equal_times": ties, "sample": sample(not_monotone)},
        ),
        AssetCheckResult(
            check_name="interval_contains_point", asset_key=PREDICTIONS, passed=not outside.any(),
            severity=AssetCheckSeverity.WARN,
            metadata={"rows_outside_interval": int(outside.sum())},
        ),
        AssetCheckResult(
            check_name="row_count_matches_predictions", asset_key=INFERENCE_LOG,
            passed=(len(predictions) == len(served) and same_keys and shadow_keys_served and shadow_duplicates == 0
                    and len(inference_log) == len(predictions) + len(shadow)),
            metadata={"predictions_rows": len(predictions), "shadow_rows": len(shadow),
                      "inference_log_rows": len(inference_log), "same_keys": same_keys,
                      "shadow_keys_among_predictions": shadow_keys_served, "shadow_duplicates": shadow_duplicates},
        ),
    ]


BLOCKING_CHECKS = frozenset(spec.name for spec in INFERENCE_CHECK_SPECS if spec.blocking)


def _scored(rows: pd.DataFrame, model: Any, ref: lineage.ModelRef, *, role: str, served: bool) -> pd.DataFrame:
    """Inference-log rows of ``ref`` scoring ``rows``: the feature values as fed (float64), its outputs, lineage."""
    frame = rows.copy()
    frame[list(contract.FEATURE_COLUMNS)] = contract.feature_matrix(rows)
    frame = pd.concat([frame, predict_frame(model, rows)], axis=1)
    frame["model_name"] = ref.name
    frame["model_version"] = ref.version
    frame["model_alias"] = ref.alias
    frame["mlflow_run_id"] = ref.run_id
    frame["model_uri"] = ref.uri
    frame["model_role"] = role
    frame["served"] = served
    return frame


def build_outputs(
    rows: pd.DataFrame, models_by_date: dict[dt.date, lineage.ModelRef | None], load_model, *, run_id: str,
    logged_at: dt.datetime, served_role: str = contract.CHAMPION_ALIAS, shadow: lineage.ModelRef | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dt.date]]:
    """(predictions, inference_log, dates without a model). ``load_model(ref)`` returns a pyfunc model.

    Served rows carry ``model_role=served_role``; ``shadow`` (a version other than every served one) scores
    the rows that were served, as ``model_role=shadow.alias`` and ``served=False``: log only."""
    frames = []
    days_without_model = sorted(day for day, ref in models_by_date.items() if ref is None)
    refs = {ref.version: ref for ref in models_by_date.values() if ref is not None}
    if shadow is not None and shadow.version in refs:
        raise ValueError(f"shadow version {shadow.version} is also served: nothing to compare")
    for version, ref in sorted(refs.items(), key=lambda item: int(item[0])):
        days = {day for day, chosen in models_by_date.items() if chosen is not None and chosen.version == version}
        subset = rows[rows["prediction_date"].isin(days)]
        if subset.empty:
            continue
        frames.append(_scored(subset, load_model(ref), ref, role=served_role, served=True))
    if not frames:
        return empty_frame(PREDICTIONS_SCHEMA), empty_frame(INFERENCE_LOG_SCHEMA), days_without_model
    if shadow is not None:
        # Exactly the rows the served model got (same athletes, days and features): a paired comparison.
        served = pd.concat(frames, ignore_index=True).loc[:, list(rows.columns)]
        frames.append(_scored(served, load_model(shadow), shadow, role=shadow.alias or "shadow", served=False))
    log = (
        pd.concat(frames, ignore_index=True)
        .sort_values(["prediction_date", "athlete_id", "served"], ascending=[True, True, False])
        .reset_index(drop=True)
    )
    log["dagster_run_id"] = run_id
    log["logged_at"] = pd.Timestamp(logged_at)
    predictions = log.loc[log["served"].astype(bool), PREDICTIONS_SCHEMA.names].reset_index(drop=True)
    return predictions, log.loc[:, INFERENCE_LOG_SCHEMA.names], days_without_model


@multi_asset(
    outs={
        "athlete_predictions": AssetOut(
            key=PREDICTIONS,
            metadata={"partition_expr": "prediction_date"},
            description=(
                "Per active athlete and prediction date D: predicted 5K/10K/21K/42K seconds with 80 % intervals "
                "from rolling features of D−1, and the model version (name, version, alias, MLflow run) used."
            ),
            kinds={"python", "delta", "mlflow"},
            code_version="1",
        ),
        "inference_log": AssetOut(
            key=INFERENCE_LOG,
            metadata={"partition_expr": "prediction_date"},
            description=(
                "Per athlete and prediction date: the exact feature values fed to the model, its outputs, model "
                "version and the Dagster run id. Source of drift and performance monitoring."
            ),
            kinds={"python", "delta"},
            code_version="1",
        ),
    },
    ins={
        "rolling": AssetIn(key=ROLLING_FEATURES, partition_mapping=PREVIOUS_DAY, dagster_type=PandasOrNone),
        "daily": AssetIn(key=DAILY_FEATURES, partition_mapping=ACTIVITY_LOOKBACK, dagster_type=PandasOrNone),
    },
    group_name="inference",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=INFERENCE_CHECK_SPECS,
)
def athlete_predictions(
    context: AssetExecutionContext,
    config: InferenceConfig,
    mlflow: MlflowResource,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],  # remote on Databricks, in-process locally
    rolling: Optional[pd.DataFrame],
    daily: Optional[pd.DataFrame],
):
    start, end = window_dates(context)
    days = window_days(start, end)
    rows = active_feature_rows(rolling, daily, days)
    client = mlflow.client()
    if config.point_in_time_model:
        models_by_date = lineage.point_in_time_versions(lineage.registered_versions(client, mlflow.model_name), days)
    else:
        from mlflow.exceptions import MlflowException

        try:
            ref = lineage.resolve_alias(client, mlflow.model_name, config.model_alias)
        except MlflowException as err:
            raise Failure(
                description=(
                    f"no version of {mlflow.model_name} has alias @{config.model_alias} ({err.error_code}): register "
                    "and promote a model first (weekly_training_job), or pass model_alias / point_in_time_model"
                ),
            ) from err
        models_by_date = dict.fromkeys(days, ref)
    shadow = None
    if not config.point_in_time_model and config.shadow_alias:
        shadow = lineage.alias_if_set(client, mlflow.model_name, config.shadow_alias)
        if shadow is not None and shadow.version == ref.version:
            shadow = None  # the challenger is the served version itself: nothing to compare
        if shadow is None:
            context.log.info(f"no shadow scoring: no @{config.shadow_alias} version other than v{ref.version}")
    served_role = POINT_IN_TIME_ROLE if config.point_in_time_model else config.model_alias
    loaded: dict[str, Any] = {}

    def load_model(ref: lineage.ModelRef) -> Any:
        if ref.version not in loaded:
            context.log.info(f"loading {ref.uri} (alias {ref.alias or '-'}, run {ref.run_id})")
            loaded[ref.version] = lineage.load_pyfunc(ref)
        return loaded[ref.version]

    predictions, log, days_without_model = build_outputs(
        rows, models_by_date, load_model, run_id=context.run.run_id, logged_at=dt.datetime.now(dt.timezone.utc),
        served_role=served_role, shadow=shadow,
    )
    if days_without_model:
        context.log.warning(
            f"{len(days_without_model)} day(s) have no registered version trained before them and get no "
            f"predictions (first {days_without_model[0]}, last {days_without_model[-1]})"
        )
    results = evaluate_inference_checks(predictions, log)
    yield from results  # recorded before any write
    failed = [r.check_name for r in results if r.check_name in BLOCKING_CHECKS and not r.passed]
    if failed:
        raise Failure(
            description=f"blocking inference checks failed ({', '.join(failed)}): nothing was written",
            metadata={"failed_checks": ", ".join(failed)},
        )

    refs_used = {ref.version: ref for ref in models_by_date.values() if ref is not None}
    lineage_md = "\n".join(
        f"- `{ref.uri}` alias `{ref.alias or '-'}` run `{ref.run_id}` training cut-off {ref.training_cutoff or '?'}"
        for _, ref in sorted(refs_used.items(), key=lambda item: int(item[0]))
    )
    single_model = next(iter(refs_used.values())).as_metadata() if len(refs_used) == 1 else {}
    yield Output(
        to_table(predictions, PREDICTIONS_SCHEMA),
        output_name="athlete_predictions",
        metadata={
            "predictions": len(predictions),
            "athletes": int(predictions["athlete_id"].nunique()) if not predictions.empty else 0,
            "prediction_dates": len(days),
            "days_without_model": len(days_without_model),
            "model_versions": ", ".join(sorted(refs_used, key=int)),
            "model_mode": "point_in_time" if config.point_in_time_model else f"alias:{config.model_alias}",
            "model_lineage": MetadataValue.md(lineage_md or "no model"),
            **single_model,
        },
    )
    shadow_rows = int((~log["served"].astype(bool)).sum()) if not log.empty else 0
    yield Output(
        to_table(log, INFERENCE_LOG_SCHEMA),
        output_name="inference_log",
        metadata={
            "rows": len(log),
            "served_rows": len(log) - shadow_rows,
            "shadow_rows": shadow_rows,
            "shadow_model": f"{shadow.uri} (@{shadow.alias})" if shadow is not None and shadow_rows else "none",
            "dagster_run_id": context.run.run_id,
        },
    )
