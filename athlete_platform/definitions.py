"""The one ``Definitions`` of athlete-platform.

Importing this module is cheap: no Spark session, no network, no heavy ML imports (assets import those
inside their bodies). The resource set comes from ``ATHLETE_PLATFORM_ENV`` via ``settings.load_settings``.
"""

from dagster import Definitions, colored_console_logger

from athlete_platform.jobs import JOBS
from athlete_platform.progress import STEP_PROGRESS, step_progress_logger
from athlete_platform.resources.environments import executor_for, resources_for
from athlete_platform.schedules import SCHEDULES
from athlete_platform.sensors import SENSORS
from athlete_platform.settings import load_settings
from athlete_platform.stages import platform_assets

settings = load_settings()

#: The loggers a run of these jobs may configure (``runner.CONSOLE_INFO`` configures both).
LOGGERS = {"console": colored_console_logger, STEP_PROGRESS: step_progress_logger}

defs = Definitions(
    assets=platform_assets(),
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=resources_for(settings),
    executor=executor_for(settings),  # Databricks: one run worker, one cluster per run
    # "console" stays Dagster's own logger under its own key (run config naming it keeps working); a run that
    # configures no logger (a UI launch) still gets Dagster's default console only. The runners enable both.
    loggers=LOGGERS,
)
