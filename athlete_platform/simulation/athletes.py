"""Simulated athletes: their stable traits and the physiology that turns fitness into pace and heart rate.

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
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from athlete_platform.domain.race_baselines import sustainable_vo2max_fraction, velocity_for_oxygen_cost
from athlete_platform.simulation.config import (
    CROSS_SPORTS,
    SPORT_RIDE,
    SPORT_SWIM,
    SPORT_WALK,
    SPORT_WEIGHTS,
    SimulatorParams,
)
from athlete_platform.simulation.draws import STREAM_PROFILE, Draws, stream_generator

THRESHOLD_FRACTION = sustainable_vo2max_fraction(60.0)  # 60-minute race intensity, ~0.888 of VDOT
_HRR_AT_THRESHOLD = 0.88
_HRR_SLOPE = 1.2
# Running-equivalent load per hour of cross-training (how much it feeds running fitness).
CROSS_LOAD_PER_HOUR = {SPORT_RIDE: 30.0, SPORT_SWIM: 25.0, SPORT_WEIGHTS: 10.0, SPORT_WALK: 8.0}
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


def speed_at_vdot_fraction(vdot: float, fraction: float) -> float:
    """Speed (m/s) whose Daniels oxygen cost is ``fraction`` of ``vdot``."""
    return velocity_for_oxygen_cost(vdot * fraction) / 60.0


def clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def athlete_profile(config: SimulatorParams, athlete_index: int) -> AthleteProfile:
    """Draw athlete ``athlete_index``'s traits from its own seed (independent of other athletes)."""
    draws = Draws(stream_generator(config, athlete_index, STREAM_PROFILE), batch=64)
    sex = "F" if draws.chance(0.4) else "M"
    age = int(round(clip(draws.normal(37.0, 9.0), 20.0, 65.0)))
    vdot = clip(draws.normal(42.0, 6.0) if sex == "F" else draws.normal(47.0, 7.0), 31.0, 63.0)
    hr_max = int(round(clip(208.0 - 0.7 * age + draws.normal(0.0, 6.0), 165.0, 205.0)))
    hr_rest = int(round(clip(draws.normal(60.0 - 0.3 * (vdot - 45.0), 6.0), 40.0, 75.0)))
    weekly_km = clip((15.0 + 2.2 * (vdot - 30.0)) * math.exp(draws.normal(0.0, 0.2)), 15.0, 110.0)
    runs_per_week = int(clip(round(2.0 + weekly_km / 18.0 + draws.normal(0.0, 0.5)), 2, 7))
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
        runs_marathons=draws.chance(clip((weekly_km - 30.0) / 60.0, 0.05, 0.7)),
        five_k_preference=draws.uniform(0.3, 0.7),
        easy_intensity=easy_intensity,
        pace_bias=draws.normal(0.0, 0.015),
        hr_reserve_offset=draws.normal(0.0, 0.03),
        hilliness_m_per_km=clip(7.0 * math.exp(draws.normal(0.0, 0.5)), 1.0, 30.0),
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
    threshold_speed = speed_at_vdot_fraction(vdot, THRESHOLD_FRACTION)
    easy_speed = speed_at_vdot_fraction(vdot, easy_intensity)
    easy_if_squared = (easy_speed / threshold_speed) ** 2
    hours = weekly_km * 1000.0 / easy_speed / 3600.0 * 0.95
    run_load = hours * (0.8 * easy_if_squared + 0.2 * 0.9) * 100.0
    typical_hours = {SPORT_RIDE: 1.5, SPORT_SWIM: 0.75, SPORT_WEIGHTS: 0.75, SPORT_WALK: 1.0}
    cross_load = sum(rate * typical_hours[sport] * CROSS_LOAD_PER_HOUR[sport]
                     for sport, rate in zip(CROSS_SPORTS, cross_per_week))
    return (run_load + cross_load) / 7.0 * _HABITUAL_LOAD_CALIBRATION


def steady_hrr(flat_speed: float, threshold_speed: float) -> float:
    """Steady-state fraction of heart-rate reserve at a flat speed, from its ratio to threshold."""
    return clip(_HRR_AT_THRESHOLD + _HRR_SLOPE * (flat_speed / threshold_speed - 1.0), 0.3, 0.99)


def pace_zone(speed: float, threshold_speed: float) -> int:
    ratio = speed / threshold_speed
    return 1 if ratio < 0.78 else 2 if ratio < 0.88 else 3 if ratio < 0.95 else 4 if ratio < 1.03 else 5


def summer_index(day_ordinal: int, timezone: str) -> float:
    """0 in local mid-winter, 1 in local mid-summer (peak mid-January south, mid-July north)."""
    day_of_year = dt.date.fromordinal(day_ordinal).timetuple().tm_yday
    peak = 196 if timezone in _NORTHERN_TIMEZONES else 15
    return 0.5 * (1.0 + math.cos(2.0 * math.pi * (day_of_year - peak) / 365.25))
