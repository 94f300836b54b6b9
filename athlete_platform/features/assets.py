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
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
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
from athlete_platform.features import compute
from athlete_platform.features.compute.buckets import activity_features_for_athletes, rolling_for_athletes
from athlete_platform.partitions import PREVIOUS_DAY, daily_partitions, weekly_partitions, window_dates
from athlete_platform.resources.delta_io import ALLOW_MISSING, COLUMNS
from athlete_platform.resources.spark import cached

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


def one_row_per_key(check_name: str, asset_key: AssetKey, stats: Any) -> AssetCheckResult:
    """A table's key check from its aggregation: ``stats["rows"]`` rows, ``stats["keys"]`` distinct keys."""
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=stats["rows"] == stats["keys"],
        metadata={"rows": stats["rows"], "distinct_keys": stats["keys"]},
    )


# -- activity features -----------------------------------------------------------------------------


ACTIVITY_CHECKS = [
    AssetCheckSpec("unique_activity_id", asset=ACTIVITY_FEATURES, blocking=True),
    AssetCheckSpec(
        "hr_zones_sum_to_100_or_null",
        asset=ACTIVITY_FEATURES,
        blocking=True,
        description="Zone shares sum to 100 ± 0.5 when present; all five null together; null without HR.",
    ),
    AssetCheckSpec("training_load_non_negative", asset=ACTIVITY_FEATURES, blocking=True),
]


def activity_check_stats(features):
    """Row count and every check's counts in one aggregation (one Spark job)."""
    from pyspark.sql import functions as F

    zones = [F.col(f"z{i}_pct") for i in range(1, 6)]
    zone_sum = zones[0] + zones[1] + zones[2] + zones[3] + zones[4]
    nulls = sum(z.isNull().cast("int") for z in zones)
    stats = features.agg(
        F.count("*").alias("rows"),
        F.countDistinct("activity_id").alias("ids"),
        F.sum(((nulls == 0) & (F.abs(zone_sum - 100.0) > 0.5)).cast("int")).alias("bad_sum"),
        F.sum(((nulls > 0) & (nulls < 5)).cast("int")).alias("partial_zones"),
        F.sum((F.col("avg_hr").isNull() & (nulls < 5)).cast("int")).alias("zones_without_hr"),
        F.sum((F.col("training_load").isNull() | (F.col("training_load") < 0)).cast("int")).alias("bad_load"),
        F.sum((nulls == 0).cast("int")).alias("rows_with_zones"),
    ).collect()[0]
    return stats


def evaluate_activity_checks(features, stats=None) -> list[AssetCheckResult]:
    stats = activity_check_stats(features) if stats is None else stats
    return [
        AssetCheckResult(
            check_name="unique_activity_id",
            asset_key=ACTIVITY_FEATURES,
            passed=stats["rows"] == stats["ids"],
            metadata={"rows": stats["rows"], "distinct_ids": stats["ids"]},
        ),
        AssetCheckResult(
            check_name="hr_zones_sum_to_100_or_null",
            asset_key=ACTIVITY_FEATURES,
            passed=(stats["bad_sum"] or 0) + (stats["partial_zones"] or 0) + (stats["zones_without_hr"] or 0) == 0,
            metadata={
                "rows_with_zones": stats["rows_with_zones"] or 0,
                "sum_off_by_more_than_0_5": stats["bad_sum"] or 0,
                "partially_null_zones": stats["partial_zones"] or 0,
                "zones_without_hr": stats["zones_without_hr"] or 0,
            },
        ),
        AssetCheckResult(
            check_name="training_load_non_negative",
            asset_key=ACTIVITY_FEATURES,
            passed=(stats["bad_load"] or 0) == 0,
            metadata={"null_or_negative_load": stats["bad_load"] or 0},
        ),
    ]


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
    check_specs=ACTIVITY_CHECKS,
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
    activities,
    hr_profiles,
):
    start, _ = window_dates(context)
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
    with cached(scored) as features:
        stats = activity_check_stats(features)
        yield Output(features, metadata={"rows": stats["rows"]})
        yield from evaluate_activity_checks(features, stats)


