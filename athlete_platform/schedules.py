"""Schedules (America/Sao_Paulo): the daily job at 05:00, weekly features on Mondays at 05:30 and weekly
training on Mondays at 06:00.

Both come from ``build_schedule_from_partitioned_job``, so the time zone is the partitions' (Sao Paulo)
and each tick requests the latest *complete* partition: the 05:00 tick of day D runs partition D−1; the
Monday 06:00 tick runs the week that ended at midnight (its Monday as partition key). Passing
``cron_schedule``/``execution_timezone`` instead would raise for time-partitioned jobs.

Both are declared RUNNING so they start with the daemon (``dagster dev`` or ``dagster-daemon``); stop
them in the UI when needed.
"""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from athlete_platform.jobs import daily_job, weekly_features_job, weekly_training_job

DAILY_HOUR, DAILY_MINUTE = 5, 0
WEEKLY_DAY_OF_WEEK, WEEKLY_HOUR, WEEKLY_MINUTE = 1, 6, 0  # Monday, after the daily run of Sunday

daily_schedule = build_schedule_from_partitioned_job(
    daily_job,
    name="daily_schedule",
    hour_of_day=DAILY_HOUR,
    minute_of_hour=DAILY_MINUTE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="05:00 America/Sao_Paulo: the daily job for the previous day.",
)

weekly_training_schedule = build_schedule_from_partitioned_job(
    weekly_training_job,
    name="weekly_training_schedule",
    day_of_week=WEEKLY_DAY_OF_WEEK,
    hour_of_day=WEEKLY_HOUR,
    minute_of_hour=WEEKLY_MINUTE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Mondays 06:00 America/Sao_Paulo: train, gate and register on the week that just ended.",
)

weekly_features_schedule = build_schedule_from_partitioned_job(
    weekly_features_job,
    name="weekly_features_schedule",
    day_of_week=WEEKLY_DAY_OF_WEEK,
    hour_of_day=5,
    minute_of_hour=30,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Mondays 05:30 America/Sao_Paulo: weekly features of the week that just ended.",
)

SCHEDULES = [daily_schedule, weekly_training_schedule, weekly_features_schedule]
