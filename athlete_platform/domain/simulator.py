"""Deterministic athlete simulator: the demo's default data source and the ML's ground truth.

The simulator generates a population of runners and their Strava activities. The race-time model
is later trained and evaluated on this data, so each choice below tries to be realistic *and* is
written down, because the latent truth (true VDOT per day) is exposed for evaluation.

Entry points: :func:`simulate_activities` (records of a window), :func:`iter_simulated_activities`,
:func:`simulate_population` / :func:`simulate_athlete` (latent truth: :class:`SimulatedAthlete`),
:func:`athlete_profile`. Populations are cached per process (``clear_simulation_cache``);
``processes=2`` simulates a large population in two worker processes with identical results.

Determinism
-----------
Everything is drawn from ``numpy`` Generators keyed by ``np.random.SeedSequence(seed, spawn_key=...)``:

* athlete ``k``'s profile: key ``(k, 0)``; its race calendar for year ``Y``: ``(k, 1, Y)``; its
  training week ``w`` (weeks counted from the Monday starting the burn-in): ``(k, 2, w)``.

So athlete ``k`` never depends on how many athletes precede it, and week ``w`` depends only on its own
draws and on the state carried from earlier weeks. The simulation always runs from
``history_start - burn_in_days`` in whole weeks; the records of a day are the same whatever window
they are asked in ([start, end) in one go or day by day), and whatever horizon was simulated.

Athletes (``AthleteProfile``)
-----------------------------
* sex (40 % women), age ~ N(37, 9) clipped 20-65; HRmax = 208 - 0.7 age + N(0, 6) (Tanaka),
  HRrest ~ N(60 - 0.3 (VDOT - 45), 6) clipped 40-75.
* habitual VDOT (fitness when training at the habitual load): men N(47, 7), women N(42, 6), clipped
  31-63; a slow trend N(0, 1.5 %)/year minus 0.5 %/year per decade over 40.
* weekly volume preference: (15 + 2.2 (VDOT - 30)) km x lognormal(0, 0.2), clipped 15-110 km;
  runs per week 2-7 from the volume.
* timezone America/Sao_Paulo with probability ``home_timezone_share`` (85 %), else one of a few
  other zones; morning or evening runner; hilliness of the routes (m climbed per km).
* HR device: a share of athletes (``no_hr_device_share``) never record HR; the others lose HR on
  ``hr_dropout_rate`` of their activities (always for half of the swims).
* cross-training habits (Ride, Swim, WeightTraining, Walk: Poisson sessions per week).
* race habits: ``races_per_year`` uniform in the configured range; marathoners are likelier among
  high-volume athletes; preference between 5K and 10K.

Latent fitness (Banister impulse-response, ``FitnessModel``)
-------------------------------------------------------------
Each day's training load ``w`` (rTSS of the runs from the true threshold speed; cross-training at a
fixed running-equivalent load per hour: Ride 30, Swim 25, WeightTraining 10, Walk 8) feeds
fitness ``g_t = g_{t-1} e^{-1/42} + w_t`` and fatigue ``h_t = h_{t-1} e^{-1/7} + w_t``;
performance ``P = k1 g - k2 h`` (k1 = 1, k2 = 2). With ``P_hab`` the steady-state performance at the
athlete's habitual daily load and ``r = P / P_hab``:
``true VDOT = VDOT_hab(t) x (1 - d x (1 - f(r)))``, ``f(r) = r`` for ``r <= 1`` (floored at -0.5) and
``1 + 0.6 ln r`` above (diminishing returns), ``d`` ~ U(12 %, 18 %) the fraction lost when fully
detrained. The day's true VDOT uses the state at the *start* of the day (before that day's load).
Stopping training first helps a little (fatigue clears within ~2 weeks, the taper effect) and then
costs ~3 % after 4 weeks and ~6-7 % after 6 weeks. The state starts at the habitual steady state
``burn_in_days`` (84) before ``history_start``.

Training weeks
--------------
A week has a target volume ``weekly_km x phase factor x lognormal(0, 0.08)``. Phases from the race
calendar: base (3:1 cycle, every 4th week at 80 %), half build (up to +12 % within 10 weeks of a
half), marathon build (up to +25 % within 16 weeks of a marathon, long runs up to 33 km), taper
(marathon 85 % / 70 % / 45 % in the last three weeks, half 85 % / 65 %), recovery (after a marathon
45 % then 70 %, after a half 75 %), and a return ramp after an injury (65 %, 85 %). Days follow a
template per number of runs (rest days included): long run on Sunday (or Saturday), quality on
Tuesday/Thursday (tempo: 3-12 km at threshold; intervals: 400-1600 m repeats at ~98 % of VDOT with
half-distance jog recoveries; warm-up and cool-down easy), the rest easy runs of at least 3 km.
6 % of planned runs are skipped, runs are sometimes moved to a neighbouring day.
Illness (``illness_rate_per_year``, 3-9 days, nothing recorded) and injury
(``injury_rate_per_year``, 14-42 days, only cross-training) interrupt training.

Paces and heart rate
--------------------
An athlete paces from a perceived VDOT = true VDOT x (1 + bias N(0, 1.5 %)) x lognormal(0, 1.5 %)
per day: easy at ~63-74 % of VDOT (athlete habit), long runs 1 % lower, tempo at the 60-minute race
intensity (88.8 %), intervals at 96-100 %, jog recoveries at 55 %, converted to speed with the
Daniels-Gilbert oxygen cost; hills slow the actual speed by 0.25 % per m/km climbed.
HR as a fraction of heart-rate reserve: ``0.88 + 1.2 (x - 1)`` (clipped 0.3-0.99) with ``x`` = flat
speed / *true* threshold speed (so pace at a given HR reveals fitness), plus an athlete offset N(0, 0.03), a day
offset N(0, 0.02), heat (up to +0.02 in local summer), cardiac drift +0.04 per hour, a lower first
kilometre, per-split noise, capped at HRmax. Recoveries inside intervals keep 70 % of the previous
repeat's elevated HR. Activity average HR is the time-weighted mean of the per-km splits.

Races
-----
5K / 10K / 21.1K / 42.2K races (``workout_type = 1``, race-like names), planned per calendar year with
spacing rules (marathons >= 16 weeks apart, halves >= 3 weeks from other long races, 5K/10K not in
the fortnight before or three weeks after a marathon), on the athlete's race weekday; missed when
ill or injured. Race time = ``vdot_race_time(true VDOT on the day, distance)`` x lognormal(0,
``race_noise_sigma`` = 2.5 %) x (1 + course penalty |N(0, 1.2 %)| + weather penalty U(0, 3 %) x
local-summer index (x 1.5 for half and marathon) + endurance penalty), the endurance penalty being
``8 % x max(0, 1 - weekly km over the last 6 weeks / 65)`` for a marathon and
``3 % x max(0, 1 - km / 45)`` for a half (undertrained runners fade, Riegel's known weakness).
GPS distance = nominal x lognormal(0.7 %, 0.6 %). ``moving_time`` is the race time; elapsed adds a
few seconds.

Records
-------
Strava API v3 SummaryActivity-shaped dicts (plus ``splits_metric`` for runs, as in a
DetailedActivity): ``id, resource_state, athlete{id}, name, type, sport_type, workout_type`` (runs:
0 default, 1 race, 2 long run and 3 workout for athletes that tag them), ``start_date`` (UTC, 'Z'),
``start_date_local`` (wall clock with a 'Z' suffix, as Strava does), ``timezone``
("(GMT-03:00) America/Sao_Paulo": standard offset), ``utc_offset``, ``distance, moving_time,
elapsed_time, total_elevation_gain, average_speed, max_speed, has_heartrate, average_heartrate,
max_heartrate`` (the two HR keys omitted without HR), ``manual, trainer, commute``, and for runs
``splits_metric``: per km (the last one partial; a tail under 20 m joins the previous km)
``distance, elapsed_time, moving_time, split, average_speed, average_heartrate`` (omitted without
HR), ``elevation_difference`` (loop courses: sums to 0), ``pace_zone`` (1-5 from split speed /
true threshold speed: < 0.78, < 0.88, < 0.95, < 1.03, above). Max HR of a 5K/10K race is within 4 bpm
of HRmax (so HRmax can be estimated from the data).
Activity ids are ``((days since 1970 x 1e6) + athlete index) x 10 + slot``: unique across athletes,
increasing with the day.

Data-quality defects (on purpose, so the pipeline's checks have work)
---------------------------------------------------------------------
* duplicates: ``duplicate_rate`` (0.5 %) of all activities are emitted twice, identical (same id).
* broken records: ``broken_rate`` (1 %) of runs are corrupted in exactly one way (``BROKEN_KINDS``):
  ``negative_distance`` (``distance`` negated), ``zero_distance`` (``distance`` and ``average_speed``
  0.0), ``missing_moving_time`` (key ``moving_time`` absent), ``heartrate_300``
  (``average_heartrate`` and ``max_heartrate`` 300; only runs with HR). ``start_date_local`` is never
  broken: every record can be placed on a date. The latent truth keeps the real activity (its load
  counts).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import multiprocessing
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from athlete_platform.domain.race_baselines import (
    STANDARD_DISTANCES_M,
    sustainable_vo2max_fraction,
    vdot_race_time,
    velocity_for_oxygen_cost,
)

# --------------------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------------------

SPORT_RUN, SPORT_RIDE, SPORT_SWIM, SPORT_WEIGHTS, SPORT_WALK = range(5)
SPORT_NAMES: tuple[str, ...] = ("Run", "Ride", "Swim", "WeightTraining", "Walk")
CROSS_SPORTS: tuple[int, ...] = (SPORT_RIDE, SPORT_SWIM, SPORT_WEIGHTS, SPORT_WALK)

KIND_EASY, KIND_LONG, KIND_TEMPO, KIND_INTERVALS, KIND_RACE, KIND_CROSS = range(6)
KIND_NAMES: tuple[str, ...] = ("easy", "long", "tempo", "intervals", "race", "cross")

BROKEN_NONE = 0
BROKEN_KINDS: tuple[str, ...] = ("negative_distance", "zero_distance", "missing_moving_time", "heartrate_300")
_BROKEN_NEGATIVE_DISTANCE, _BROKEN_ZERO_DISTANCE, _BROKEN_MISSING_MOVING_TIME, _BROKEN_HEARTRATE_300 = 1, 2, 3, 4

BREAK_ILLNESS = "illness"
BREAK_INJURY = "injury"

_STREAM_PROFILE, _STREAM_RACES, _STREAM_WEEK = 0, 1, 2
_MAX_ATHLETES = 1_000_000
_SLOTS_PER_DAY = 10
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

_THRESHOLD_FRACTION = sustainable_vo2max_fraction(60.0)  # 60-minute race intensity, ~0.888 of VDOT
_HRR_AT_THRESHOLD = 0.88
_HRR_SLOPE = 1.2
_HR_DRIFT_PER_HOUR = 0.04
_HILL_SLOWDOWN_PER_M_PER_KM = 0.0025
_MIN_LAST_SPLIT_M = 20.0
# Running-equivalent load per hour of cross-training (how much it feeds running fitness).
_CROSS_LOAD_PER_HOUR = {SPORT_RIDE: 30.0, SPORT_SWIM: 25.0, SPORT_WEIGHTS: 10.0, SPORT_WALK: 8.0}
# Empirical ratio of the realised average daily load to the analytic estimate in AthleteProfile,
# so that an athlete's true VDOT hovers around their habitual VDOT (calibrated on simulations).
_HABITUAL_LOAD_CALIBRATION = 0.92

_HOME_TIMEZONE = "America/Sao_Paulo"
_OTHER_TIMEZONES: tuple[str, ...] = (
    "America/Argentina/Buenos_Aires",
    "America/New_York",
    "Europe/Lisbon",
    "Europe/London",
    "America/Bogota",
)
_NORTHERN_TIMEZONES = frozenset({"America/New_York", "Europe/Lisbon", "Europe/London", "America/Bogota"})


# --------------------------------------------------------------------------------------------------
# Configuration and truth
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitnessModel:
    """Banister impulse-response parameters and their mapping to VDOT (see module docstring)."""

    tau_fitness_days: float = 42.0
    tau_fatigue_days: float = 7.0
    k_fitness: float = 1.0
    k_fatigue: float = 2.0
    gain_above_habitual: float = 0.6
    min_relative_performance: float = -0.5

    @property
    def fitness_decay(self) -> float:
        return math.exp(-1.0 / self.tau_fitness_days)

    @property
    def fatigue_decay(self) -> float:
        return math.exp(-1.0 / self.tau_fatigue_days)

    def steady_state(self, daily_load: float) -> tuple[float, float]:
        """Fitness and fatigue after training at ``daily_load`` every day forever."""
        return daily_load / (1.0 - self.fitness_decay), daily_load / (1.0 - self.fatigue_decay)

    def performance(self, fitness: float, fatigue: float) -> float:
        return self.k_fitness * fitness - self.k_fatigue * fatigue

    def relative_vdot(self, fitness: float, fatigue: float, habitual_daily_load: float,
                      detrained_fraction: float) -> float:
        """True VDOT as a multiple of the habitual VDOT, from the Banister state."""
        habitual = self.performance(*self.steady_state(habitual_daily_load))
        ratio = self.performance(fitness, fatigue) / habitual
        if ratio > 1.0:
            effect = 1.0 + self.gain_above_habitual * math.log(ratio)
        else:
            effect = max(ratio, self.min_relative_performance)
        return 1.0 - detrained_fraction * (1.0 - effect)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulation depends on; hashable, so it keys the per-process cache."""

    seed: int = 42
    n_athletes: int = 60
    history_start: dt.date = dt.date(2023, 1, 1)
    duplicate_rate: float = 0.005
    broken_rate: float = 0.01
    no_hr_device_share: float = 0.05
    hr_dropout_rate: float = 0.05
    home_timezone_share: float = 0.85
    races_per_year_range: tuple[float, float] = (8.0, 20.0)
    illness_rate_per_year: float = 1.5
    injury_rate_per_year: float = 0.5
    race_noise_sigma: float = 0.025
    burn_in_days: int = 84
    athlete_id_base: int = 9_100_000
    fitness: FitnessModel = field(default_factory=FitnessModel)

    def __post_init__(self) -> None:
        if not 0 < self.n_athletes <= _MAX_ATHLETES:
            raise ValueError(f"n_athletes must be in 1..{_MAX_ATHLETES}, got {self.n_athletes}")
        for name in ("duplicate_rate", "broken_rate", "no_hr_device_share", "hr_dropout_rate",
                     "home_timezone_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability, got {value}")
        low, high = self.races_per_year_range
        if not 0 <= low <= high:
            raise ValueError(f"races_per_year_range must be increasing and >= 0, got {self.races_per_year_range}")

    @property
    def simulation_start(self) -> dt.date:
        """Monday on or before ``history_start - burn_in_days``: where the state starts (week 0)."""
        first = self.history_start - dt.timedelta(days=self.burn_in_days)
        return first - dt.timedelta(days=first.weekday())


