"""What every environment's resource set binds the same way: the activity source picked by the settings, and
the key of the step launcher.

``environments.local_resources`` and ``databricks.databricks_resources`` both take them from here, so the
Databricks set needs nothing from ``environments`` (which picks it), and the two modules import in one direction.
"""

from __future__ import annotations

from typing import Any

from dagster import EnvVar

from athlete_platform.settings import PlatformSettings

#: Resource key every asset's step launcher parameter is bound to (remote on Databricks, nothing locally).
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
