"""The per-athlete correction of the race-time estimator (see :mod:`athlete_platform.model.estimator`).

People differ in ways no feature shows. Each athlete's races get residuals against a population model that
never saw that athlete (cross-fitting over athlete groups, :func:`athlete_group`); :class:`AthleteCorrections`
turns the residuals of an athlete's races up to a day into a shrunk, time-weighted offset and an interval
scale for that day. Pure numpy/pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd


def athlete_group(athlete_ids, groups: int) -> np.ndarray:
    """Stable athlete → group in [0, groups) (Knuth's multiplicative hash: ids may be sequential)."""
    ids = np.asarray(athlete_ids, dtype=np.int64).astype(np.uint64)
    return ((ids * np.uint64(2654435761)) % np.uint64(2**32) % np.uint64(groups)).astype(np.int64)


def estimate_prior_races(history: pd.DataFrame, max_value: float, default: float | None = None) -> float:
    """Empirical-Bayes shrinkage k = within-athlete variance / between-athlete variance of the residuals,
    clipped to [1, max_value] (the correction c = Σr / (n + k) is then the posterior mean of the athlete's
    offset under a normal-normal model). ``default`` (else ``max_value``) when fewer than three athletes
    have two races or more."""
    stats = history.groupby("athlete_id")["log_residual"].agg(["mean", "var", "count"])
    multi = stats[stats["count"] >= 2]
    if len(multi) < 3:
        return max_value if default is None else default
    within = float(np.average(multi["var"], weights=multi["count"] - 1))
    between = float(multi["mean"].var()) - float(np.mean(within / multi["count"]))
    if not math.isfinite(within) or between <= 0:
        return max_value
    return float(min(max(within / between, 1.0), max_value))


@dataclass
class AthleteCorrections:
    """Residual history (``athlete_id``, ``race_date``, ``log_residual``) of the training races against a
    population model that did not see the athlete, the shrinkage ``prior_races`` and the half-life (days)
    with which older races count less (``None``: all count alike).

    Per row it gives the athlete's correction ``c = Σ w r / (Σ w + k)`` and an interval scale
    ``sqrt((Σ w r² + k' σ²) / (Σ w + k')) / σ`` (σ² = the mean squared residual of all athletes, k' =
    ``interval_prior_races``): runners whose races scatter more than the population's get proportionally
    wider intervals (normalized conformal prediction, Lei et al. 2018), shrunk the same way.
    """

    history: pd.DataFrame
    prior_races: float
    halflife_days: float | None = None
    interval_prior_races: float | None = None  # shrinkage of the scale; None: ``prior_races``

    def __post_init__(self) -> None:
        frame = self.history.sort_values(["athlete_id", "race_date"], kind="stable")
        self._rate = 0.0 if not self.halflife_days else math.log(2.0) / self.halflife_days
        residuals = frame["log_residual"].to_numpy(dtype=float)
        self._population_ms = float(np.mean(residuals**2)) if residuals.size else float("nan")
        self._by_athlete: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = {}
        for athlete, part in frame.groupby("athlete_id", sort=False):
            days = pd.to_datetime(part["race_date"]).to_numpy(dtype="datetime64[D]").astype(np.int64)
            base = int(days[0])
            # Σ w_i x_i with w_i = exp(-rate (D - d_i)) = exp(-rate (D - base)) · exp(rate (d_i - base)):
            # cumulative sums of the second factor serve every query day D.
            growth = np.exp(self._rate * (days - base))
            residual = part["log_residual"].to_numpy(dtype=float)
            self._by_athlete[int(athlete)] = (
                days, np.cumsum(growth * residual), np.cumsum(growth * residual**2), np.cumsum(growth), base,
            )

    def __getstate__(self) -> dict[str, Any]:
        return {"history": self.history, "prior_races": self.prior_races, "halflife_days": self.halflife_days,
                "interval_prior_races": self.interval_prior_races}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.history, self.prior_races = state["history"], state["prior_races"]
        self.halflife_days = state.get("halflife_days")
        self.interval_prior_races = state.get("interval_prior_races")
        self.__post_init__()

    def athletes(self) -> set[int]:
        return set(self._by_athlete)

    def for_rows(self, athlete_ids, as_of_dates=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(correction in log seconds, interval scale, races they rest on) per row, from the athlete's races
        with ``race_date <= as_of_date`` (all of them, weighted as of the last one, when no date is given)."""
        ids = np.asarray(athlete_ids, dtype=np.int64)
        days = None
        if as_of_dates is not None:
            days = pd.to_datetime(pd.Series(as_of_dates)).to_numpy(dtype="datetime64[D]").astype(np.int64)
        correction, scale = np.zeros(ids.size), np.ones(ids.size)
        counts = np.zeros(ids.size, dtype=np.int64)
        k, population = self.prior_races, self._population_ms
        k_scale = k if self.interval_prior_races is None else self.interval_prior_races
        for i, athlete in enumerate(ids.tolist()):
            known = self._by_athlete.get(athlete)
            if known is None:
                continue
            race_days, weighted, squared, weights, base = known
            n = race_days.size if days is None else int(np.searchsorted(race_days, days[i], side="right"))
            if n:
                query = race_days[n - 1] if days is None else days[i]
                decay = math.exp(-self._rate * (int(query) - base))
                total = weights[n - 1] * decay
                correction[i] = weighted[n - 1] * decay / (total + k)
                if population > 0:
                    scale[i] = math.sqrt((squared[n - 1] * decay + k_scale * population) / (total + k_scale) / population)
                counts[i] = n
        return correction, scale, counts


#: Boolean column marking population-prior rows (model/population_prior.py).
PRIOR_COLUMN: Final = "population_prior"


def prior_athlete_ids(rows: pd.DataFrame) -> np.ndarray:
    if PRIOR_COLUMN not in rows:
        return np.empty(0, dtype=np.int64)
    flagged = rows[PRIOR_COLUMN].eq(True).to_numpy()
    return np.unique(rows.loc[flagged, "athlete_id"].to_numpy(dtype=np.int64))
