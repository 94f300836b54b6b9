"""Partitions shared by every asset.

An activity belongs to the athlete's *local* date (``start_date_local``); partitions are calendar days
in America/Sao_Paulo (the team's schedule clock). Weekly partitions (Monday start) serve the weekly
feature table and model training.
"""

from dagster import DailyPartitionsDefinition, WeeklyPartitionsDefinition

PARTITION_TIMEZONE = "America/Sao_Paulo"
PARTITIONS_START = "2015-01-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone=PARTITION_TIMEZONE)

# day_offset=1: weeks start on Monday, matching week_start in athlete_weekly_features.
weekly_partitions = WeeklyPartitionsDefinition(
    start_date="2015-01-05", timezone=PARTITION_TIMEZONE, day_offset=1
)