@dataclass(frozen=True)
class AthleteProfile:
    """Stable traits of a simulated athlete (drawn once from the athlete's own seed)."""

    athlete_index: int
    athlete_id: int
    sex: str
    age: int
    hr_max: int
    hr_rest: int
    habitual_vdot: float
    detrained_fraction: float
    vdot_trend_per_year: float
    weekly_km: float
    runs_per_week: int
    habitual_daily_load: float
    timezone: str
    records_heartrate: bool
    races_per_year: float
    runs_marathons: bool
    five_k_preference: float
    easy_intensity: float
    pace_bias: float
    hr_reserve_offset: float
    hilliness_m_per_km: float
    preferred_start_hour: float
    long_run_weekday: int
    race_weekday: int
    tags_long_runs: bool
    tags_workouts: bool
    renames_workouts: float
    portuguese_names: bool
    cross_training_per_week: tuple[float, float, float, float]  # Ride, Swim, WeightTraining, Walk


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


# --------------------------------------------------------------------------------------------------
# Random draws
# --------------------------------------------------------------------------------------------------


def _generator(config: SimulatorConfig, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(config.seed, spawn_key=key)))


class _Draws:
    """Scalar draws served from batches: numpy's per-call overhead would dominate otherwise."""

    __slots__ = ("_rng", "_uniforms", "_normals", "_next_uniform", "_next_normal")

    def __init__(self, rng: np.random.Generator, batch: int = 256) -> None:
        self._rng = rng
        self._uniforms: list[float] = rng.random(batch).tolist()
        self._normals: list[float] = rng.standard_normal(batch).tolist()
        self._next_uniform = 0
        self._next_normal = 0

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        if self._next_uniform == len(self._uniforms):
            self._uniforms = self._rng.random(len(self._uniforms)).tolist()
            self._next_uniform = 0
        value = self._uniforms[self._next_uniform]
        self._next_uniform += 1
        return low + (high - low) * value

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        if self._next_normal == len(self._normals):
            self._normals = self._rng.standard_normal(len(self._normals)).tolist()
            self._next_normal = 0
        value = self._normals[self._next_normal]
        self._next_normal += 1
        return mean + sd * value

    def normals(self, count: int) -> list[float]:
        """``count`` standard normal draws at once: one list slice instead of ``count`` calls."""
        if self._next_normal + count > len(self._normals):
            remaining = self._normals[self._next_normal:]
            fresh = self._rng.standard_normal(max(len(self._normals), count)).tolist()
            self._normals = remaining + fresh
            self._next_normal = 0
        values = self._normals[self._next_normal:self._next_normal + count]
        self._next_normal += count
        return values

    def chance(self, probability: float) -> bool:
        return self.uniform() < probability

    def integer(self, low: int, high_inclusive: int) -> int:
        return min(high_inclusive, low + int(self.uniform() * (high_inclusive - low + 1)))

    def choice(self, options: tuple | list):  # type: ignore[no-untyped-def]
        return options[self.integer(0, len(options) - 1)]

    def poisson(self, mean: float) -> int:
        """Knuth's method; means here are small (sessions per week)."""
        threshold, count, product = math.exp(-mean), 0, self.uniform()
        while product > threshold:
            count += 1
            product *= self.uniform()
        return count


# --------------------------------------------------------------------------------------------------
# Athletes
# --------------------------------------------------------------------------------------------------


