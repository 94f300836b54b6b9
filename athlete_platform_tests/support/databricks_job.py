"""Reconstructable jobs for the step-launcher test: the real assets and the real Databricks launcher.

The launcher pickles a reference to these functions; the remote step (the emulator's subprocess, or a
Databricks driver) re-imports this module from the uploaded code zip and rebuilds the same definitions, so
everything here is derived from code and environment only:

* ``ATHLETE_TEST_DELTA_ROOT`` — where the local ``DeltaTableIOManager`` writes; a folder both the
  orchestrating process and the remote step can see (forwarded to the remote step through the launcher's
  ``env_variables``, like any non-secret setting);
* ``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN`` — the emulator; resolved when a run initializes the launcher
  (and, remotely, exported from the emulator's secret scope).

``raw_activities``, ``silver_activities``, ``remote_failure`` and ``remote_crash_in_mlflow_run`` declare a
``pyspark_step_launcher`` parameter, so each of their steps is a Databricks run; the orchestrating process
only plans, launches and replays events. MLflow: a sqlite store beside the Delta root.
"""

import os
from pathlib import Path
from typing import Optional

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    Definitions,
    ResourceParam,
    StepLauncher,
    asset,
    define_asset_job,
    in_process_executor,
)

from athlete_platform.ingest.assets import raw_activities
from athlete_platform.jobs import fail_unfinished_mlflow_runs
from athlete_platform.resources.databricks import ClusterSparkResource, DatabricksKnobs, databricks_step_launcher
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.mlflow_resource import DAGSTER_RUN_TAG, MlflowResource
from athlete_platform.settings import load_settings
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.support.static_source import StaticSource, run_activity

DELTA_ROOT_VAR = "ATHLETE_TEST_DELTA_ROOT"
DAY = "2025-03-02"
REMOTE_ERROR_TEXT = "remote boom: raised inside the Databricks step"

RECORDS = [
    run_activity(201, DAY),
    run_activity(202, DAY),
    run_activity(202, DAY, name="Renamed after upload"),  # a later version of 202: dedup keeps it
    run_activity(203, DAY, distance=-3.0),  # broken: quarantined
    run_activity(204, "2025-03-03"),  # another day: not fetched for DAY
]


@asset(key_prefix=["test"], group_name="test")
def remote_failure(context: AssetExecutionContext, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]]) -> int:
    context.log.info(f"about to fail in pid {os.getpid()}")
    raise RuntimeError(REMOTE_ERROR_TEXT)


@asset(key_prefix=["test"], group_name="test")
def remote_crash_in_mlflow_run(
    context: AssetExecutionContext, mlflow: MlflowResource, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]]
) -> int:
    """Dies inside an MLflow run, as a driver killed mid-training would: nothing on the cluster can end it."""
    import mlflow as mlflow_lib

    mlflow.configure_process()
    mlflow_lib.start_run(experiment_id=mlflow.experiment_id(), tags={DAGSTER_RUN_TAG: context.run_id})
    os._exit(3)


def mlflow_resource(delta_root: str) -> MlflowResource:
    root = Path(delta_root).parent
    return MlflowResource(tracking_uri=f"sqlite:///{(root / 'mlflow.db').as_posix()}",
                          artifact_location=str(root / "mlflow-artifacts"), experiment_name="emulator/crash")


def definitions() -> Definitions:
    delta_root = os.environ[DELTA_ROOT_VAR]
    spark = ClusterSparkResource()  # as on Databricks: the (emulated) cluster's session, project shipped to workers
    launcher = databricks_step_launcher(
        load_settings(),
        DatabricksKnobs.from_env(),
        poll_interval_sec=0.5,
        extra_env={DELTA_ROOT_VAR: delta_root},
        run_name="athlete-platform emulator test",
    )
    return Definitions(
        assets=[raw_activities, silver_activities, remote_failure, remote_crash_in_mlflow_run],
        jobs=[
            define_asset_job("silver_day", selection=AssetSelection.assets(raw_activities, silver_activities)),
            define_asset_job("remote_failure_job", selection=AssetSelection.assets(remote_failure)),
            define_asset_job("remote_crash_job", selection=AssetSelection.assets(remote_crash_in_mlflow_run),
                             hooks={fail_unfinished_mlflow_runs}),
        ],
        resources={
            "spark": spark,
            "io_manager": DeltaTableIOManager(root_uri=delta_root, spark=spark),
            "activity_source": StaticSource(records=RECORDS),
            "mlflow": mlflow_resource(delta_root),
            "pyspark_step_launcher": launcher,
        },
        executor=in_process_executor,  # one process for the local steps; the remote one is a Databricks run
    )


def silver_day_job():
    return definitions().resolve_job_def("silver_day")


def remote_failure_job():
    return definitions().resolve_job_def("remote_failure_job")


def remote_crash_job():
    return definitions().resolve_job_def("remote_crash_job")
