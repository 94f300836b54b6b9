"""The four feature tables as Spark assets: thin glue around the pure functions in ``compute``.

Every table is computed with ``groupBy(athlete bucket)....applyInPandas`` so the pure pandas code runs in
parallel on Spark (locally or on a Databricks cluster). A bucket is a hash bucket of whole athletes
(``athlete_bucket``): the pure functions work on many athletes at once and never mix them, and a few
dozen pandas calls cost far less than one per athlete (with ~1000 athletes the per-call pandas overhead
was most of a daily run).

History, not row windows:
* activity_features reads the athlete's silver activities of the previous ``HISTORY_DAYS`` too, because
  threshold pace and HRmax come from activities strictly *before* the one scored;
* athlete_daily_features continues each athlete's calendar from its own previous partition (D−1), so
  rest days after the last activity keep their rows (load 0);
* athlete_rolling_features continues the PMC recursion from its own previous partition (D−1) and rebuilds
  the trailing windows from the daily table: partition D = state(D−1) + load(D). A range run (single-run
  backfill) does the same once for the whole range, and both equal a from-scratch computation.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any, Optional

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Config,
    MetadataValue,
    Output,
    ResourceParam,
    StepLauncher,
    TimeWindowPartitionMapping,
    asset,
)

from athlete_platform.asset_keys import (
    ACTIVITY_FEATURES,
    DAILY_FEATURES,
    ROLLING_FEATURES,
    SILVER_ACTIVITIES,
    SILVER_HR_PROFILES,
    WEEKLY_FEATURES,
)
from athlete_platform.features import checks, compute
from athlete_platform.features.compute.buckets import activity_features_for_athletes, rolling_for_athletes
from athlete_platform.frames import stored_rows
from athlete_platform.partitions import PREVIOUS_DAY, daily_partitions, weekly_partitions, window_dates
from athlete_platform.resources.delta_io import ALLOW_MISSING, COLUMNS

#: Days of earlier activities read to score an activity (threshold pace: 90 d; HRmax: this window).
HISTORY_DAYS = 365
DATE_COLUMNS = {"activity_date", "date", "week_start", "as_of_date"}


class FeatureConfig(Config):
    """Tunables of the feature tables: each field is a :class:`compute.FeatureParams` field of the same name."""

    threshold_pace_s_per_km: Optional[float] = None
    hrmax_bpm: Optional[float] = None
    hr_rest_bpm: float = 60.0
    sex: str = "M"
    risk_acwr_gt: float = 1.5
    risk_monotony_gt: float = 2.0
    risk_tsb_lt: float = -30.0

    def feature_params(self) -> compute.FeatureParams:
        """The run config's fields; the rest of :class:`compute.FeatureParams` keeps its defaults."""
        return compute.FeatureParams(**self.model_dump())


def spark_ddl(columns: Mapping[str, str]) -> str:
    """Spark schema for a ``compute.*_COLUMNS`` mapping (pandas dtypes)."""
    spark_types = {"int64": "bigint", "float64": "double", "bool": "boolean", "datetime64[ns, UTC]": "timestamp"}
    fields = []
    for name, dtype in columns.items():
        if dtype == "object":
            spark_type = "date" if name in DATE_COLUMNS else "string"
        else:
            spark_type = spark_types[dtype]
        fields.append(f"{name} {spark_type}")
    return ", ".join(fields)


#: Groups per shuffle partition: a few per partition keeps both the tasks balanced and the calls few.
BUCKETS_PER_SHUFFLE_PARTITION = 4
#: Bucket count when the session does not say how many shuffle partitions it uses (e.g. "auto").
DEFAULT_BUCKETS = 64


def athlete_bucket(spark):
    """Group key of the ``applyInPandas`` calls: a hash bucket of ``athlete_id`` (an athlete's rows are
    always in one bucket; a bucket holds many athletes, which the pure functions keep apart)."""
    from pyspark.sql import functions as F

    try:
        buckets = int(spark.conf.get("spark.sql.shuffle.partitions")) * BUCKETS_PER_SHUFFLE_PARTITION
    except (TypeError, ValueError):
        buckets = DEFAULT_BUCKETS
    return F.pmod(F.hash(F.col("athlete_id")), F.lit(max(1, buckets)))