def _speed_at_vdot_fraction(vdot: float, fraction: float) -> float:
    """Speed (m/s) whose Daniels oxygen cost is ``fraction`` of ``vdot``."""
    return velocity_for_oxygen_cost(vdot * fraction) / 60.0


def _clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def athlete_profile(config: SimulatorConfig, athlete_index: int) -> AthleteProfile:
    """Draw athlete ``athlete_index``'s traits from its own seed (independent of other athletes)."""
    draws = _Draws(_generator(config, athlete_index, _STREAM_PROFILE), batch=64)
    sex = "F" if draws.chance(0.4) else "M"
    age = int(round(_clip(draws.normal(37.0, 9.0), 20.0, 65.0)))
    vdot = _clip(draws.normal(42.0, 6.0) if sex == "F" else draws.normal(47.0, 7.0), 31.0, 63.0)
    hr_max = int(round(_clip(208.0 - 0.7 * age + draws.normal(0.0, 6.0), 165.0, 205.0)))
    hr_rest = int(round(_clip(draws.normal(60.0 - 0.3 * (vdot - 45.0), 6.0), 40.0, 75.0)))
    weekly_km = _clip((15.0 + 2.2 * (vdot - 30.0)) * math.exp(draws.normal(0.0, 0.2)), 15.0, 110.0)
    runs_per_week = int(_clip(round(2.0 + weekly_km / 18.0 + draws.normal(0.0, 0.5)), 2, 7))
    trend = draws.normal(0.0, 0.015) - 0.005 * max(0.0, (age - 40.0) / 10.0)
    timezone = _HOME_TIMEZONE if draws.chance(config.home_timezone_share) else draws.choice(_OTHER_TIMEZONES)
    morning = draws.chance(0.6)
    start_hour = draws.uniform(5.5, 7.5) if morning else draws.uniform(17.5, 19.5)
    cross = (
        draws.uniform(0.3, 1.2) if draws.chance(0.3) else 0.0,  # Ride
        draws.uniform(0.3, 1.0) if draws.chance(0.15) else 0.0,  # Swim
        draws.uniform(0.5, 2.0) if draws.chance(0.4) else 0.0,  # WeightTraining
        draws.uniform(0.2, 1.0) if draws.chance(0.5) else 0.0,  # Walk
    )
    easy_intensity = draws.uniform(0.63, 0.74)
    profile_without_load = dict(
        athlete_index=athlete_index,
        athlete_id=config.athlete_id_base + athlete_index,
        sex=sex,
        age=age,
        hr_max=hr_max,
        hr_rest=hr_rest,
        habitual_vdot=vdot,
        detrained_fraction=draws.uniform(0.12, 0.18),
        vdot_trend_per_year=trend,
        weekly_km=weekly_km,
        runs_per_week=runs_per_week,
        timezone=timezone,
        records_heartrate=not draws.chance(config.no_hr_device_share),
        races_per_year=draws.uniform(*config.races_per_year_range),
        runs_marathons=draws.chance(_clip((weekly_km - 30.0) / 60.0, 0.05, 0.7)),
        five_k_preference=draws.uniform(0.3, 0.7),
        easy_intensity=easy_intensity,
        pace_bias=draws.normal(0.0, 0.015),
        hr_reserve_offset=draws.normal(0.0, 0.03),
        hilliness_m_per_km=_clip(7.0 * math.exp(draws.normal(0.0, 0.5)), 1.0, 30.0),
        preferred_start_hour=start_hour,
        long_run_weekday=6 if draws.chance(0.75) else 5,
        race_weekday=6 if draws.chance(0.85) else 5,
        tags_long_runs=draws.chance(0.4),
        tags_workouts=draws.chance(0.4),
        renames_workouts=draws.uniform(0.0, 0.6),
        portuguese_names=timezone == _HOME_TIMEZONE and draws.chance(0.7),
        cross_training_per_week=cross,
    )
    load = _estimate_habitual_daily_load(vdot, easy_intensity, weekly_km, cross)
    return AthleteProfile(habitual_daily_load=load, **profile_without_load)


def _estimate_habitual_daily_load(vdot: float, easy_intensity: float, weekly_km: float,
                                  cross_per_week: tuple[float, float, float, float]) -> float:
    """Average daily load of a typical week at the habitual VDOT: anchors the Banister mapping."""
    threshold_speed = _speed_at_vdot_fraction(vdot, _THRESHOLD_FRACTION)
    easy_speed = _speed_at_vdot_fraction(vdot, easy_intensity)
    easy_if_squared = (easy_speed / threshold_speed) ** 2
    hours = weekly_km * 1000.0 / easy_speed / 3600.0 * 0.95
    run_load = hours * (0.8 * easy_if_squared + 0.2 * 0.9) * 100.0
    typical_hours = {SPORT_RIDE: 1.5, SPORT_SWIM: 0.75, SPORT_WEIGHTS: 0.75, SPORT_WALK: 1.0}
    cross_load = sum(rate * typical_hours[sport] * _CROSS_LOAD_PER_HOUR[sport]
                     for sport, rate in zip(CROSS_SPORTS, cross_per_week))
    return (run_load + cross_load) / 7.0 * _HABITUAL_LOAD_CALIBRATION


# --------------------------------------------------------------------------------------------------
# Race calendar
# --------------------------------------------------------------------------------------------------

_MARATHON_GAP_DAYS = 112
_LONG_RACE_GAP_DAYS = 21
_SHORT_BEFORE_MARATHON_DAYS = 14
_SHORT_AFTER_MARATHON_DAYS = 21
_SHORT_GAP_DAYS = 7


