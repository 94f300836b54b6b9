"""The population prior: training rows of simulated athletes, for a population too small to learn from.

A runner who brings only their own history has a few dozen races: not enough for a model of how training
relates to race times, but enough to correct one. The estimator therefore learns the population part from
these simulated athletes (whose training and races follow published physiology: see
:mod:`athlete_platform.simulation`) plus the runner's own races, and the per-athlete correction from
the runner's races alone (:class:`athlete_platform.model.estimator.AthleteCorrections`). The simulated ids are
negated so that they can never collide with a real athlete id, and the rows carry ``population_prior = True``
so that the correction's shrinkage is estimated from real athletes only. Deterministic and cached per process.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

from athlete_platform.model.athlete_correction import PRIOR_COLUMN

PRIOR_SEED = 42
PRIOR_START = dt.date(2023, 1, 1)
PRIOR_END = dt.date(2026, 1, 1)


@lru_cache(maxsize=2)
def _prior_rows(athletes: int, seed: int) -> pd.DataFrame:
    from athlete_platform.model.simulated_data import build_tables
    from athlete_platform.model.training_set import point_in_time_join
    from athlete_platform.simulation.config import SimulatorParams

    tables = build_tables(SimulatorParams(seed=seed, n_athletes=athletes, history_start=PRIOR_START), PRIOR_END)
    rows = point_in_time_join(tables.races, tables.rolling).rows
    rows["athlete_id"] = -rows["athlete_id"].astype("int64")
    rows["activity_id"] = -rows["activity_id"].astype("int64")
    rows[PRIOR_COLUMN] = True
    return rows


def simulated_prior_rows(athletes: int, seed: int = PRIOR_SEED) -> pd.DataFrame:
    """Point-in-time training rows of ``athletes`` simulated athletes over three years (ids negated)."""
    if athletes < 1:
        raise ValueError(f"a prior needs at least one athlete, got {athletes}")
    return _prior_rows(athletes, seed).copy()
