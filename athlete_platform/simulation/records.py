"""What an activity source reads: the Strava-shaped records of a window, for the whole population."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from athlete_platform.simulation.config import SimulatorParams
from athlete_platform.simulation.population import simulate_population
from athlete_platform.simulation.strava_json import athlete_payloads, athlete_records


def iter_simulated_activities(config: SimulatorParams, start: dt.date, end: dt.date,
                              processes: int = 1) -> Iterator[tuple[int, dt.date, dict]]:
    """Like :func:`simulate_activities` but athlete by athlete (not sorted by date), so the dicts of
    a huge window need not all sit in memory at once."""
    if end <= start:
        return
    for athlete in simulate_population(config, end, processes):
        yield from athlete_records(athlete, start, end, config.history_start)


def simulate_activities(config: SimulatorParams, start: dt.date, end: dt.date,
                        processes: int = 1) -> list[tuple[int, dt.date, dict]]:
    """All records whose local date is in ``[start, end)``, ordered by date, athlete, activity id.

    Deterministic: the same config gives the same records whether the window is asked in one go
    or in pieces, and whatever ``processes`` is.
    """
    records = list(iter_simulated_activities(config, start, end, processes))
    records.sort(key=lambda item: (item[1], item[0], item[2]["id"]))
    return records


def simulate_payloads(config: SimulatorParams, start: dt.date, end: dt.date,
                      processes: int = 1) -> list[tuple[int, dt.date, int, str]]:
    """(athlete id, local date, activity id, payload JSON) of :func:`simulate_activities`' records, in its order:
    the JSON ``SourceRecord.payload_json`` writes for each activity, rendered without building the dicts."""
    if end <= start:
        return []
    records = [record for athlete in simulate_population(config, end, processes)
               for record in athlete_payloads(athlete, start, end, config.history_start)]
    records.sort(key=lambda item: (item[1], item[0], item[2]))
    return records
