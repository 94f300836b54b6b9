"""What the simulation depends on: its configuration, the latent-fitness model and the codes it uses.

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
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

# Codes of the compact activity table (``truth.ActivityTable``).
SPORT_RUN, SPORT_RIDE, SPORT_SWIM, SPORT_WEIGHTS, SPORT_WALK = range(5)
SPORT_NAMES: tuple[str, ...] = ("Run", "Ride", "Swim", "WeightTraining", "Walk")
CROSS_SPORTS: tuple[int, ...] = (SPORT_RIDE, SPORT_SWIM, SPORT_WEIGHTS, SPORT_WALK)

KIND_EASY, KIND_LONG, KIND_TEMPO, KIND_INTERVALS, KIND_RACE, KIND_CROSS = range(6)
KIND_NAMES: tuple[str, ...] = ("easy", "long", "tempo", "intervals", "race", "cross")

BROKEN_NONE = 0
BROKEN_KINDS: tuple[str, ...] = ("negative_distance", "zero_distance", "missing_moving_time", "heartrate_300")
BROKEN_NEGATIVE_DISTANCE, BROKEN_ZERO_DISTANCE, BROKEN_MISSING_MOVING_TIME, BROKEN_HEARTRATE_300 = 1, 2, 3, 4

BREAK_ILLNESS = "illness"
BREAK_INJURY = "injury"

MAX_ATHLETES = 1_000_000


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
class SimulatorParams:
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
        if not 0 < self.n_athletes <= MAX_ATHLETES:
            raise ValueError(f"n_athletes must be in 1..{MAX_ATHLETES}, got {self.n_athletes}")
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
