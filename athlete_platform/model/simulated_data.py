"""Simulator → silver → rolling features → race labels, all in pandas (no Spark, no Dagster).

The chain of :mod:`athlete_platform.model.history_tables` fed by the simulator, keeping the simulator's
latent truth at hand: for tests (small populations, seconds), the population prior and the model benchmarks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from athlete_platform.features import compute
from athlete_platform.labels.race_detection import DetectionParams, detect_races
from athlete_platform.model.history_tables import rolling_from_silver, silver_from_records
from athlete_platform.resources.sources import SourceRecord
from athlete_platform.simulation.config import SimulatorParams
from athlete_platform.simulation.population import simulate_population
from athlete_platform.simulation.records import simulate_activities
from athlete_platform.simulation.truth import SimulatedAthlete


@dataclass
class SimulatedTables:
    config: SimulatorParams
    start: dt.date
    end: dt.date  # exclusive
    silver: pd.DataFrame  # SILVER_COLUMNS
    rolling: pd.DataFrame  # compute.ROLLING_FEATURE_COLUMNS
    races: pd.DataFrame  # race_detection.RACE_RESULT_COLUMNS
    rejected: int

    def population(self) -> tuple[SimulatedAthlete, ...]:
        """The latent truth (true VDOT, race truths) of the simulated athletes."""
        return simulate_population(self.config, self.end)


def simulated_silver(config: SimulatorParams, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, int]:
    """Silver rows (typed like ``parse_record`` returns them) of the simulated records in ``[start, end)``."""
    records = (SourceRecord("simulator", athlete_id, local_date, activity)
               for athlete_id, local_date, activity in simulate_activities(config, start, end))
    return silver_from_records(records)


def build_tables(config: SimulatorParams, end: dt.date, *, detection: DetectionParams | None = None,
                 feature_config: compute.FeatureParams | None = None) -> SimulatedTables:
    """Every table from ``config.history_start`` to ``end`` (exclusive)."""
    start = config.history_start
    silver, rejected = simulated_silver(config, start, end)
    rolling = rolling_from_silver(silver, start, end, feature_config)
    races = detect_races(silver, None, detection).races
    return SimulatedTables(config, start, end, silver, rolling, races, rejected)
