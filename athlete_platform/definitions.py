"""The one ``Definitions`` of athlete-platform.

Importing this module is cheap: no Spark session, no network, no heavy ML imports (assets import those
inside their bodies). The resource set comes from ``ATHLETE_PLATFORM_ENV`` via ``settings.load_settings``.
"""

from dagster import Definitions

from athlete_platform.jobs import JOBS
from athlete_platform.resources.environments import executor_for, resources_for
from athlete_platform.schedules import SCHEDULES
from athlete_platform.sensors import SENSORS
from athlete_platform.settings import load_settings
from athlete_platform.stages import platform_assets

settings = load_settings()

defs = Definitions(
    assets=platform_assets(),
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=resources_for(settings),
    executor=executor_for(settings),  # Databricks: one run worker, one cluster per run
)
