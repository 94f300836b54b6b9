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
        ids = frame["athlete_id"].to_numpy(dtype=np.int64)
        days = pd.to_datetime(frame["race_date"]).to_numpy(dtype="datetime64[D]").astype(np.int64)
        # Flat arrays, one block of rows per athlete (athlete ids ascending, days ascending within a block):
        # each athlete's block starts at _starts[j] and ends before _starts[j + 1].
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if ids.size else np.empty(0, dtype=np.int64)
        self._ids, self._starts = ids[starts], np.r_[starts, ids.size]
        self._days = days
        self._base = days[starts]  # each athlete's first race day
        # Σ w_i x_i with w_i = exp(-rate (D - d_i)) = exp(-rate (D - base)) · exp(rate (d_i - base)):
        # cumulative sums of the second factor serve every query day D.
        growth = np.exp(self._rate * (days - np.repeat(self._base, np.diff(self._starts))))
        self._weighted, self._squared, self._weights = (np.empty(ids.size) for _ in range(3))
        # Per athlete, as np.cumsum adds (in order, no compensation); one cumsum per block, not per row.
        for begin, stop in zip(self._starts[:-1].tolist(), self._starts[1:].tolist()):
            block = slice(begin, stop)
            np.cumsum(growth[block] * residuals[block], out=self._weighted[block])
            np.cumsum(growth[block] * residuals[block] ** 2, out=self._squared[block])
            np.cumsum(growth[block], out=self._weights[block])
        # Query keys: an athlete's block index times a stride longer than the days spanned, plus the day, so one
        # searchsorted over all rows finds each (athlete, day) query's position within its athlete's block.
        self._first_day = int(days.min()) if days.size else 0
        self._stride = (int(days.max()) - self._first_day + 2) if days.size else 2
        self._keys = np.repeat(np.arange(self._ids.size, dtype=np.int64), np.diff(self._starts)) * self._stride \
            + (days - self._first_day)

    def __getstate__(self) -> dict[str, Any]:
        return {"history": self.history, "prior_races": self.prior_races, "halflife_days": self.halflife_days,
                "interval_prior_races": self.interval_prior_races}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.history, self.prior_races = state["history"], state["prior_races"]
        self.halflife_days = state.get("halflife_days")
        self.interval_prior_races = state.get("interval_prior_races")
        self.__post_init__()

    def athletes(self) -> set[int]:
        return set(self._ids.tolist())

    def for_rows(self, athlete_ids, as_of_dates=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(correction in log seconds, interval scale, races they rest on) per row, from the athlete's races
        with ``race_date <= as_of_date`` (all of them, weighted as of the last one, when no date is given)."""
        ids = np.asarray(athlete_ids, dtype=np.int64)
        correction, scale = np.zeros(ids.size), np.ones(ids.size)
        counts = np.zeros(ids.size, dtype=np.int64)
        block = np.searchsorted(self._ids, ids)
        known = block < self._ids.size
        known[known] = self._ids[block[known]] == ids[known]
        rows, block = np.flatnonzero(known), block[known]
        begin = self._starts[block]
        if as_of_dates is None:
            end = self._starts[block + 1]  # every race of the athlete
        else:
            days = pd.to_datetime(pd.Series(as_of_dates)).to_numpy(dtype="datetime64[D]").astype(np.int64)[rows]
            # Clipped into the athlete's key range before subtracting (NaT is int64 min): a day before every race
            # counts none, a day after all of them counts all.
            day_keys = np.clip(days, self._first_day - 1, self._first_day + self._stride - 2) - self._first_day
            end = np.searchsorted(self._keys, block * self._stride + day_keys, side="right")
        n = end - begin
        raced = n > 0
        rows, block, last = rows[raced], block[raced], end[raced] - 1
        query = self._days[last] if as_of_dates is None else days[raced]
        k, population = self.prior_races, self._population_ms
        k_scale = k if self.interval_prior_races is None else self.interval_prior_races
        # math.exp per row, as before: numpy's exp may differ in the last bit, and served corrections must not move.
        exponent = -self._rate * (query - self._base[block])
        decay = np.fromiter(map(math.exp, exponent.tolist()), dtype=float, count=exponent.size)
        total = self._weights[last] * decay
        correction[rows] = self._weighted[last] * decay / (total + k)
        if population > 0:
            scale[rows] = np.sqrt((self._squared[last] * decay + k_scale * population) / (total + k_scale) / population)
        counts[rows] = n[raced]
        return correction, scale, counts


#: Boolean column marking population-prior rows (model/population_prior.py).
PRIOR_COLUMN: Final = "population_prior"


def prior_athlete_ids(rows: pd.DataFrame) -> np.ndarray:
    if PRIOR_COLUMN not in rows:
        return np.empty(0, dtype=np.int64)
    flagged = rows[PRIOR_COLUMN].eq(True).to_numpy()
    return np.unique(rows.loc[flagged, "athlete_id"].to_numpy(dtype=np.int64))