@asset(
    key=ACTIVITY_FEATURES,
    group_name="features",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "activities": AssetIn(
            key=SILVER_ACTIVITIES,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-HISTORY_DAYS),
            metadata={COLUMNS: list(compute.ACTIVITY_INPUT_COLUMNS)},  # a year of history: read only these
        ),
        "hr_profiles": AssetIn(key=SILVER_HR_PROFILES),
    },
    metadata={"partition_expr": "activity_date"},
    check_specs=checks.ACTIVITY_CHECKS,
    kinds={"spark", "delta"},
    code_version="1",
    description=(
        "Per activity: distance, durations, pace, elevation, threshold pace (from earlier activities only), "
        "IF, rTSS, TRIMP, hrTSS, HR, HRmax used, time in 5 HR zones (%), efficiency index, training load."
    ),
)
def activity_features(
    context: AssetExecutionContext,
    config: FeatureConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    io_manager: ResourceParam[Any],  # the checks read the stored rows back (delta_io.read_rows)
    activities,
    hr_profiles,
):
    start, end = window_dates(context)
    feature_params = config.feature_params()

    def score(activities_pdf: pd.DataFrame, profiles_pdf: pd.DataFrame) -> pd.DataFrame:
        return activity_features_for_athletes(activities_pdf, profiles_pdf, start=start, config=feature_params)

    spark = activities.sparkSession
    # Only the columns the pure function reads (the local IO manager already loads only these; elsewhere
    # Spark prunes the scan): a year of history is most of a single day's data, and silver's other columns
    # (names, hashes, timezones: strings) would be shuffled and turned into pandas objects.
    activities = activities.select(*compute.ACTIVITY_INPUT_COLUMNS)
    scored = (
        activities.groupBy(athlete_bucket(spark))
        .cogroup(hr_profiles.groupBy(athlete_bucket(spark)))
        .applyInPandas(score, schema=spark_ddl(compute.ACTIVITY_FEATURE_COLUMNS))
    )
    yield Output(scored)
    yield from checks.activity_checks(
        stored_rows(io_manager, ACTIVITY_FEATURES, checks.ACTIVITY_CHECK_COLUMNS, "activity_date", start, end))


# -- daily features --------------------------------------------------------------------------------


@asset(
    key=DAILY_FEATURES,
    group_name="features",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "activity_features": AssetIn(key=ACTIVITY_FEATURES, metadata={COLUMNS: list(compute.DAILY_INPUT_COLUMNS)}),
        "previous_days": AssetIn(key=DAILY_FEATURES, partition_mapping=PREVIOUS_DAY, metadata={ALLOW_MISSING: True}),
    },
    metadata={"partition_expr": "date"},
    check_specs=checks.DAILY_CHECKS,
    kinds={"spark", "delta"},
    code_version="2",  # 2: best_vdot, mean_vdot, efficiency_factor
    description=(
        "Every calendar day from each athlete's first activity, rest days included with zero load; the day's "
        "best and mean VDOT and efficiency factor of its effort runs."
    ),
)
def athlete_daily_features(
    context: AssetExecutionContext,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    io_manager: ResourceParam[Any],
    activity_features,
    previous_days,
):
    from pyspark.sql import functions as F

    start, end = window_dates(context)
    spark = activity_features.sparkSession
    day_before = start - dt.timedelta(days=1)
    if previous_days is None:
        continuing = spark.createDataFrame([], "athlete_id bigint, first_activity_date date")
    else:
        # Athletes with a row on the day before the window continue (their first day is earlier).
        continuing = (
            previous_days.filter(F.col("date") == F.lit(day_before))
            .select("athlete_id", F.col("date").alias("first_activity_date"))
        )

    def calendar(features_pdf: pd.DataFrame, firsts_pdf: pd.DataFrame) -> pd.DataFrame:
        return compute.daily_features(features_pdf, firsts_pdf, start, end)

    calendar_rows = (
        activity_features.groupBy(athlete_bucket(spark))
        .cogroup(continuing.groupBy(athlete_bucket(spark)))
        .applyInPandas(calendar, schema=spark_ddl(compute.DAILY_FEATURE_COLUMNS))
    )
    yield Output(calendar_rows)
    yield from checks.daily_checks(
        stored_rows(io_manager, DAILY_FEATURES, checks.DAILY_CHECK_COLUMNS, "date", start, end), end)


