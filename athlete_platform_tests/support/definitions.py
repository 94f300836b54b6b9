"""A ``Definitions`` like ``athlete_platform/definitions.py`` builds (every asset, job and schedule, the local
resources), for a home of the test's and the sensors it wants: the schedule and sensor tests evaluate against it."""

from pathlib import Path

from dagster import Definitions

from athlete_platform.jobs import JOBS
from athlete_platform.schedules import SCHEDULES
from athlete_platform.settings import PlatformSettings
from athlete_platform.stages import platform_assets


def platform_definitions(home: Path, *, sensors: list | None = None, source: str = "strava_export") -> Definitions:
    from athlete_platform.resources.environments import resources_for

    settings = PlatformSettings(environment="local", home=home, source=source)
    return Definitions(
        assets=platform_assets(), jobs=JOBS, schedules=SCHEDULES, sensors=sensors or [],
        resources=resources_for(settings),
    )
