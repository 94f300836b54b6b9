"""Resource sets per environment. ``definitions.py`` picks one by ``ATHLETE_PLATFORM_ENV``.

Asset code never changes between environments: only what is bound to these keys does.
"""

from __future__ import annotations

from typing import Any

from dagster import EnvVar, ExecutorDefinition, ResourceDefinition, in_process_executor

from athlete_platform.model.contract import LOCAL_MODEL_NAME
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.resources.spark import SparkResource
from athlete_platform.settings import PlatformSettings

STEP_LAUNCHER_KEY = "pyspark_step_launcher"


def export_source_config(settings: PlatformSettings, export_path: str | None = None) -> dict[str, Any]:
    """Config of the Strava export source from the settings (``export_path`` overrides STRAVA_EXPORT_PATH).

    The one place it is built: ``activity_source`` binds it, and a run config that must name another export
    (the inbox sensor) sends the whole of it, because run config for a resource replaces the bound config.
    Nothing here is secret. Unset values are left out (the source's defaults say what happens then)."""
    config = {
        "export_path": export_path or settings.export_path,
        "athlete_id": settings.export_athlete_id,
        "timezone": settings.export_timezone,
    }
    return {key: value for key, value in config.items() if value is not None}


def activity_source(settings: PlatformSettings) -> Any:
    """The configured activity source (``ATHLETE_PLATFORM_SOURCE``); secrets only through ``EnvVar``, every
    other option a plain value from ``settings`` (so a run config never has to repeat the secrets)."""
    if settings.source == "simulator":
        from athlete_platform.resources.simulator_source import SimulatorSource

        return SimulatorSource()
    if settings.source == "strava_api":
        from athlete_platform.resources.strava_api import StravaApiSource

        return StravaApiSource(
            client_id=EnvVar("STRAVA_CLIENT_ID"),
            client_secret=EnvVar("STRAVA_CLIENT_SECRET"),
            refresh_token=EnvVar("STRAVA_REFRESH_TOKEN"),
            base_url=settings.strava_api_base_url,
            fetch_details_for_runs=settings.strava_fetch_details_for_runs,
        )
    from athlete_platform.resources.strava_export import StravaExportSource

    return StravaExportSource(**export_source_config(settings))


def local_resources(settings: PlatformSettings) -> dict[str, Any]:
    spark = SparkResource()
    return {
        "spark": spark,
        "io_manager": DeltaTableIOManager(root_uri=str(settings.delta_root), spark=spark),
        "activity_source": activity_source(settings),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_location=str(settings.mlflow_artifact_root),
            model_name=LOCAL_MODEL_NAME,
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