def _race_calendar_for_year(config: SimulatorConfig, profile: AthleteProfile, year: int,
                            earlier: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Planned races of ``year`` as (date ordinal, distance key), respecting spacing with ``earlier``."""
    draws = _Draws(_generator(config, profile.athlete_index, _STREAM_RACES, year), batch=128)
    first = dt.date(year, 1, 1)
    offset = (profile.race_weekday - first.weekday()) % 7
    candidates = list(range(first.toordinal() + offset, dt.date(year, 12, 31).toordinal() + 1, 7))
    total = max(1, int(round(profile.races_per_year * draws.uniform(0.8, 1.2))))
    marathons = (1 if draws.chance(0.6) else 2) if profile.runs_marathons else 0
    halves = max(1 if marathons else 0, int(round(total * draws.uniform(0.1, 0.3))))
    shorts = max(0, total - marathons - halves)
    planned: list[tuple[int, str]] = [race for race in earlier if race[0] > first.toordinal() - 200]

    def fits(day: int, key: str) -> bool:
        for other_day, other_key in planned:
            gap = day - other_day  # > 0 when the candidate comes after the other race
            if gap == 0:
                return False
            if key == "42k" and other_key == "42k" and abs(gap) < _MARATHON_GAP_DAYS:
                return False
            if key in ("42k", "21k") and other_key in ("42k", "21k") and abs(gap) < _LONG_RACE_GAP_DAYS:
                return False
            if "42k" in (key, other_key) and key != other_key:
                short_after_marathon = gap if other_key == "42k" else -gap
                if -_SHORT_BEFORE_MARATHON_DAYS < short_after_marathon < _SHORT_AFTER_MARATHON_DAYS:
                    return False
            if abs(gap) < _SHORT_GAP_DAYS:
                return False
        return True

    wanted = ["42k"] * marathons + ["21k"] * halves
    wanted += ["5k" if draws.chance(profile.five_k_preference) else "10k" for _ in range(shorts)]
    for key in wanted:
        for _attempt in range(12):
            day = draws.choice(candidates)
            if fits(day, key):
                planned.append((day, key))
                break
    return sorted(race for race in planned if race[0] >= first.toordinal())


# --------------------------------------------------------------------------------------------------
# Activity construction helpers
# --------------------------------------------------------------------------------------------------


@dataclass
class _Columns:
    """Row-wise accumulation of an ActivityTable during simulation."""

    activity_id: list[int] = field(default_factory=list)
    day: list[int] = field(default_factory=list)
    start_local_s: list[int] = field(default_factory=list)
    sport: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    workout_type: list[int] = field(default_factory=list)
    distance_m: list[float] = field(default_factory=list)
    moving_time_s: list[int] = field(default_factory=list)
    elapsed_time_s: list[int] = field(default_factory=list)
    elevation_gain_m: list[float] = field(default_factory=list)
    max_speed: list[float] = field(default_factory=list)
    has_heartrate: list[bool] = field(default_factory=list)
    average_heartrate: list[float] = field(default_factory=list)
    max_heartrate: list[int] = field(default_factory=list)
    true_load: list[float] = field(default_factory=list)
    broken_kind: list[int] = field(default_factory=list)
    duplicated: list[bool] = field(default_factory=list)
    split_start: list[int] = field(default_factory=list)
    split_end: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    split_distance_m: list[float] = field(default_factory=list)
    split_moving_time_s: list[int] = field(default_factory=list)
    split_elapsed_time_s: list[int] = field(default_factory=list)
    split_heartrate: list[float] = field(default_factory=list)  # 0.0 without HR
    split_elevation_m: list[float] = field(default_factory=list)
    split_pace_zone: list[int] = field(default_factory=list)

    def to_table(self) -> ActivityTable:
        def frozen(values: list, dtype: type | str) -> np.ndarray:  # type: ignore[type-arg]
            array = np.asarray(values, dtype=dtype)
            array.setflags(write=False)  # shared through the cache: nobody may edit it
            return array

        return ActivityTable(
            activity_id=frozen(self.activity_id, np.int64),
            day=frozen(self.day, np.int64),
            start_local_s=frozen(self.start_local_s, np.int32),
            sport=frozen(self.sport, np.int8),
            kind=frozen(self.kind, np.int8),
            workout_type=frozen(self.workout_type, np.int8),
            distance_m=frozen(self.distance_m, np.float64),
            moving_time_s=frozen(self.moving_time_s, np.int32),
            elapsed_time_s=frozen(self.elapsed_time_s, np.int32),
            elevation_gain_m=frozen(self.elevation_gain_m, np.float64),
            max_speed=frozen(self.max_speed, np.float64),
            has_heartrate=frozen(self.has_heartrate, np.bool_),
            average_heartrate=frozen(self.average_heartrate, np.float64),
            max_heartrate=frozen(self.max_heartrate, np.int16),
            true_load=frozen(self.true_load, np.float64),
            broken_kind=frozen(self.broken_kind, np.int8),
            duplicated=frozen(self.duplicated, np.bool_),
            split_start=frozen(self.split_start, np.int32),
            split_end=frozen(self.split_end, np.int32),
            names=self.names,
            split_distance_dm=frozen(np.round(np.asarray(self.split_distance_m) * 10.0), np.int32),
            split_moving_time_s=frozen(self.split_moving_time_s, np.int32),
            split_elapsed_time_s=frozen(self.split_elapsed_time_s, np.int32),
            split_heartrate_tenths=frozen(np.round(np.asarray(self.split_heartrate) * 10.0), np.int16),
            split_elevation_dm=frozen(np.round(np.asarray(self.split_elevation_m) * 10.0), np.int16),
            split_pace_zone=frozen(self.split_pace_zone, np.int8),
        )


def _steady_hrr(flat_speed: float, threshold_speed: float) -> float:
    """Steady-state fraction of heart-rate reserve at a flat speed, from its ratio to threshold."""
    return _clip(_HRR_AT_THRESHOLD + _HRR_SLOPE * (flat_speed / threshold_speed - 1.0), 0.3, 0.99)


def _pace_zone(speed: float, threshold_speed: float) -> int:
    ratio = speed / threshold_speed
    return 1 if ratio < 0.78 else 2 if ratio < 0.88 else 3 if ratio < 0.95 else 4 if ratio < 1.03 else 5


def _default_run_name(hour: float, portuguese: bool) -> str:
    if portuguese:
        if 5 <= hour < 11:
            return "Corrida matinal"
        if 11 <= hour < 14:
            return "Corrida na hora do almoço"
        if 14 <= hour < 18:
            return "Corrida vespertina"
        return "Corrida noturna"
    if 5 <= hour < 11:
        return "Morning Run"
    if 11 <= hour < 14:
        return "Lunch Run"
    if 14 <= hour < 17:
        return "Afternoon Run"
    if 17 <= hour < 21:
        return "Evening Run"
    return "Night Run"


def _default_name(sport: int, hour: float, portuguese: bool) -> str:
    if sport == SPORT_RUN:
        return _default_run_name(hour, portuguese)
    period_en = ("Morning" if 5 <= hour < 11 else "Lunch" if hour < 14 else "Afternoon" if hour < 17
                 else "Evening")
    if portuguese:
        period_pt = ("matinal" if 5 <= hour < 11 else "na hora do almoço" if hour < 14
                     else "vespertina" if hour < 18 else "noturna")
        base = {SPORT_RIDE: "Pedalada", SPORT_SWIM: "Natação", SPORT_WEIGHTS: "Treino de musculação",
                SPORT_WALK: "Caminhada"}[sport]
        return f"{base} {period_pt}"
    base = {SPORT_RIDE: "Ride", SPORT_SWIM: "Swim", SPORT_WEIGHTS: "Weight Training", SPORT_WALK: "Walk"}[sport]
    return f"{period_en} {base}"


_RACE_NAMES_PT: dict[str, tuple[str, ...]] = {
    "5k": ("Circuito das Estações 5K", "Corrida do Parque Villa-Lobos 5K", "Track&Field Run Series 5K",
           "Corrida Noturna Ibirapuera 5K", "Corrida da Ponte 5K"),
    "10k": ("Circuito das Estações 10K", "Corrida Pão de Açúcar 10K", "10K Corpore", "Night Run 10K",
            "Corrida Tiradentes 10K"),
    "21k": ("Meia Maratona Internacional de São Paulo", "Meia Maratona do Rio", "Meia de Floripa",
            "Golden Four Asics Brasília 21K", "Meia Maratona de Curitiba"),
    "42k": ("Maratona Internacional de São Paulo", "Maratona do Rio", "Maratona de Porto Alegre",
            "Maratona de Floripa", "Buenos Aires Marathon"),
}
_RACE_NAMES_EN: dict[str, tuple[str, ...]] = {
    "5k": ("parkrun", "City 5K", "Spring 5K Race", "Charity Fun Run 5K"),
    "10k": ("City 10K", "Riverside 10K", "10K Race", "Bank Holiday 10K"),
    "21k": ("Half Marathon", "City Half Marathon", "Lisbon Half Marathon", "Royal Parks Half"),
    "42k": ("Marathon", "City Marathon", "Lisbon Marathon", "Berlin Marathon"),
}


def _race_name(key: str, year: int, portuguese: bool, draws: _Draws) -> str:
    base = draws.choice((_RACE_NAMES_PT if portuguese else _RACE_NAMES_EN)[key])
    return f"{base} {year}" if draws.chance(0.5) else base


def _summer_index(day_ordinal: int, timezone: str) -> float:
    """0 in local mid-winter, 1 in local mid-summer (peak mid-January south, mid-July north)."""
    day_of_year = dt.date.fromordinal(day_ordinal).timetuple().tm_yday
    peak = 196 if timezone in _NORTHERN_TIMEZONES else 15
    return 0.5 * (1.0 + math.cos(2.0 * math.pi * (day_of_year - peak) / 365.25))


# --------------------------------------------------------------------------------------------------
# Simulation of one athlete
# --------------------------------------------------------------------------------------------------

# Run days (Monday = 0) by runs per week, long run on day 6 (mirrored when the long run is Saturday).
_RUN_DAY_TEMPLATES: dict[int, tuple[int, ...]] = {
    1: (6,),
    2: (2, 6),
    3: (1, 3, 6),
    4: (1, 3, 5, 6),
    5: (1, 2, 3, 5, 6),
    6: (0, 1, 2, 3, 5, 6),
    7: (0, 1, 2, 3, 4, 5, 6),
}
_QUALITY_DAYS = (1, 3)


@dataclass
class _Session:
    """A planned run: its length for easy/long/race, the week's volume that scales quality sessions."""

    weekday: int
    kind: int
    km: float = 0.0
    race_key: str = ""
    week_km: float = 0.0


class _AthleteSimulation:
    """Runs one athlete week by week; every week's randomness comes from that week's own seed."""

    def __init__(self, config: SimulatorConfig, athlete_index: int) -> None:
        self.config = config
        self.profile = athlete_profile(config, athlete_index)
        self.model = config.fitness
        self.fitness_decay = self.model.fitness_decay
        self.fatigue_decay = self.model.fatigue_decay
        self.series_start = config.simulation_start.toordinal()
        self.history_start = config.history_start.toordinal()
        self.fitness, self.fatigue = self.model.steady_state(self.profile.habitual_daily_load)
        self.true_vdot: list[float] = []
        self.daily_load: list[float] = []
        self.fitness_series: list[float] = []
        self.fatigue_series: list[float] = []
        self.run_km: list[float] = []
        self.columns = _Columns()
        self.races: list[RaceTruth] = []
        self.breaks: list[TrainingBreak] = []
        self.break_start = 0
        self.break_until = 0
        self.break_kind = ""
        self.calendar: list[tuple[int, str]] = []
        self.calendar_years: set[int] = set()
        self.weeks_done = 0

    # ---- latent state -------------------------------------------------------------------------

    def vdot_today(self, day: int) -> float:
        """True VDOT from the Banister state at the start of ``day`` and the long-term trend."""
        profile = self.profile
        years = (day - self.history_start) / 365.25
        habitual = profile.habitual_vdot * (1.0 + profile.vdot_trend_per_year * years)
        return habitual * self.model.relative_vdot(self.fitness, self.fatigue, profile.habitual_daily_load,
                                                   profile.detrained_fraction)

    # ---- calendar -----------------------------------------------------------------------------

    def ensure_calendar(self, through_day: int) -> None:
        year_needed = dt.date.fromordinal(through_day).year
        year = dt.date.fromordinal(self.series_start).year
        while year <= year_needed:
            if year not in self.calendar_years:
                earlier = self.calendar[-20:]
                self.calendar.extend(_race_calendar_for_year(self.config, self.profile, year, earlier))
                self.calendar_years.add(year)
            year += 1

    def races_between(self, first_day: int, end_day: int) -> list[tuple[int, str]]:
        low = bisect.bisect_left(self.calendar, (first_day, ""))
        high = bisect.bisect_left(self.calendar, (end_day, ""))
        return self.calendar[low:high]

    # ---- weeks --------------------------------------------------------------------------------

    def simulate_until(self, end_day: int) -> None:
        while self.series_start + 7 * self.weeks_done < end_day:
            self.simulate_week(self.weeks_done)
            self.weeks_done += 1

    def volume_factor(self, week_start: int, week_index: int) -> tuple[float, str]:
        """Phase of the week and its volume factor (see module docstring)."""
        week_end = week_start + 7
        this_week = self.races_between(week_start, week_end)
        keys_this_week = {key for _day, key in this_week}
        upcoming = self.races_between(week_end, week_start + 7 * 17)
        recent = self.races_between(week_start - 14, week_start)
        factor, phase = (0.8, "base-recovery") if week_index % 4 == 3 else (1.0, "base")
        next_marathon = next((day for day, key in upcoming if key == "42k"), None)
        next_half = next((day for day, key in upcoming if key == "21k"), None)
        if next_marathon is not None:
            weeks_to = (next_marathon - week_start) // 7
            if weeks_to <= 2:
                factor, phase = (0.85 if weeks_to == 2 else 0.7), "taper"
            else:
                factor = 1.0 + 0.25 * (16 - min(weeks_to, 16)) / 13.0
                factor *= 0.85 if weeks_to % 4 == 0 else 1.0
                phase = "marathon-build"
        elif next_half is not None and (next_half - week_start) // 7 <= 10:
            weeks_to = (next_half - week_start) // 7
            if weeks_to <= 1:
                factor, phase = 0.85, "taper"
            else:
                factor, phase = 1.0 + 0.12 * (10 - weeks_to) / 8.0, "half-build"
        if "42k" in keys_this_week:
            factor, phase = 0.45, "race-week"
        elif "21k" in keys_this_week:
            factor, phase = 0.65, "race-week"
        elif keys_this_week:
            factor, phase = min(factor, 0.85), "race-week"
        for day, key in recent:
            days_since = week_start - day
            if key == "42k":
                factor, phase = (0.45 if days_since <= 7 else 0.7), "recovery"
            elif key == "21k" and days_since <= 7:
                factor, phase = min(factor, 0.75), "recovery"
        if self.break_kind == BREAK_INJURY and self.break_until <= week_start:
            weeks_since = (week_start - self.break_until) // 7
            if weeks_since == 0:
                factor, phase = min(factor, 0.65), "return"
            elif weeks_since == 1:
                factor, phase = min(factor, 0.85), "return"
        return factor, phase

    def maybe_start_break(self, week_start: int, draws: _Draws) -> None:
        if self.break_until > week_start:
            return
        if draws.chance(self.config.injury_rate_per_year / 52.0):
            start = week_start + draws.integer(0, 6)
            kind, length = BREAK_INJURY, draws.integer(14, 42)
        elif draws.chance(self.config.illness_rate_per_year / 52.0):
            start = week_start + draws.integer(0, 6)
            kind, length = BREAK_ILLNESS, draws.integer(3, 9)
        else:
            return
        self.break_start, self.break_until, self.break_kind = start, start + length, kind
        self.breaks.append(TrainingBreak(kind, dt.date.fromordinal(start), dt.date.fromordinal(start + length)))

    def plan_week(self, week_start: int, week_index: int, draws: _Draws) -> list[_Session]:
        """The week's runs: template days, minus rest around races, long run, quality, easy fill."""
        profile = self.profile
        factor, phase = self.volume_factor(week_start, week_index)
        weekly_km = profile.weekly_km * factor * math.exp(draws.normal(0.0, 0.08))
        runs = profile.runs_per_week + (-1 if draws.chance(0.15) else 1 if draws.chance(0.1) else 0)
        if factor < 0.7:
            runs -= 1
        runs = int(_clip(runs, 1, 7))
        long_day = profile.long_run_weekday
        template = _RUN_DAY_TEMPLATES[runs]
        if long_day == 5:
            template = tuple(sorted(5 if day == 6 else 6 if day == 5 else day for day in template))
        days = set(template)
        if runs < 7 and draws.chance(0.2):
            movable = [day for day in days if day != long_day]
            if movable:
                moved = draws.choice(sorted(movable))
                target = moved + (1 if draws.chance(0.5) else -1)
                if 0 <= target <= 6 and target not in days:
                    days.discard(moved)
                    days.add(target)

        races = self.races_between(week_start, week_start + 7)
        race_days = {day - week_start: key for day, key in races}
        longest_race = max((STANDARD_DISTANCES_M[key] for key in race_days.values()), default=0.0)
        sessions: list[_Session] = []
        for weekday, key in race_days.items():
            days.discard(weekday)
            days.discard(weekday - 1)  # rest the day before a race
            if longest_race >= 21000.0:
                days.discard(weekday + 1)
            sessions.append(_Session(weekday, KIND_RACE, STANDARD_DISTANCES_M[key] / 1000.0, key))

        has_long = long_day in days and not (longest_race >= 10000.0 or (
            race_days and min(abs(long_day - weekday) for weekday in race_days) <= 1))
        quality_wanted = 0 if race_days else (2 if phase in ("marathon-build", "half-build") and runs >= 4
                                               else 1 if runs >= 3 and phase != "recovery" else 0)
        if phase == "taper":
            quality_wanted = min(quality_wanted, 1)
        quality_days = [day for day in _QUALITY_DAYS if day in days][:quality_wanted]

        long_share = 0.35 if runs <= 3 else 0.25 if runs >= 6 else 0.3
        long_cap = 33.0 if phase == "marathon-build" else 21.0 if phase == "half-build" else 22.0
        remaining = weekly_km
        if has_long:
            long_km = _clip(weekly_km * long_share * math.exp(draws.normal(0.0, 0.08)), 8.0, long_cap)
            sessions.append(_Session(long_day, KIND_LONG, long_km))
            remaining -= long_km
        for index, day in enumerate(quality_days):
            tempo_first = (week_index + index) % 2 == 0
            kind = KIND_TEMPO if tempo_first else KIND_INTERVALS
            sessions.append(_Session(day, kind, _quality_total_km(kind, weekly_km, _warmup_km(profile)),
                                     week_km=weekly_km))
            remaining -= sessions[-1].km
        easy_days = sorted(day for day in days if day not in quality_days and not (has_long and day == long_day))
        if easy_days:
            per_run = max(3.0, remaining / len(easy_days))
            for day in easy_days:
                sessions.append(_Session(day, KIND_EASY, _clip(per_run * math.exp(draws.normal(0.0, 0.15)), 3.0, 20.0)))
        sessions = [session for session in sessions if session.kind == KIND_RACE or not draws.chance(0.06)]
        sessions.sort(key=lambda session: session.weekday)
        return sessions

    def simulate_week(self, week_index: int) -> None:
        config, profile = self.config, self.profile
        week_start = self.series_start + 7 * week_index
        draws = _Draws(_generator(config, profile.athlete_index, _STREAM_WEEK, week_index))
        self.ensure_calendar(week_start + 7 * 18)
        self.maybe_start_break(week_start, draws)
        sessions = self.plan_week(week_start, week_index, draws)
        cross_sessions: list[tuple[int, int]] = []
        for sport, rate in zip(CROSS_SPORTS, profile.cross_training_per_week):
            if rate > 0.0:
                for _ in range(min(3, draws.poisson(rate))):
                    cross_sessions.append((draws.integer(0, 6), sport))
        cross_sessions.sort()
        perceived_factor = 1.0 + profile.pace_bias

        for weekday in range(7):
            day = week_start + weekday
            vdot = self.vdot_today(day)
            self.true_vdot.append(vdot)
            in_break = self.break_start <= day < self.break_until
            ill = in_break and self.break_kind == BREAK_ILLNESS
            injured = in_break and self.break_kind == BREAK_INJURY
            load = 0.0
            km = 0.0
            slot = 0
            day_hrr_offset = draws.normal(0.0, 0.02) + 0.02 * _summer_index(day, profile.timezone)
            perceived_vdot = vdot * perceived_factor * math.exp(draws.normal(0.0, 0.015))
            if not in_break:
                for session in sessions:
                    if session.weekday != weekday:
                        continue
                    if session.kind == KIND_RACE:
                        run_load, run_km = self.add_race(day, slot, session.race_key, vdot, day_hrr_offset, draws)
                    else:
                        run_load, run_km = self.add_training_run(day, slot, session, vdot, perceived_vdot,
                                                                 day_hrr_offset, draws)
                    load += run_load
                    km += run_km
                    slot += 1
            if not ill:
                for cross_day, sport in cross_sessions:
                    if cross_day == weekday and (sport != SPORT_WEIGHTS or not injured or draws.chance(0.5)):
                        load += self.add_cross_training(day, slot, sport, slot > 0, day_hrr_offset, draws)
                        slot += 1
            self.fitness = self.fitness * self.fitness_decay + load
            self.fatigue = self.fatigue * self.fatigue_decay + load
            self.daily_load.append(load)
            self.fitness_series.append(self.fitness)
            self.fatigue_series.append(self.fatigue)
            self.run_km.append(km)

    # ---- activities ---------------------------------------------------------------------------

    def activity_id(self, day: int, slot: int) -> int:
        return ((day - _EPOCH_ORDINAL) * _MAX_ATHLETES + self.profile.athlete_index) * _SLOTS_PER_DAY + slot

    def heart_rate_recorded(self, sport: int, draws: _Draws) -> bool:
        if not self.profile.records_heartrate:
            return False
        if sport == SPORT_SWIM and draws.chance(0.5):
            return False
        return not draws.chance(self.config.hr_dropout_rate)

    def start_seconds(self, kind: int, weekday_is_weekend: bool, draws: _Draws) -> int:
        if kind == KIND_RACE:
            hour = draws.uniform(6.5, 8.0)
        elif kind == KIND_LONG or (weekday_is_weekend and self.profile.preferred_start_hour > 12):
            hour = draws.uniform(6.0, 8.0)
        else:
            hour = self.profile.preferred_start_hour + draws.normal(0.0, 0.6)
        return int(_clip(hour, 4.5, 21.5) * 3600.0)

    def add_training_run(self, day: int, slot: int, session: _Session, vdot: float, perceived_vdot: float,
                         day_hrr_offset: float, draws: _Draws) -> tuple[float, float]:
        profile = self.profile
        threshold = _speed_at_vdot_fraction(vdot, _THRESHOLD_FRACTION)
        easy_fraction = profile.easy_intensity * math.exp(draws.normal(0.0, 0.03))
        easy_speed = _speed_at_vdot_fraction(perceived_vdot, easy_fraction)
        warmup_km = _warmup_km(profile)
        segments: list[tuple[float, float]] = []  # (distance m, flat speed m/s)
        name_detail = ""
        if session.kind == KIND_EASY:
            segments.append((session.km * 1000.0, easy_speed))
        elif session.kind == KIND_LONG:
            long_speed = _speed_at_vdot_fraction(perceived_vdot, easy_fraction - 0.01)
            segments.append((session.km * 1000.0, long_speed))
            name_detail = f"{session.km:.0f} km"
        elif session.kind == KIND_TEMPO:
            main_km = _tempo_km(session.week_km)
            tempo_fraction = _THRESHOLD_FRACTION * math.exp(draws.normal(0.0, 0.015))
            tempo_speed = _speed_at_vdot_fraction(perceived_vdot, tempo_fraction)
            segments += [(warmup_km * 1000.0, easy_speed), (main_km * 1000.0, tempo_speed),
                         (1500.0, easy_speed)]
            name_detail = f"{main_km:.0f} km"
        else:
            rep_m = draws.choice((400.0, 800.0, 1000.0, 1200.0, 1600.0))
            work_km = _interval_work_km(session.week_km)
            reps = max(3, int(round(work_km * 1000.0 / rep_m)))
            rep_speed = _speed_at_vdot_fraction(perceived_vdot, draws.uniform(0.96, 1.0))
            jog_speed = _speed_at_vdot_fraction(perceived_vdot, 0.55)
            segments.append((warmup_km * 1000.0, easy_speed))
            for rep in range(reps):
                segments.append((rep_m, rep_speed))
                if rep < reps - 1:
                    segments.append((rep_m / 2.0, jog_speed))
            segments.append((1500.0, easy_speed))
            name_detail = f"{reps}x{rep_m:.0f}m"
        hill_gain_per_km = profile.hilliness_m_per_km * math.exp(draws.normal(0.0, 0.35))
        hill_factor = 1.0 / (1.0 + _HILL_SLOWDOWN_PER_M_PER_KM * hill_gain_per_km)
        load = sum(distance / speed / 3600.0 * (speed / threshold) ** 2 * 100.0 for distance, speed in segments)
        start_s = self.start_seconds(session.kind, (day - self.series_start) % 7 >= 5, draws)
        name = _default_run_name(start_s / 3600.0, profile.portuguese_names)
        if session.kind != KIND_EASY and draws.chance(profile.renames_workouts):
            name = _training_name(session.kind, name_detail, profile.portuguese_names)
        workout_type = 0
        if session.kind == KIND_LONG and profile.tags_long_runs:
            workout_type = 2
        elif session.kind in (KIND_TEMPO, KIND_INTERVALS) and profile.tags_workouts:
            workout_type = 3
        self.add_run(day, slot, start_s, session.kind, workout_type, name, segments, hill_factor,
                     hill_gain_per_km, threshold, day_hrr_offset, draws, load, pauses=True)
        return load, sum(distance for distance, _ in segments) / 1000.0

    def add_race(self, day: int, slot: int, key: str, vdot: float, day_hrr_offset: float,
                 draws: _Draws) -> tuple[float, float]:
        profile = self.profile
        nominal = STANDARD_DISTANCES_M[key]
        ideal = vdot_race_time(vdot, nominal)
        noise = math.exp(draws.normal(0.0, self.config.race_noise_sigma))
        course = abs(draws.normal(0.0, 0.012))
        long_race = nominal > 20000.0
        weather = draws.uniform(0.0, 0.03) * _summer_index(day, profile.timezone) * (1.5 if long_race else 1.0)
        first_recent = max(0, len(self.run_km) - 42)
        recent_weekly_km = sum(self.run_km[first_recent:]) / max(1, len(self.run_km) - first_recent) * 7.0
        if key == "42k":
            endurance = 0.08 * max(0.0, 1.0 - recent_weekly_km / 65.0)
        elif key == "21k":
            endurance = 0.03 * max(0.0, 1.0 - recent_weekly_km / 45.0)
        else:
            endurance = 0.0
        race_time = ideal * noise * (1.0 + course + weather + endurance)
        gps_distance = nominal * math.exp(draws.normal(0.007, 0.006))
        threshold = _speed_at_vdot_fraction(vdot, _THRESHOLD_FRACTION)
        effort_speed = nominal / (ideal * noise)  # what the body did, before course and weather
        race_speed = gps_distance / race_time
        load = race_time / 3600.0 * (effort_speed / threshold) ** 2 * 100.0
        start_s = self.start_seconds(KIND_RACE, True, draws)
        name = _race_name(key, dt.date.fromordinal(day).year, profile.portuguese_names, draws)
        activity_id = self.activity_id(day, slot)
        # Race: the whole course as one segment at the race speed; its HR reflects the effort speed.
        self.add_run(day, slot, start_s, KIND_RACE, 1, name, [(gps_distance, effort_speed)],
                     race_speed / effort_speed, _clip(profile.hilliness_m_per_km * 0.6, 1.0, 15.0),
                     threshold, day_hrr_offset, draws, load, pauses=False, exact_moving_time=race_time)
        self.races.append(RaceTruth(
            activity_id=activity_id, date=dt.date.fromordinal(day), distance_key=key,
            nominal_distance_m=nominal, true_vdot=vdot, ideal_time_s=ideal, time_s=race_time,
            noise_factor=noise, course_penalty=course, weather_penalty=weather, endurance_penalty=endurance))
        return load, gps_distance / 1000.0

    def add_run(self, day: int, slot: int, start_s: int, kind: int, workout_type: int, name: str,
                segments: list[tuple[float, float]], speed_factor: float,
                gain_per_km: float, threshold: float, day_hrr_offset: float, draws: _Draws, load: float,
                pauses: bool, exact_moving_time: float | None = None) -> None:
        """Lay the run out in per-km splits and store it; summary fields are derived from the splits."""
        profile, columns = self.profile, self.columns
        hrr_offset = profile.hr_reserve_offset + day_hrr_offset
        # Per segment: actual speed and steady HRR; jog recoveries keep part of the previous rep's HR.
        actual: list[tuple[float, float, float]] = []
        previous_hrr = 0.0
        for distance, flat_speed in segments:
            hrr = _steady_hrr(flat_speed, threshold)
            if kind == KIND_INTERVALS and hrr < previous_hrr:
                hrr = 0.7 * previous_hrr + 0.3 * hrr
            actual.append((distance, flat_speed * speed_factor, hrr))
            previous_hrr = hrr
        total_distance = sum(segment[0] for segment in actual)
        split_lengths = [1000.0] * int(total_distance // 1000.0)
        last = total_distance - 1000.0 * len(split_lengths)
        if last >= _MIN_LAST_SPLIT_M or not split_lengths:
            split_lengths.append(last)
        else:  # a few metres past the last kilometre: part of it, so no split lasts 0 s
            split_lengths[-1] += last
        split_count = len(split_lengths)
        time_noise, hr_noise, elevation_noise = (draws.normals(split_count), draws.normals(split_count),
                                                 draws.normals(split_count))
        base_times, base_hrr = _split_base_profile(actual, split_lengths)
        split_times: list[float] = []
        split_hrr: list[float] = []
        elapsed = 0.0
        for index, (base_time, hrr) in enumerate(zip(base_times, base_hrr)):
            time_in = base_time * math.exp(0.012 * time_noise[index])
            drift = _HR_DRIFT_PER_HOUR * (elapsed + time_in / 2.0) / 3600.0
            warmup = -0.05 if index == 0 else 0.0
            split_hrr.append(hrr + drift + warmup + hrr_offset + 0.008 * hr_noise[index])
            split_times.append(time_in)
            elapsed += time_in
        if exact_moving_time is not None:
            scale = exact_moving_time / elapsed
            split_times = [time * scale for time in split_times]
        moving_times = _round_preserving_total(split_times)
        moving_time = sum(moving_times)
        pause_total = int(moving_time * draws.uniform(0.0, 0.06)) if pauses else draws.integer(0, 20)
        elapsed_times = list(moving_times)
        if pause_total:
            elapsed_times[draws.integer(0, len(elapsed_times) - 1)] += pause_total
        recorded_hr = self.heart_rate_recorded(SPORT_RUN, draws)
        hr_span = profile.hr_max - profile.hr_rest
        split_hr = [profile.hr_rest + hr_span * _clip(hrr, 0.2, 1.0) for hrr in split_hrr]
        elevation_scale = gain_per_km * 0.9 / 1000.0
        elevation = [noise * elevation_scale * length for noise, length in zip(elevation_noise, split_lengths)]
        mean_elevation = sum(elevation) / len(elevation)
        elevation = [value - mean_elevation for value in elevation]  # loop courses: back where we started
        gain = sum(value for value in elevation if value > 0) * draws.uniform(1.1, 1.4)
        average_hr = sum(hr * time for hr, time in zip(split_hr, moving_times)) / max(1, moving_time)
        top_split_hr = max(split_hr)
        max_hr = int(round(min(profile.hr_max, top_split_hr + draws.uniform(3.0, 10.0))))
        if kind == KIND_RACE and total_distance < 12000.0:
            max_hr = int(round(max(max_hr, profile.hr_max - draws.uniform(0.0, 4.0))))
        split_speeds = [length / max(1, time) for length, time in zip(split_lengths, moving_times)]
        max_speed = max(split_speeds) * draws.uniform(1.1, 1.35)

        columns.split_start.append(len(columns.split_distance_m))
        columns.split_distance_m.extend(split_lengths)
        columns.split_moving_time_s.extend(moving_times)
        columns.split_elapsed_time_s.extend(elapsed_times)
        columns.split_heartrate.extend(split_hr if recorded_hr else [0.0] * len(split_hr))
        columns.split_elevation_m.extend(elevation)
        columns.split_pace_zone.extend(_pace_zone(speed, threshold) for speed in split_speeds)
        columns.split_end.append(len(columns.split_distance_m))
        broken = BROKEN_NONE
        if draws.chance(self.config.broken_rate):
            kinds = [_BROKEN_NEGATIVE_DISTANCE, _BROKEN_ZERO_DISTANCE, _BROKEN_MISSING_MOVING_TIME]
            if recorded_hr:  # a 300 bpm reading needs a heart-rate record to corrupt
                kinds.append(_BROKEN_HEARTRATE_300)
            broken = draws.choice(kinds)
        self.append_row(day, slot, start_s, SPORT_RUN, kind, workout_type, name, total_distance, moving_time,
                        sum(elapsed_times), gain, max_speed, recorded_hr, average_hr, max_hr, load, broken, draws)

    def add_cross_training(self, day: int, slot: int, sport: int, after_run: bool, day_hrr_offset: float,
                           draws: _Draws) -> float:
        profile = self.profile
        if sport == SPORT_RIDE:
            hours = draws.uniform(0.75, 3.0)
            speed = draws.uniform(22.0, 30.0) / 3.6
            distance, gain, hrr = speed * hours * 3600.0, hours * draws.uniform(100.0, 500.0), draws.uniform(0.5, 0.65)
        elif sport == SPORT_SWIM:
            distance = draws.uniform(1000.0, 3000.0)
            hours = distance / 100.0 * draws.uniform(1.7, 2.5) / 60.0
            gain, hrr = 0.0, draws.uniform(0.5, 0.7)
        elif sport == SPORT_WEIGHTS:
            hours = draws.uniform(0.5, 1.1)
            distance, gain, hrr = 0.0, 0.0, draws.uniform(0.3, 0.45)
        else:
            distance = draws.uniform(3000.0, 8000.0)
            hours = distance / draws.uniform(1.25, 1.5) / 3600.0
            gain, hrr = distance / 1000.0 * draws.uniform(2.0, 12.0), draws.uniform(0.25, 0.4)
        moving_time = int(round(hours * 3600.0))
        elapsed_time = moving_time + int(moving_time * draws.uniform(0.0, 0.1))
        hour = draws.uniform(12.0, 13.5) if after_run and profile.preferred_start_hour < 12 else (
            draws.uniform(6.0, 9.0) if after_run else draws.uniform(7.0, 19.0))
        recorded_hr = self.heart_rate_recorded(sport, draws)
        average_hr = profile.hr_rest + (profile.hr_max - profile.hr_rest) * _clip(
            hrr + profile.hr_reserve_offset + day_hrr_offset, 0.15, 0.95)
        max_hr = int(round(min(profile.hr_max, average_hr + draws.uniform(10.0, 25.0))))
        speed_max = distance / max(1, moving_time) * draws.uniform(1.3, 2.0)
        load = hours * _CROSS_LOAD_PER_HOUR[sport]
        self.columns.split_start.append(len(self.columns.split_distance_m))
        self.columns.split_end.append(len(self.columns.split_distance_m))
        self.append_row(day, slot, int(hour * 3600.0), sport, KIND_CROSS, -1,
                        _default_name(sport, hour, profile.portuguese_names), distance, moving_time,
                        elapsed_time, gain, speed_max, recorded_hr, average_hr, max_hr, load, BROKEN_NONE, draws)
        return load

    def append_row(self, day: int, slot: int, start_s: int, sport: int, kind: int, workout_type: int, name: str,
                   distance: float, moving_time: int, elapsed_time: int, gain: float, max_speed: float,
                   recorded_hr: bool, average_hr: float, max_hr: int, load: float, broken: int,
                   draws: _Draws) -> None:
        columns = self.columns
        columns.activity_id.append(self.activity_id(day, slot))
        columns.day.append(day)
        columns.start_local_s.append(start_s)
        columns.sport.append(sport)
        columns.kind.append(kind)
        columns.workout_type.append(workout_type)
        columns.names.append(name)
        columns.distance_m.append(distance)
        columns.moving_time_s.append(moving_time)
        columns.elapsed_time_s.append(elapsed_time)
        columns.elevation_gain_m.append(gain)
        columns.max_speed.append(max_speed)
        columns.has_heartrate.append(recorded_hr)
        columns.average_heartrate.append(average_hr if recorded_hr else math.nan)
        columns.max_heartrate.append(max_hr if recorded_hr else 0)
        columns.true_load.append(load)
        columns.broken_kind.append(broken)
        columns.duplicated.append(draws.chance(self.config.duplicate_rate))

    def result(self, end_day: int) -> SimulatedAthlete:
        days = end_day - self.series_start

        def frozen(values: list[float]) -> np.ndarray:
            array = np.asarray(values[:days], dtype=np.float64)
            array.setflags(write=False)
            return array

        table = self.columns.to_table()
        return SimulatedAthlete(
            profile=self.profile,
            series_start=dt.date.fromordinal(self.series_start),
            true_vdot=frozen(self.true_vdot),
            daily_load=frozen(self.daily_load),
            fitness=frozen(self.fitness_series),
            fatigue=frozen(self.fatigue_series),
            activities=_truncate_table(table, end_day),
            races=[race for race in self.races if race.date.toordinal() < end_day],
            breaks=[pause for pause in self.breaks if pause.start.toordinal() < end_day],
        )


def _warmup_km(profile: AthleteProfile) -> float:
    return 1.5 if profile.weekly_km < 30 else 2.0


def _tempo_km(weekly_km: float) -> float:
    """Length of the threshold block of a tempo run, scaled to the week."""
    return _clip(0.12 * weekly_km, 3.0, 12.0)


def _interval_work_km(weekly_km: float) -> float:
    """Total length of the fast repeats of an interval session, scaled to the week."""
    return _clip(0.09 * weekly_km, 2.4, 10.0)


def _quality_total_km(kind: int, weekly_km: float, warmup_km: float) -> float:
    """Whole distance of a quality session (warm-up, main block with jog recoveries, 1.5 km cool-down)."""
    main = _tempo_km(weekly_km) if kind == KIND_TEMPO else 1.5 * _interval_work_km(weekly_km)
    return warmup_km + main + 1.5


def _training_name(kind: int, detail: str, portuguese: bool) -> str:
    if kind == KIND_LONG:
        return f"Longão {detail}" if portuguese else f"Long run {detail}"
    if kind == KIND_TEMPO:
        return f"Limiar {detail}" if portuguese else f"Tempo {detail}"
    return f"Intervalado {detail}" if portuguese else f"Intervals {detail}"


def _split_base_profile(segments: list[tuple[float, float, float]],
                        split_lengths: list[float]) -> tuple[list[float], list[float]]:
    """Time and time-weighted steady HRR of each split, walking the (distance, speed, HRR) segments."""
    if len(segments) == 1:  # easy runs, long runs, races: one pace throughout
        _distance, speed, hrr = segments[0]
        return [length / speed for length in split_lengths], [hrr] * len(split_lengths)
    times: list[float] = []
    hrrs: list[float] = []
    segment_index, segment_left = 0, segments[0][0]
    last_segment = len(segments) - 1
    for length in split_lengths:
        needed, time_in, hrr_time = length, 0.0, 0.0
        while needed > 1e-9:
            take = min(needed, segment_left)
            _distance, speed, hrr = segments[segment_index]
            time_in += take / speed
            hrr_time += take / speed * hrr
            needed -= take
            segment_left -= take
            if segment_left <= 1e-9:
                if segment_index == last_segment:
                    break
                segment_index += 1
                segment_left = segments[segment_index][0]
        times.append(time_in)
        hrrs.append(hrr_time / time_in)
    return times, hrrs


def _round_preserving_total(values: list[float]) -> list[int]:
    """Integer seconds per split whose sum is the rounded total (as Strava's splits add up)."""
    rounded: list[int] = []
    cumulative, cumulative_rounded = 0.0, 0
    for value in values:
        cumulative += value
        whole = max(1, int(round(cumulative)) - cumulative_rounded)
        rounded.append(whole)
        cumulative_rounded += whole
    return rounded


def _truncate_table(table: ActivityTable, end_day: int) -> ActivityTable:
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


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def simulate_athlete(config: SimulatorConfig, athlete_index: int, until: dt.date) -> SimulatedAthlete:
    """Athlete ``athlete_index`` simulated from the burn-in start up to ``until`` (exclusive)."""
    if not 0 <= athlete_index < config.n_athletes:
        raise ValueError(f"athlete_index must be in 0..{config.n_athletes - 1}, got {athlete_index}")
    simulation = _AthleteSimulation(config, athlete_index)
    end_day = max(until.toordinal(), simulation.series_start)
    simulation.simulate_until(end_day)
    return simulation.result(end_day)


def simulate_population(config: SimulatorConfig, until: dt.date, processes: int = 1) -> tuple[SimulatedAthlete, ...]:
    """All athletes up to ``until`` (exclusive), served from a per-process cache when possible.

    ``processes > 1`` simulates athletes in that many worker processes (the result is identical:
    athletes are independent); worth it from a few hundred athletes on.
    """
    return _POPULATION_CACHE.get(config, until, processes)


def _simulate_athlete_batch(config: SimulatorConfig, indices: range, until: dt.date) -> list[SimulatedAthlete]:
    """Worker-process entry point: a contiguous batch keeps pickling overhead low."""
    return [simulate_athlete(config, index, until) for index in indices]


def _simulate_all(config: SimulatorConfig, until: dt.date, processes: int) -> tuple[SimulatedAthlete, ...]:
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
        self._entries: OrderedDict[SimulatorConfig, tuple[dt.date, tuple[SimulatedAthlete, ...]]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, config: SimulatorConfig, until: dt.date, processes: int = 1) -> tuple[SimulatedAthlete, ...]:
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


@lru_cache(maxsize=8192)
def _utc_offset_seconds(timezone: str, day_ordinal: int, hour: int) -> int:
    local = dt.datetime.combine(dt.date.fromordinal(day_ordinal), dt.time(hour), ZoneInfo(timezone))
    offset = local.utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@lru_cache(maxsize=64)
def strava_timezone_label(timezone: str, year: int = 2024) -> str:
    """Strava's "(GMT-03:00) America/Sao_Paulo": the zone's standard (non-DST) offset."""
    zone = ZoneInfo(timezone)
    offsets = []
    for month in (1, 7):
        offset = dt.datetime(year, month, 1, 12, tzinfo=zone).utcoffset()
        assert offset is not None
        offsets.append(int(offset.total_seconds()))
    standard = min(offsets)
    sign = "+" if standard >= 0 else "-"
    hours, minutes = divmod(abs(standard) // 60, 60)
    return f"(GMT{sign}{hours:02d}:{minutes:02d}) {timezone}"


def _format_timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def activity_record(athlete: SimulatedAthlete, row: int) -> dict:
    """The Strava-shaped dict of row ``row`` of the athlete's activity table (corruption applied)."""
    table, profile = athlete.activities, athlete.profile
    day = int(table.day[row])
    start_s = int(table.start_local_s[row])
    local_start = dt.datetime.combine(dt.date.fromordinal(day), dt.time()) + dt.timedelta(seconds=start_s)
    utc_offset = _utc_offset_seconds(profile.timezone, day, start_s // 3600)
    utc_start = local_start - dt.timedelta(seconds=utc_offset)
    sport = int(table.sport[row])
    sport_name = SPORT_NAMES[sport]
    distance = round(float(table.distance_m[row]), 1)
    moving_time = int(table.moving_time_s[row])
    has_hr = bool(table.has_heartrate[row])
    record: dict = {
        "resource_state": 2,
        "id": int(table.activity_id[row]),
        "athlete": {"id": profile.athlete_id, "resource_state": 1},
        "name": table.names[row],
        "type": sport_name,
        "sport_type": sport_name,
        "start_date": _format_timestamp(utc_start),
        "start_date_local": _format_timestamp(local_start),
        "timezone": strava_timezone_label(profile.timezone),
        "utc_offset": float(utc_offset),
        "distance": distance,
        "moving_time": moving_time,
        "elapsed_time": int(table.elapsed_time_s[row]),
        "total_elevation_gain": round(float(table.elevation_gain_m[row]), 1),
        "average_speed": round(distance / moving_time, 3) if moving_time else 0.0,
        "max_speed": round(float(table.max_speed[row]), 2),
        "has_heartrate": has_hr,
        "manual": False,
        "trainer": False,
        "commute": False,
    }
    if sport == SPORT_RUN:
        record["workout_type"] = int(table.workout_type[row])
    if has_hr:
        record["average_heartrate"] = round(float(table.average_heartrate[row]), 1)
        record["max_heartrate"] = float(table.max_heartrate[row])
    if sport == SPORT_RUN:
        record["splits_metric"] = _splits_metric(table, row, has_hr)
    broken = int(table.broken_kind[row])
    if broken == _BROKEN_NEGATIVE_DISTANCE:
        record["distance"] = -distance
    elif broken == _BROKEN_ZERO_DISTANCE:
        record["distance"] = 0.0
        record["average_speed"] = 0.0
    elif broken == _BROKEN_MISSING_MOVING_TIME:
        del record["moving_time"]
    elif broken == _BROKEN_HEARTRATE_300:
        record["average_heartrate"] = 300.0
        record["max_heartrate"] = 300.0
    return record


def _splits_metric(table: ActivityTable, row: int, has_hr: bool) -> list[dict]:
    first, end = int(table.split_start[row]), int(table.split_end[row])
    distances = table.split_distance_dm[first:end] / 10.0
    moving = table.split_moving_time_s[first:end]
    speeds = np.round(distances / moving, 2).tolist()
    splits = [
        {
            "distance": distance,
            "elapsed_time": elapsed,
            "elevation_difference": elevation,
            "moving_time": moving_time,
            "split": index + 1,
            "average_speed": speed,
            "pace_zone": zone,
        }
        for index, (distance, elapsed, elevation, moving_time, speed, zone) in enumerate(zip(
            distances.tolist(), table.split_elapsed_time_s[first:end].tolist(),
            (table.split_elevation_dm[first:end] / 10.0).tolist(), moving.tolist(), speeds,
            table.split_pace_zone[first:end].tolist()))
    ]
    if has_hr:
        for split, value in zip(splits, (table.split_heartrate_tenths[first:end] / 10.0).tolist()):
            split["average_heartrate"] = value
    return splits


def athlete_records(athlete: SimulatedAthlete, start: dt.date, end: dt.date,
                    history_start: dt.date) -> list[tuple[int, dt.date, dict]]:
    """(athlete id, local date, activity dict) for the athlete's activities in ``[start, end)``.

    Nothing before ``history_start`` is emitted (the burn-in only builds the latent state);
    duplicated activities appear twice, back to back.
    """
    first_day = max(start, history_start).toordinal()
    table = athlete.activities
    low = int(np.searchsorted(table.day, first_day, side="left"))
    high = int(np.searchsorted(table.day, end.toordinal(), side="left"))
    output: list[tuple[int, dt.date, dict]] = []
    athlete_id = athlete.profile.athlete_id
    for row in range(low, high):
        local_date = dt.date.fromordinal(int(table.day[row]))
        output.append((athlete_id, local_date, activity_record(athlete, row)))
        if table.duplicated[row]:
            output.append((athlete_id, local_date, activity_record(athlete, row)))
    return output


def iter_simulated_activities(config: SimulatorConfig, start: dt.date, end: dt.date,
                              processes: int = 1) -> Iterator[tuple[int, dt.date, dict]]:
    """Like :func:`simulate_activities` but athlete by athlete (not sorted by date), so the dicts of
    a huge window need not all sit in memory at once."""
    if end <= start:
        return
    for athlete in simulate_population(config, end, processes):
        yield from athlete_records(athlete, start, end, config.history_start)


def simulate_activities(config: SimulatorConfig, start: dt.date, end: dt.date,
                        processes: int = 1) -> list[tuple[int, dt.date, dict]]:
    """All records whose local date is in ``[start, end)``, ordered by date, athlete, activity id.

    Deterministic: the same config gives the same records whether the window is asked in one go
    or in pieces, and whatever ``processes`` is.
    """
    records = list(iter_simulated_activities(config, start, end, processes))
    records.sort(key=lambda item: (item[1], item[0], item[2]["id"]))
    return records
