"""Asset jobs. Assets are selected by key (``asset_keys``), so this module imports no asset code.

* ``daily_job`` — every daily-partitioned asset, bronze through monitoring and reports, for one day (the
  05:00 schedule) or a range (single-run backfill: every asset in it has ``BackfillPolicy.single_run``):
  raw activities → silver → activity/daily/rolling features and race labels → predictions + inference
  log → performance estimate, realized error, feature drift, overtraining alerts → athlete reports; and
  ``model/champion_decision`` (promote, demote or keep the champion on races neither model trained on).
* ``ingest_job`` — the ingestion half of it (bronze → silver → features and labels), which the inbox
  sensor runs over the dates a new Strava export covers: no inference over history with today's model.
* ``weekly_training_job`` — training_set → time_estimator (blocking MAE gates) →
  registered_time_estimator, for one weekly partition (one run per week: a model per week). Its failure
  hook ``fail_unfinished_mlflow_runs`` leaves no MLflow run of a failed step RUNNING.
* ``predictions_job`` — the inference and monitoring half of ``daily_job`` (predictions + inference log →
  monitoring → reports) over days already ingested: ``make athlete`` runs it over a whole history after
  training, with ``point_in_time_model`` (no re-ingestion, no model that saw the day). Not the champion
  decision: a backfill over history must not move registry aliases.
* ``weekly_features_job`` — the weekly feature table (single-run backfill), kept out of the training job
  so each job has one backfill policy.
* ``maintenance_job`` — ``maintenance/delta_tables``: OPTIMIZE and VACUUM every Delta table (a week of time
  travel kept; ``maintenance/assets.py``).

Asset checks of the selected assets run in the same jobs (``AssetSelection.assets`` includes them).
"""

from dagster import AssetSelection, HookContext, define_asset_job, failure_hook

from athlete_platform.asset_keys import (
    ACTIVITY_FEATURES,
    ATHLETE_REPORTS,
    CHAMPION_DECISION,
    DAILY_FEATURES,
    DELTA_MAINTENANCE,
    FEATURE_DRIFT,
    INFERENCE_LOG,
    OVERTRAINING_ALERTS,
    PERFORMANCE_ESTIMATE,
    PREDICTIONS,
    RACE_RESULTS,
    RAW_ACTIVITIES,
    REALIZED_ERROR,
    REGISTERED_TIME_ESTIMATOR,
    ROLLING_FEATURES,
    SILVER_ACTIVITIES,
    SILVER_HR_PROFILES,
    SILVER_QUARANTINE,
    TIME_ESTIMATOR,
    TRAINING_SET,
    WEEKLY_FEATURES,
)

# -- asset selections by stage ---------------------------------------------------------------------------------
INGEST_KEYS = (
    RAW_ACTIVITIES,
    SILVER_ACTIVITIES,
    SILVER_HR_PROFILES,
    SILVER_QUARANTINE,
    ACTIVITY_FEATURES,
    DAILY_FEATURES,
    ROLLING_FEATURES,
    RACE_RESULTS,
)
INFERENCE_KEYS = (PREDICTIONS, INFERENCE_LOG)
MONITORING_KEYS = (PERFORMANCE_ESTIMATE, REALIZED_ERROR, FEATURE_DRIFT, OVERTRAINING_ALERTS, ATHLETE_REPORTS)
#: In daily_job only: it moves registry aliases, which a history backfill (predictions_job) must not do.
PROMOTION_KEYS = (CHAMPION_DECISION,)
DAILY_KEYS = (*INGEST_KEYS, *INFERENCE_KEYS, *MONITORING_KEYS, *PROMOTION_KEYS)
WEEKLY_TRAINING_KEYS = (TRAINING_SET, TIME_ESTIMATOR, REGISTERED_TIME_ESTIMATOR)

DAILY_JOB_NAME = "daily_job"
INGEST_JOB_NAME = "ingest_job"
WEEKLY_TRAINING_JOB_NAME = "weekly_training_job"
WEEKLY_FEATURES_JOB_NAME = "weekly_features_job"
PREDICTIONS_JOB_NAME = "predictions_job"

daily_job = define_asset_job(
    DAILY_JOB_NAME,
    selection=AssetSelection.assets(*DAILY_KEYS),
    description="One day (or a range, as one run) of every daily asset: ingestion, features, labels, "
    "predictions, monitoring and reports.",
    tags={"athlete_platform/job": "daily"},
)

ingest_job = define_asset_job(
    INGEST_JOB_NAME,
    selection=AssetSelection.assets(*INGEST_KEYS),
    description="Ingestion through features and race labels for a day or a range (inbox sensor, backfills).",
    tags={"athlete_platform/job": "ingest"},
)

predictions_job = define_asset_job(
    PREDICTIONS_JOB_NAME,
    selection=AssetSelection.assets(*INFERENCE_KEYS, *MONITORING_KEYS),
    description="Predictions, inference log, monitoring and reports for a day or a range already ingested "
    "(history backfills: run with point_in_time_model).",
    tags={"athlete_platform/job": "predictions"},
)

@failure_hook(required_resource_keys={"mlflow"})
def fail_unfinished_mlflow_runs(context: HookContext) -> None:
    """After a failed step: no MLflow run of this Dagster run stays RUNNING (``MlflowResource.end_unfinished_runs``).
    Runs where Dagster runs, so it also covers a remote step whose Databricks driver died mid-run."""
    ended = context.resources.mlflow.end_unfinished_runs(context.run_id)
    if ended:
        context.log.warning(f"ended MLflow runs {ended} as FAILED: step {context.op.name} failed while they were RUNNING")


weekly_training_job = define_asset_job(
    WEEKLY_TRAINING_JOB_NAME,
    selection=AssetSelection.assets(*WEEKLY_TRAINING_KEYS),
    description="Weekly: training set snapshot, gated training, registration and promotion.",
    tags={"athlete_platform/job": "weekly_training"},
    hooks={fail_unfinished_mlflow_runs},
)

weekly_features_job = define_asset_job(
    WEEKLY_FEATURES_JOB_NAME,
    selection=AssetSelection.assets(WEEKLY_FEATURES),
    description="Weekly feature table for the week that just ended.",
    tags={"athlete_platform/job": "weekly_features"},
)

maintenance_job = define_asset_job(
    "maintenance_job",
    selection=AssetSelection.assets(DELTA_MAINTENANCE),
    description="OPTIMIZE and VACUUM every Delta table (a week of time travel kept).",
    tags={"athlete_platform/job": "maintenance"},
)

JOBS = [daily_job, ingest_job, predictions_job, weekly_training_job, weekly_features_job, maintenance_job]
