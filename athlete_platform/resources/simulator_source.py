"""The simulator as an activity source: the demo's default, needing no Strava account.

Records come from :mod:`athlete_platform.simulation`; this resource only maps its config to a
:class:`~athlete_platform.simulation.config.SimulatorParams` and wraps records in ``RenderedSourceRecord``
(the simulator renders each activity's payload JSON itself; the dict is parsed only when asked for).
The simulated population is cached per process (keyed by the config, horizon rounded up to the next
quarter), so a daily run does not resimulate the whole history every day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from athlete_platform.resources.sources import ActivitySource, FetchResult, RenderedSourceRecord
from athlete_platform.simulation.config import SimulatorParams
from athlete_platform.simulation.records import simulate_payloads


class SimulatorSource(ActivitySource):
    """Deterministic simulated athletes (same config and window → same records, however split)."""

    seed: int = Field(default=42, description="Seed of the whole population.")
    n_athletes: int = Field(default=60, description="Number of simulated athletes.")
    history_start: str = Field(default="2023-01-01", description="ISO date of the first emitted activity.")
    duplicate_rate: float = Field(default=0.005, description="Share of activities sent twice (same id).")
    broken_rate: float = Field(default=0.01, description="Share of runs with one corrupted field.")
    no_hr_device_share: float = Field(default=0.05, description="Share of athletes who never record HR.")
    hr_dropout_rate: float = Field(default=0.05, description="Share of other athletes' activities without HR.")
    illness_rate_per_year: float = Field(default=1.5, description="Illness breaks (3-9 days) per athlete-year.")
    injury_rate_per_year: float = Field(default=0.5, description="Injury breaks (2-6 weeks) per athlete-year.")
    home_timezone_share: float = Field(default=0.85, description="Share of athletes in America/Sao_Paulo.")

    @property
    def source_name(self) -> str:
        return "simulator"

    def simulator_params(self) -> SimulatorParams:
        """The domain config this resource stands for (validated there)."""
        return SimulatorParams(
            seed=self.seed,
            n_athletes=self.n_athletes,
            history_start=dt.date.fromisoformat(self.history_start),
            duplicate_rate=self.duplicate_rate,
            broken_rate=self.broken_rate,
            no_hr_device_share=self.no_hr_device_share,
            hr_dropout_rate=self.hr_dropout_rate,
            illness_rate_per_year=self.illness_rate_per_year,
            injury_rate_per_year=self.injury_rate_per_year,
            home_timezone_share=self.home_timezone_share,
        )

    def fetch(self, start: dt.date, end: dt.date, log: Any = None, *, include_earlier: bool = False) -> FetchResult:
        """Simulated activities whose local start date is in ``[start, end)`` (with ``include_earlier``, those
        from ``history_start`` up to ``start`` too, in ``earlier``); every record has a date."""
        config = self.simulator_params()
        first = min(start, config.history_start) if include_earlier else start
        result = FetchResult()
        for athlete_id, local_date, activity_id, payload in simulate_payloads(config, first, end):
            record = RenderedSourceRecord(self.source_name, athlete_id, local_date, activity_id, payload)
            (result.earlier if local_date < start else result.records).append(record)
        if log is not None:
            log.info(f"simulator: {len(result.records)} records for [{start}, {end}) "
                     f"({len(result.earlier)} before it) from {config.n_athletes} athletes (seed {config.seed})")
        return result
