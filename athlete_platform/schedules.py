"""Schedules (America/Sao_Paulo): the daily job at 05:00, weekly features on Mondays at 05:30 and weekly
training on Mondays at 06:00.

All come from ``build_schedule_from_partitioned_job``, so the time zone is the partitions' (Sao Paulo)
and each tick requests the latest *complete* partition: the 05:00 tick of day D runs partition D−1; the
Monday 06:00 tick runs the week that ended at midnight (its Monday as partition key). Passing
``cron_schedule``/``execution_timezone`` instead would raise for time-partitioned jobs.

Whether they start RUNNING with the daemon (``dagster dev`` or ``dagster-daemon``) is decided by
``settings.automation_running_by_default``: in production (``ATHLETE_PLATFORM_ENV=databricks``) yes, locally
no (Dagster's default, STOPPED: start them in the UI). Module-level objects use
:func:`athlete_platform.settings.load_settings`, like ``definitions.py``; :func:`build_schedules` takes explicit
settings for tests.
"""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from athlete_platform.jobs import daily_job, weekly_features_job, weekly_training_job
from athlete_platform.settings import PlatformSettings, load_settings

DAILY_HOUR, DAILY_MINUTE = 5, 0
WEEKLY_DAY_OF_WEEK, WEEKLY_HOUR, WEEKLY_MINUTE = 1, 6, 0  # Monday, after the daily run of Sunday


def default_schedule_status(settings: PlatformSettings) -> DefaultScheduleStatus:
    return DefaultScheduleStatus.RUNNING if settings.automation_running_by_default else DefaultScheduleStatus.STOPPED


def build_schedules(settings: PlatformSettings) -> list:
    """daily_schedule, weekly_training_schedule, weekly_features_schedule, with the environment's default status."""
    status = default_schedule_status(settings)
    return [
        build_schedule_from_partitioned_job(
            daily_job,
            name="daily_schedule",
            hour_of_day=DAILY_HOUR,
            minute_of_hour=DAILY_MINUTE,
            default_status=status,
            description="05:00 America/Sao_Paulo: the daily job for the previous day.",
        ),
        build_schedule_from_partitioned_job(
            weekly_training_job,
            name="weekly_training_schedule",
            day_of_week=WEEKLY_DAY_OF_WEEK,
            hour_of_day=WEEKLY_HOUR,
            minute_of_hour=WEEKLY_MINUTE,
            default_status=status,
            description="Mondays 06:00 America/Sao_Paulo: train, gate and register on the week that just ended.",
        ),
        build_schedule_from_partitioned_job(
            weekly_features_job,
            name="weekly_features_schedule",
            day_of_week=WEEKLY_DAY_OF_WEEK,
            hour_of_day=5,
            minute_of_hour=30,
            default_status=status,
            description="Mondays 05:30 America/Sao_Paulo: weekly features of the week that just ended.",
        ),
    ]


# -- the objects definitions.py registers --------------------------------------------------------------
SCHEDULES = build_schedules(load_settings())
daily_schedule, weekly_training_schedule, weekly_features_schedule = SCHEDULES
