"""Resource sets per environment. ``definitions.py`` picks one by ``ATHLETE_PLATFORM_ENV``.

Asset code never changes between environments: only what is bound to these keys does.
"""

from __future__ import annotations

from typing import Any

from dagster import ExecutorDefinition, ResourceDefinition, in_process_executor

from athlete_platform.model.contract import LOCAL_MODEL_NAME
from athlete_platform.resources.bindings import STEP_LAUNCHER_KEY, activity_source
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.resources.spark import SparkResource
from athlete_platform.settings import PlatformSettings


def local_resources(settings: PlatformSettings) -> dict[str, Any]:
    spark = SparkResource(remote=settings.spark_remote)
    return {
        "spark": spark,
        "io_manager": DeltaTableIOManager(root_uri=str(settings.delta_root), spark=spark),
        "activity_source": activity_source(settings),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_location=str(settings.mlflow_artifact_root),
            model_name=LOCAL_MODEL_NAME,
            ui_url=settings.mlflow_ui_url,
        ),
        # Locally the Spark steps run in-process: the launcher key is bound to nothing.
        STEP_LAUNCHER_KEY: ResourceDefinition.none_resource(),
    }


def executor_for(settings: PlatformSettings) -> ExecutorDefinition | None:
    """Databricks: the in-process executor. Every step runs remotely, so a local process per step buys nothing,
    and one run-worker process holds one step launcher for the whole run, hence one cluster per run
    (``databricks_launcher``); a process per step would initialize a launcher, so start a cluster, per step.
    Locally: None, Dagster's default (a process per step)."""
    return in_process_executor if settings.environment == "databricks" else None


def resources_for(settings: PlatformSettings) -> dict[str, Any]:
    if settings.environment == "databricks":
        from athlete_platform.resources.databricks import databricks_resources

        return databricks_resources(settings)
    return local_resources(settings)
