"""Simulator → silver → rolling features → race labels, all in pandas (no Spark, no Dagster).

The same pure functions the assets run (``silver.parsing.parse_record``, ``features.compute``,
``labels.race_detection``), chained in memory: for tests (small populations, seconds) and for
``benchmarks/model_report.py``. Silver keeps the latest version of a duplicated activity and drops
records the parser rejects, as the silver asset does.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd

from athlete_platform.domain.simulator import SimulatedAthlete, SimulatorConfig, simulate_activities, simulate_population
from athlete_platform.features import compute
from athlete_platform.labels.race_detection import DetectionConfig, detect_races
from athlete_platform.silver.parsing import SILVER_COLUMNS, Rejection, parse_record

INGESTED_AT = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class SimulatedTables:
    config: SimulatorConfig
    start: dt.date
    end: dt.date  # exclusive
    silver: pd.DataFrame  # SILVER_COLUMNS
    rolling: pd.DataFrame  # compute.ROLLING_FEATURE_COLUMNS
    races: pd.DataFrame  # race_detection.RACE_RESULT_COLUMNS
    rejected: int

    def population(self) -> tuple[SimulatedAthlete, ...]:
        """The latent truth (true VDOT, race truths) of the simulated athletes."""
        return simulate_population(self.config, self.end)


def simulated_silver(config: SimulatorConfig, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, int]:
    """Silver rows (typed like ``parse_record`` returns them) of the simulated records in ``[start, end)``."""
    latest: dict[int, dict] = {}
    rejected = 0
    for seq, (athlete_id, local_date, activity) in enumerate(simulate_activities(config, start, end)):
        try:
            parsed = parse_record(
                source="simulator", athlete_id=athlete_id, activity_date=local_date, payload=json.dumps(activity),
                streams=None, content_hash=str(activity.get("id")), ingested_at=INGESTED_AT, record_seq=seq,
            )
        except Rejection:
            rejected += 1
            continue
        latest[parsed.row["activity_id"]] = parsed.row  # later records of the same id win
    silver = pd.DataFrame(list(latest.values()), columns=SILVER_COLUMNS)
    silver["workout_type"] = silver["workout_type"].astype("Int64")
    return silver.sort_values(["activity_date", "athlete_id", "activity_id"], kind="stable").reset_index(drop=True), rejected


def rolling_from_silver(silver: pd.DataFrame, start: dt.date, end: dt.date,
                        feature_config: compute.FeatureConfig | None = None) -> pd.DataFrame:
    """activity_features → daily_features → rolling_features over ``[start, end)`` in one batch."""
    activity = compute.activity_features(silver, None, None, feature_config)
    daily = compute.daily_features(activity, {}, start, end, feature_config)
    rolling, _ = compute.rolling_features(daily, None, feature_config)
    return rolling


def build_tables(config: SimulatorConfig, end: dt.date, *, detection: DetectionConfig | None = None,
                 feature_config: compute.FeatureConfig | None = None) -> SimulatedTables:
    """Every table from ``config.history_start`` to ``end`` (exclusive)."""
    start = config.history_start
    silver, rejected = simulated_silver(config, start, end)
    rolling = rolling_from_silver(silver, start, end, feature_config)
    races = detect_races(silver, None, detection).races
    return SimulatedTables(config, start, end, silver, rolling, races, rejected)