# -- weekly features -------------------------------------------------------------------------------


@asset(
    key=WEEKLY_FEATURES,
    group_name="features",
    partitions_def=weekly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"daily": AssetIn(key=DAILY_FEATURES, metadata={COLUMNS: list(compute.WEEKLY_INPUT_COLUMNS)})},
    metadata={"partition_expr": "week_start"},
    check_specs=checks.WEEKLY_CHECKS,
    kinds={"spark", "delta"},
    code_version="1",
    description="Per athlete and Monday-based week: volume, load, monotony, strain, long run, run count, rest days.",
)
def athlete_weekly_features(
    context: AssetExecutionContext,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    io_manager: ResourceParam[Any],
    daily,
):
    start, end = window_dates(context)
    weeks = daily.groupBy(athlete_bucket(daily.sparkSession)).applyInPandas(
        compute.weekly_features, schema=spark_ddl(compute.WEEKLY_FEATURE_COLUMNS)
    )
    yield Output(weeks)
    yield from checks.weekly_checks(
        stored_rows(io_manager, WEEKLY_FEATURES, checks.WEEKLY_CHECK_COLUMNS, "week_start", start, end))


# -- rolling features ------------------------------------------------------------------------------


@asset(
    key=ROLLING_FEATURES,
    group_name="features",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "daily": AssetIn(
            key=DAILY_FEATURES,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-compute.FeatureParams().state_window_days),
            metadata={COLUMNS: list(compute.ROLLING_INPUT_COLUMNS)},
        ),
        "previous_day": AssetIn(key=ROLLING_FEATURES, partition_mapping=PREVIOUS_DAY, metadata={ALLOW_MISSING: True}),
    },
    metadata={"partition_expr": "as_of_date"},
    check_specs=checks.ROLLING_CHECKS,
    kinds={"spark", "delta"},
    code_version="2",  # 2: VDOT and efficiency-factor fitness markers
    description=(
        "Per athlete and day, as of the end of the day: CTL/ATL (TrainingPeaks 1/N), TSB (yesterday's CTL − ATL), "
        "ACWR (coupled rolling 7/28 and EWMA 7/28), pace trend, best pace, volume, consistency, monotony, strain, "
        "rest days, best-effort race estimates, VDOT (30/90 d) and efficiency-factor trend, and overtraining risk "
        "with reasons. Incremental from D−1."
    ),
)
def athlete_rolling_features(
    context: AssetExecutionContext,
    config: FeatureConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    io_manager: ResourceParam[Any],
    daily,
    previous_day,
):
    start, end = window_dates(context)
    feature_params = config.feature_params()
    spark = daily.sparkSession
    if previous_day is None:
        previous_day = spark.createDataFrame([], spark_ddl(compute.ROLLING_FEATURE_COLUMNS))

    def advance(daily_pdf: pd.DataFrame, previous_pdf: pd.DataFrame) -> pd.DataFrame:
        return rolling_for_athletes(daily_pdf, previous_pdf, start=start, config=feature_params)

    advanced = (
        daily.groupBy(athlete_bucket(spark))
        .cogroup(previous_day.groupBy(athlete_bucket(spark)))
        .applyInPandas(advance, schema=spark_ddl(compute.ROLLING_FEATURE_COLUMNS))
    )
    yield Output(
        advanced,
        metadata={
            "conventions": MetadataValue.md(
                "CTL/ATL: TrainingPeaks 1/N (42/7 d). `tsb` = yesterday's CTL − ATL; `tsb_same_day` = today's. "
                "ACWR: `acwr_rolling_7_28` coupled rolling means, `acwr_ewma_7_28` EWMA λ=2/(N+1)."
            ),
        },
    )
    yield from checks.rolling_checks(
        stored_rows(io_manager, ROLLING_FEATURES, checks.ROLLING_CHECK_COLUMNS, "as_of_date", start, end),
        stored_rows(io_manager, DAILY_FEATURES, checks.RECENT_ACTIVITY_COLUMNS, "date",
                    *checks.recently_active_window(end)),
        end,
    )
