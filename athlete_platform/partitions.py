"""Partitions shared by every asset.

An activity belongs to the athlete's *local* date (``start_date_local``); partitions are calendar days
in America/Sao_Paulo (the team's schedule clock). Weekly partitions (Monday start) serve the weekly
feature table and model training.

The first daily partition is ``ATHLETE_PLATFORM_PARTITIONS_START`` (``settings.py``; default 2009-01-01,
Strava's first year, so a real history fits whole). Records dated before it, and records no date can be
given to, are not dropped: bronze's first partition holds them and silver quarantines them with the
reason (``ingest/assets.py``). The first weekly partition is the first Monday on or after that day, so
every day of a week is a daily partition.
"""

import datetime as dt
from typing import Any

from dagster import (
    DailyPartitionsDefinition,
    InputContext,
    OutputContext,
    TimeWindowPartitionMapping,
    WeeklyPartitionsDefinition,
)

from athlete_platform.settings import load_settings

PARTITION_TIMEZONE = "America/Sao_Paulo"


def first_monday_on_or_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


FIRST_DAY: dt.date = load_settings().partitions_start
PARTITIONS_START = FIRST_DAY.isoformat()
FIRST_WEEK: dt.date = first_monday_on_or_after(FIRST_DAY)

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone=PARTITION_TIMEZONE)

# day_offset=1: weeks start on Monday, matching week_start in athlete_weekly_features.
weekly_partitions = WeeklyPartitionsDefinition(
    start_date=FIRST_WEEK.isoformat(), timezone=PARTITION_TIMEZONE, day_offset=1
)

#: A daily asset's input of the day before (features of D−1 for D; the previous rolling state).
PREVIOUS_DAY = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)


def window_dates(context: Any) -> tuple[dt.date, dt.date]:
    """The partition window (one day or a range) as local calendar dates, end exclusive.

    Works for IO manager contexts and for asset execution contexts.
    """
    if isinstance(context, (InputContext, OutputContext)):
        window = context.asset_partitions_time_window
    else:
        window = context.partition_time_window
    return window.start.date(), window.end.date()
