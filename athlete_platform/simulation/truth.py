"""The latent truth of a simulation: an athlete's daily true VDOT, load, races and breaks, and activity table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from athlete_platform.simulation.athletes import AthleteProfile


@dataclass(frozen=True)
class RaceTruth:
    """A race as it truly happened: the ML's label and what it should be compared with."""

    activity_id: int
    date: dt.date
    distance_key: str
    nominal_distance_m: float
    true_vdot: float
    ideal_time_s: float  # vdot_race_time(true_vdot, nominal distance)
    time_s: float  # what the athlete ran (= moving_time before rounding)
    noise_factor: float  # lognormal day-form factor
    course_penalty: float
    weather_penalty: float
    endurance_penalty: float


@dataclass(frozen=True)
class TrainingBreak:
    kind: str  # BREAK_ILLNESS | BREAK_INJURY
    start: dt.date
    end: dt.date  # exclusive


@dataclass
class ActivityTable:
    """Compact columns of an athlete's activities (ordered by day, then slot); dicts are built on demand."""

    activity_id: np.ndarray
    day: np.ndarray  # date ordinal of the local start date
    start_local_s: np.ndarray  # seconds after local midnight
    sport: np.ndarray
    kind: np.ndarray
    workout_type: np.ndarray  # -1 for non-runs
    distance_m: np.ndarray
    moving_time_s: np.ndarray
    elapsed_time_s: np.ndarray
    elevation_gain_m: np.ndarray
    max_speed: np.ndarray
    has_heartrate: np.ndarray
    average_heartrate: np.ndarray  # nan without HR
    max_heartrate: np.ndarray  # 0 without HR
    true_load: np.ndarray
    broken_kind: np.ndarray  # 0 = intact, else 1 + index in BROKEN_KINDS
    duplicated: np.ndarray
    split_start: np.ndarray
    split_end: np.ndarray
    names: list[str]
    # Split columns in tenths (as Strava rounds them) and small integers: millions of rows at scale.
    split_distance_dm: np.ndarray  # decimetres
    split_moving_time_s: np.ndarray
    split_elapsed_time_s: np.ndarray
    split_heartrate_tenths: np.ndarray  # tenths of bpm, 0 without HR
    split_elevation_dm: np.ndarray  # decimetres
    split_pace_zone: np.ndarray

    def __len__(self) -> int:
        return len(self.activity_id)


@dataclass
class SimulatedAthlete:
    """An athlete's latent truth and activities, from ``series_start`` (burn-in included) on."""

    profile: AthleteProfile
    series_start: dt.date
    true_vdot: np.ndarray  # per day, state at the start of the day
    daily_load: np.ndarray
    fitness: np.ndarray  # Banister g at the end of the day
    fatigue: np.ndarray  # Banister h at the end of the day
    activities: ActivityTable
    races: list[RaceTruth]
    breaks: list[TrainingBreak]

    @property
    def series_end(self) -> dt.date:
        """First day not simulated."""
        return self.series_start + dt.timedelta(days=len(self.true_vdot))

    def day_index(self, day: dt.date) -> int:
        index = day.toordinal() - self.series_start.toordinal()
        if not 0 <= index < len(self.true_vdot):
            raise ValueError(f"{day} outside the simulated series [{self.series_start}, {self.series_end})")
        return index

    def true_vdot_on(self, day: dt.date) -> float:
        """The athlete's true VDOT on ``day`` (before that day's training)."""
        return float(self.true_vdot[self.day_index(day)])

    def vdot_series(self, start: dt.date, end: dt.date) -> dict[dt.date, float]:
        """True VDOT for each day of ``[start, end)``."""
        first = self.day_index(start)
        days = (end - start).days
        values = self.true_vdot[first:first + days].tolist()
        return {start + dt.timedelta(days=offset): value for offset, value in enumerate(values)}


def truncate_table(table: ActivityTable, end_day: int) -> ActivityTable:
    """Rows before ``end_day`` only (the simulation runs in whole weeks)."""
    count = int(np.searchsorted(table.day, end_day, side="left"))
    if count == len(table):
        return table
    split_count = int(table.split_end[count - 1]) if count else 0
    values = {}
    for name, value in table.__dict__.items():
        if name == "names":
            values[name] = value[:count]
        elif name.startswith("split_") and name not in ("split_start", "split_end"):
            values[name] = value[:split_count]
        else:
            values[name] = value[:count]
    return ActivityTable(**values)
