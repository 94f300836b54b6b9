"""Resource sets per environment. ``definitions.py`` picks one by ``ATHLETE_PLATFORM_ENV``.

Asset code never changes between environments: only what is bound to these keys does.
"""

from __future__ import annotations

from typing import Any

from dagster import EnvVar, ResourceDefinition

from athlete_platform.model.contract import LOCAL_MODEL_NAME
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.resources.spark import SparkResource
from athlete_platform.settings import PlatformSettings

STEP_LAUNCHER_KEY = "pyspark_step_launcher"


def activity_source(settings: PlatformSettings) -> Any:
    """The configured activity source (``ATHLETE_PLATFORM_SOURCE``); secrets only through ``EnvVar``."""
    if settings.source == "simulator":
        from athlete_platform.resources.simulator_source import SimulatorSource

        return SimulatorSource()
    if settings.source == "strava_api":
        from athlete_platform.resources.strava_api import StravaApiSource

        return StravaApiSource(
            client_id=EnvVar("STRAVA_CLIENT_ID"),
            client_secret=EnvVar("STRAVA_CLIENT_SECRET"),
            refresh_token=EnvVar("STRAVA_REFRESH_TOKEN"),
        )
    from athlete_platform.resources.strava_export import StravaExportSource

    return StravaExportSource(
        export_path=EnvVar("STRAVA_EXPORT_PATH"),
        athlete_id=EnvVar.int("STRAVA_ATHLETE_ID"),
        timezone=settings.export_timezone,
    )


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


def resources_for(settings: PlatformSettings) -> dict[str, Any]:
    if settings.environment == "databricks":
        from athlete_platform.resources.databricks import databricks_resources

        return databricks_resources(settings)
    return local_resources(settings)