# -- daily features --------------------------------------------------------------------------------


@asset(
    key=DAILY_FEATURES,
    group_name="features",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "activity_features": AssetIn(key=ACTIVITY_FEATURES),
        "previous_days": AssetIn(key=DAILY_FEATURES, partition_mapping=PREVIOUS_DAY, metadata={ALLOW_MISSING: True}),
    },
    metadata={"partition_expr": "date"},
    check_specs=[
        AssetCheckSpec("one_row_per_athlete_day", asset=DAILY_FEATURES, blocking=True),
        AssetCheckSpec(
            "no_missing_calendar_days",
            asset=DAILY_FEATURES,
            blocking=True,
            description="Every athlete has a row for every day of the window from its first day (rest days included).",
        ),
    ],
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
    with cached(calendar_rows) as daily:
        stats = daily.agg(
            F.count("*").alias("rows"),
            F.countDistinct("athlete_id", "date").alias("keys"),
            F.countDistinct("athlete_id").alias("athletes"),
            F.sum("daily_load").alias("load"),
        ).collect()[0]
        spans = daily.groupBy("athlete_id").agg(
            F.min("date").alias("first"), F.max("date").alias("last"), F.count("*").alias("n")
        )
        span_stats = spans.agg(
            F.sum((F.datediff("last", "first") + 1 != F.col("n")).cast("int")).alias("gaps"),
            F.sum((F.col("last") != F.lit(end - dt.timedelta(days=1))).cast("int")).alias("not_to_end"),
        ).collect()[0]
        gaps, not_to_end = int(span_stats["gaps"] or 0), int(span_stats["not_to_end"] or 0)
        yield Output(daily, metadata={"rows": stats["rows"], "athletes": stats["athletes"], "total_load": float(stats["load"] or 0.0)})
        yield one_row_per_key("one_row_per_athlete_day", DAILY_FEATURES, stats)
        yield AssetCheckResult(
            check_name="no_missing_calendar_days",
            asset_key=DAILY_FEATURES,
            passed=gaps == 0 and not_to_end == 0,
            metadata={"athletes_with_gaps": gaps, "athletes_not_reaching_window_end": not_to_end},
        )


# -- weekly features -------------------------------------------------------------------------------


@asset(
    key=WEEKLY_FEATURES,
    group_name="features",
    partitions_def=weekly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={"daily": AssetIn(key=DAILY_FEATURES)},
    metadata={"partition_expr": "week_start"},
    check_specs=[AssetCheckSpec("one_row_per_athlete_week", asset=WEEKLY_FEATURES, blocking=True)],
    kinds={"spark", "delta"},
    code_version="1",
    description="Per athlete and Monday-based week: volume, load, monotony, strain, long run, run count, rest days.",
)
def athlete_weekly_features(
    context: AssetExecutionContext, pyspark_step_launcher: ResourceParam[Optional[StepLauncher]], daily
):
    from pyspark.sql import functions as F

    weeks = daily.groupBy(athlete_bucket(daily.sparkSession)).applyInPandas(
        compute.weekly_features, schema=spark_ddl(compute.WEEKLY_FEATURE_COLUMNS)
    )
    with cached(weeks) as weekly:
        stats = weekly.agg(F.count("*").alias("rows"), F.countDistinct("athlete_id", "week_start").alias("keys")).collect()[0]
        yield Output(weekly, metadata={"rows": stats["rows"]})
        yield one_row_per_key("one_row_per_athlete_week", WEEKLY_FEATURES, stats)


# -- rolling features ------------------------------------------------------------------------------


