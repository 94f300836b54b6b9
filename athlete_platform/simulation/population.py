"""Populations: every athlete simulated up to a day, cached per process, optionally in worker processes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor

from athlete_platform.simulation.config import SimulatorParams
from athlete_platform.simulation.truth import SimulatedAthlete
from athlete_platform.simulation.weeks import AthleteSimulation


def simulate_athlete(config: SimulatorParams, athlete_index: int, until: dt.date) -> SimulatedAthlete:
    """Athlete ``athlete_index`` simulated from the burn-in start up to ``until`` (exclusive)."""
    if not 0 <= athlete_index < config.n_athletes:
        raise ValueError(f"athlete_index must be in 0..{config.n_athletes - 1}, got {athlete_index}")
    simulation = AthleteSimulation(config, athlete_index)
    end_day = max(until.toordinal(), simulation.series_start)
    simulation.simulate_until(end_day)
    return simulation.result(end_day)


def simulate_population(config: SimulatorParams, until: dt.date, processes: int = 1) -> tuple[SimulatedAthlete, ...]:
    """All athletes up to ``until`` (exclusive), served from a per-process cache when possible.

    ``processes > 1`` simulates athletes in that many worker processes (the result is identical:
    athletes are independent); worth it from a few hundred athletes on.
    """
    return _POPULATION_CACHE.get(config, until, processes)


def _simulate_athlete_batch(config: SimulatorParams, indices: range, until: dt.date) -> list[SimulatedAthlete]:
    """Worker-process entry point: a contiguous batch keeps pickling overhead low."""
    return [simulate_athlete(config, index, until) for index in indices]


def _simulate_all(config: SimulatorParams, until: dt.date, processes: int) -> tuple[SimulatedAthlete, ...]:
    if processes <= 1 or config.n_athletes < 2 * processes:
        return tuple(simulate_athlete(config, index, until) for index in range(config.n_athletes))
    batch = max(1, config.n_athletes // (processes * 8))
    batches = [range(first, min(first + batch, config.n_athletes)) for first in range(0, config.n_athletes, batch)]
    # fork (where available): workers inherit the imported modules and run only this pure code, and
    # unlike spawn it does not re-import the caller's __main__ (scripts without a main guard work).
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context(method)) as pool:
        results = pool.map(_simulate_athlete_batch, [config] * len(batches), batches, [until] * len(batches))
        return tuple(athlete for batch_result in results for athlete in batch_result)


class _PopulationCache:
    """Keeps the last few populations; a request inside a cached horizon reuses it.

    The horizon is rounded up to the next calendar quarter so a daily run simulates once a quarter.
    Results do not depend on the horizon (each week is simulated from its own seed), so serving a
    shorter window from a longer simulation is exact.
    """

    def __init__(self, max_entries: int = 2) -> None:
        self._entries: OrderedDict[SimulatorParams, tuple[dt.date, tuple[SimulatedAthlete, ...]]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, config: SimulatorParams, until: dt.date, processes: int = 1) -> tuple[SimulatedAthlete, ...]:
        with self._lock:
            cached = self._entries.get(config)
            if cached is not None and cached[0] >= until:
                self._entries.move_to_end(config)
                return cached[1]
            horizon = _next_quarter_start(until)
            population = _simulate_all(config, horizon, processes)
            self._entries[config] = (horizon, population)
            self._entries.move_to_end(config)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            return population

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_POPULATION_CACHE = _PopulationCache()


def clear_simulation_cache() -> None:
    """Forget cached populations (tests, or to free memory after a large benchmark)."""
    _POPULATION_CACHE.clear()


def _next_quarter_start(day: dt.date) -> dt.date:
    """First day of the calendar quarter after the one containing ``day - 1`` (>= ``day``)."""
    last = day - dt.timedelta(days=1)
    quarter_month = 3 * ((last.month - 1) // 3) + 1
    month = quarter_month + 3
    year = last.year + (month > 12)
    return dt.date(year, (month - 1) % 12 + 1, 1)
