"""``labels/race_results``: the race labels, one row per detected race (pandas, no Spark).

Input: silver activities of the window **plus the ``EFFORT_HISTORY_DAYS`` before it**
(``TimeWindowPartitionMapping(start_offset=-EFFORT_HISTORY_DAYS)``), because the effort rule compares a
run with the athlete's runs of the previous weeks. Only races dated inside the window are written;
the earlier days serve as history. Rules, columns and tolerances: :mod:`athlete_platform.labels.race_detection`.

A single-run backfill (range run) detects the whole range in one pass; the IO manager replaces exactly
the window, so re-running a day or a range is idempotent.
"""


from typing import Optional

import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
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

from athlete_platform.asset_keys import RACE_RESULTS, SILVER_ACTIVITIES
from athlete_platform.labels.race_detection import RACE_RESULT_COLUMNS, DetectionParams, detect_races
from athlete_platform.partitions import daily_partitions, window_dates


#: Days of silver history loaded before the window for the effort rule (its lookback must fit in it).
EFFORT_HISTORY_DAYS = 56

RACE_RESULTS_SCHEMA = pa.schema(
    [
        ("athlete_id", pa.int64()),
        ("activity_id", pa.int64()),
        ("race_date", pa.date32()),
        ("distance_bucket", pa.string()),
        ("distance_m", pa.float64()),
        ("official_time_s", pa.float64()),
        ("detection_reason", pa.string()),
    ]
)
if RACE_RESULTS_SCHEMA.names != list(RACE_RESULT_COLUMNS):  # one contract, two spellings: keep them in step
    raise RuntimeError("RACE_RESULTS_SCHEMA and race_detection.RACE_RESULT_COLUMNS disagree")


class RaceDetectionConfig(Config):
    """Tunables of :class:`~athlete_platform.labels.race_detection.DetectionParams`."""

    effort_lookback_days: int = EFFORT_HISTORY_DAYS
    min_recent_runs: int = 5
    effort_pace_ratio_5k: float = 0.84
    effort_pace_ratio_10k: float = 0.82
    effort_pace_ratio_21k: float = 0.90
    effort_pace_ratio_42k: float = 0.95
    effort_max_elapsed_ratio: float = 1.05
    apply_rules_to_untagged: bool = False

    def detection_params(self) -> DetectionParams:
        if not 0 < self.effort_lookback_days <= EFFORT_HISTORY_DAYS:
            raise ValueError(
                f"effort_lookback_days must be in 1..{EFFORT_HISTORY_DAYS} (the silver history the asset loads), "
                f"got {self.effort_lookback_days}"
            )
        return DetectionParams(
            effort_lookback_days=self.effort_lookback_days,
            min_recent_runs=self.min_recent_runs,
            effort_pace_ratio={
                "5k": self.effort_pace_ratio_5k,
                "10k": self.effort_pace_ratio_10k,
                "21k": self.effort_pace_ratio_21k,
                "42k": self.effort_pace_ratio_42k,
            },
            effort_max_elapsed_ratio=self.effort_max_elapsed_ratio,
            apply_rules_to_untagged=self.apply_rules_to_untagged,
        )


RACE_CHECKS = [
    AssetCheckSpec("unique_activity_id", asset=RACE_RESULTS, blocking=True, description="One row per race activity."),
    AssetCheckSpec(
        "official_time_positive",
        asset=RACE_RESULTS,
        blocking=True,
        description="official_time_s and distance_m are finite and > 0 on every row.",
    ),
]


def evaluate_race_checks(races: pd.DataFrame) -> list[AssetCheckResult]:
    duplicated = races.loc[races["activity_id"].duplicated(keep=False), "activity_id"].unique().tolist()
    times = pd.to_numeric(races["official_time_s"], errors="coerce")
    distances = pd.to_numeric(races["distance_m"], errors="coerce")
    bad = races.loc[~((times > 0) & (distances > 0)), "activity_id"].tolist()
    return [
        AssetCheckResult(
            check_name="unique_activity_id",
            asset_key=RACE_RESULTS,
            passed=not duplicated,
            metadata={"rows": len(races), "duplicated_ids_sample": str(duplicated[:5])},
        ),
        AssetCheckResult(
            check_name="official_time_positive",
            asset_key=RACE_RESULTS,
            passed=not bad,
            metadata={"bad_rows": len(bad), "activity_ids_sample": str(bad[:5])},
        ),
    ]


@asset(
    key=RACE_RESULTS,
    group_name="labels",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "activities": AssetIn(
            key=SILVER_ACTIVITIES, partition_mapping=TimeWindowPartitionMapping(start_offset=-EFFORT_HISTORY_DAYS)
        )
    },
    metadata={"partition_expr": "race_date"},
    check_specs=RACE_CHECKS,
    kinds={"pandas", "delta"},
    code_version="2",
    description=(
        "Races (5K/10K/half/marathon) from silver runs: Strava's race flag, else a race title at a standard "
        "distance, else a continuous run at a markedly fast elapsed pace at a standard distance; "
        "official time = elapsed time; "
        "detection_reason per row."
    ),
)
def race_results(
    context: AssetExecutionContext,
    config: RaceDetectionConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],  # remote on Databricks, in-process locally
    activities: pd.DataFrame,
):
    start, end = window_dates(context)
    days = pd.to_datetime(activities["activity_date"]).dt.date
    in_window = (days >= start) & (days < end)
    detection = detect_races(activities[in_window], activities[~in_window], config.detection_params())
    races = detection.races
    table = pa.Table.from_pandas(races, schema=RACE_RESULTS_SCHEMA, preserve_index=False)
    by_distance = races["distance_bucket"].value_counts().to_dict()
    yield Output(
        table,
        metadata={
            "races": len(races),
            "athletes": int(races["athlete_id"].nunique()),
            "activities_in_window": int(in_window.sum()),
            "by_reason": MetadataValue.json(detection.by_reason),
            "by_distance": MetadataValue.json({str(k): int(v) for k, v in by_distance.items()}),
            "flagged_races_at_other_distances": detection.flagged_nonstandard,
        },
    )
    yield from evaluate_race_checks(races)