ROLLING_CHECKS = [
    AssetCheckSpec("one_row_per_athlete_day", asset=ROLLING_FEATURES, blocking=True),
    AssetCheckSpec(
        "pmc_and_acwr_non_null",
        asset=ROLLING_FEATURES,
        blocking=True,
        description="CTL, ATL, TSB and EWMA ACWR are set on every row (ACWR may be null only on zero chronic load).",
    ),
    AssetCheckSpec(
        "row_for_every_recently_active_athlete",
        asset=ROLLING_FEATURES,
        blocking=True,
        description="Every athlete with an activity in the 42 days before the window end has a row on its last day.",
    ),
]


@asset(
    key=ROLLING_FEATURES,
    group_name="features",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "daily": AssetIn(
            key=DAILY_FEATURES,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-compute.FeatureParams().state_window_days),
        ),
        "previous_day": AssetIn(key=ROLLING_FEATURES, partition_mapping=PREVIOUS_DAY, metadata={ALLOW_MISSING: True}),
    },
    metadata={"partition_expr": "as_of_date"},
    check_specs=ROLLING_CHECKS,
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
    daily,
    previous_day,
):
    from pyspark.sql import functions as F

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
    with cached(advanced) as rolling:
        last_day = end - dt.timedelta(days=1)
        on_last = F.col("as_of_date") == F.lit(last_day)
        stats = rolling.agg(
            F.count("*").alias("rows"),
            F.countDistinct("athlete_id", "as_of_date").alias("keys"),
            F.sum((F.col("ctl").isNull() | F.col("atl").isNull() | F.col("tsb").isNull()).cast("int")).alias("null_pmc"),
            F.sum((F.col("acwr_ewma_7_28").isNull() & (F.col("ewma_chronic") > 0)).cast("int")).alias("null_acwr"),
            F.sum(F.col("is_overtraining_risk").cast("int")).alias("risk_rows"),
            # means over the last day's rows (avg skips the other rows' nulls)
            *(F.avg(F.when(on_last, F.col(name))).alias(f"last_{name}") for name in ("ctl", "atl", "tsb")),
        ).collect()[0]
        recently_active = (
            daily.filter((F.col("date") > F.lit(last_day - dt.timedelta(days=42))) & (F.col("activity_count") > 0))
            .select("athlete_id")
            .distinct()
        )
        on_last_day = rolling.filter(on_last).select("athlete_id")
        missing_athletes = [r["athlete_id"] for r in recently_active.subtract(on_last_day).limit(10).collect()]
        yield Output(
            rolling,
            metadata={
                "rows": stats["rows"],
                "overtraining_risk_rows": int(stats["risk_rows"] or 0),
                "mean_ctl_last_day": float(stats["last_ctl"] or 0.0),
                "mean_atl_last_day": float(stats["last_atl"] or 0.0),
                "mean_tsb_last_day": float(stats["last_tsb"] or 0.0),
                "conventions": MetadataValue.md(
                    "CTL/ATL: TrainingPeaks 1/N (42/7 d). `tsb` = yesterday's CTL − ATL; `tsb_same_day` = today's. "
                    "ACWR: `acwr_rolling_7_28` coupled rolling means, `acwr_ewma_7_28` EWMA λ=2/(N+1)."
                ),
            },
        )
        yield one_row_per_key("one_row_per_athlete_day", ROLLING_FEATURES, stats)
        yield AssetCheckResult(
            check_name="pmc_and_acwr_non_null",
            asset_key=ROLLING_FEATURES,
            passed=(stats["null_pmc"] or 0) + (stats["null_acwr"] or 0) == 0,
            metadata={"rows_null_pmc": stats["null_pmc"] or 0, "rows_null_acwr_with_load": stats["null_acwr"] or 0},
        )
        yield AssetCheckResult(
            check_name="row_for_every_recently_active_athlete",
            asset_key=ROLLING_FEATURES,
            passed=not missing_athletes,
            metadata={"missing_athletes_sample": str(missing_athletes), "last_day": str(last_day)},
        )
