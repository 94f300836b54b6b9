"""Race-time baselines: Riegel, Cameron and Daniels-Gilbert VDOT.

These are the classical formulas the ML model must beat, and the VDOT equations are also the
simulator's ground truth (a simulated athlete's race time is the VDOT-predicted time of their true
fitness on the day, plus noise). All functions are pure and work in SI units (metres, seconds),
except where the published equations are stated in m/min and minutes; those are kept internal.

Sources:

* Riegel (1981): ``T2 = T1 * (D2 / D1) ** 1.06`` — ``running.riegel_time``, shared with the feature tables.
* Cameron, as implemented in Runalyze ``Cameron.php``:
  ``T2 = T1 * (D2 / D1) * f(D1) / f(D2)``, ``f(d) = 13.49681 - 0.000030363 d + 835.7114 / d**0.7905``.
* Daniels & Gilbert (1979): oxygen cost ``VO2(v) = -4.60 + 0.182258 v + 0.000104 v**2`` (v in m/min) and
  sustainable fraction ``%max(t) = 0.8 + 0.1894393 e^(-0.012778 t) + 0.2989558 e^(-0.1932605 t)``
  (t in min); ``VDOT = VO2(v) / %max(t)``. Race time for a VDOT is found by bisection on ``t``.
  The raw equations (used here) differ from Daniels' printed tables by a few seconds (up to ~10 s at
  the marathon); we do not emulate the tables.
"""

from __future__ import annotations

import math

import numpy as np

# Daniels-Gilbert coefficients.
_VO2_INTERCEPT = -4.60
_VO2_LINEAR = 0.182258
_VO2_QUADRATIC = 0.000104
_PCT_BASE = 0.8
_PCT_A = 0.1894393
_PCT_A_RATE = 0.012778
_PCT_B = 0.2989558
_PCT_B_RATE = 0.1932605

# Bisection bracket for race durations, in minutes: 1 s to 7 days covers any running race.
_MIN_RACE_MINUTES = 1.0 / 60.0
_MAX_RACE_MINUTES = 7 * 24 * 60.0
_BISECTION_TOLERANCE_MIN = 1e-9


def _require_positive(**values: float) -> None:
    """Formulas below divide by or take powers of these: reject nonsense early with a clear name."""
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def cameron_factor(distance_m: float) -> float:
    """Cameron's ``f(d)``: relative speed sustainable over ``distance_m`` (dimensionless)."""
    _require_positive(distance_m=distance_m)
    return 13.49681 - 0.000030363 * distance_m + 835.7114 / distance_m**0.7905


def cameron_time(t1_s: float, d1_m: float, d2_m: float) -> float:
    """Cameron projection (Runalyze variant) of ``t1_s`` over ``d1_m`` to ``d2_m`` (seconds)."""
    _require_positive(t1_s=t1_s, d1_m=d1_m, d2_m=d2_m)
    return t1_s * (d2_m / d1_m) * cameron_factor(d1_m) / cameron_factor(d2_m)


def oxygen_cost(velocity_m_per_min: float) -> float:
    """Daniels-Gilbert VO2 cost (ml/kg/min) of running at ``velocity_m_per_min``."""
    v = velocity_m_per_min
    return _VO2_INTERCEPT + _VO2_LINEAR * v + _VO2_QUADRATIC * v * v


def sustainable_vo2max_fraction(duration_min: float) -> float:
    """Daniels-Gilbert fraction of VO2max sustainable for ``duration_min`` minutes."""
    return (
        _PCT_BASE
        + _PCT_A * math.exp(-_PCT_A_RATE * duration_min)
        + _PCT_B * math.exp(-_PCT_B_RATE * duration_min)
    )


def velocity_for_oxygen_cost(vo2: float) -> float:
    """Inverse of :func:`oxygen_cost`: speed in m/min whose oxygen cost is ``vo2`` ml/kg/min.

    Used to turn a training intensity (a fraction of VDOT) into a pace; closed form (positive root
    of the quadratic), valid for any ``vo2`` above the intercept.
    """
    discriminant = _VO2_LINEAR**2 + 4.0 * _VO2_QUADRATIC * (vo2 - _VO2_INTERCEPT)
    if discriminant < 0:
        raise ValueError(f"no running velocity has oxygen cost {vo2!r}")
    return (-_VO2_LINEAR + math.sqrt(discriminant)) / (2.0 * _VO2_QUADRATIC)


def vdot_from_performance(distance_m: float, time_s: float) -> float:
    """Daniels-Gilbert VDOT of covering ``distance_m`` in ``time_s``."""
    _require_positive(distance_m=distance_m, time_s=time_s)
    duration_min = time_s / 60.0
    velocity = distance_m / duration_min
    return oxygen_cost(velocity) / sustainable_vo2max_fraction(duration_min)


def vdot_from_performances(distance_m: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """:func:`vdot_from_performance` for arrays (the feature tables score every run): the same
    Daniels-Gilbert equations element-wise, NaN where a distance or time is not positive and finite
    (instead of raising, so a table's rest days and non-efforts simply have no VDOT)."""
    distance = np.asarray(distance_m, dtype=float)
    time = np.asarray(time_s, dtype=float)
    usable = np.isfinite(distance) & np.isfinite(time) & (distance > 0) & (time > 0)
    duration_min = np.where(usable, time, 60.0) / 60.0
    velocity = np.where(usable, distance, 1.0) / duration_min
    fraction = (
        _PCT_BASE
        + _PCT_A * np.exp(-_PCT_A_RATE * duration_min)
        + _PCT_B * np.exp(-_PCT_B_RATE * duration_min)
    )
    return np.where(usable, oxygen_cost(velocity) / fraction, np.nan)


def vdot_race_time(vdot: float, distance_m: float) -> float:
    """Race time (seconds) over ``distance_m`` for an athlete of ``vdot``, by bisection on the duration.

    VDOT implied by a performance decreases monotonically with the time taken over a fixed distance
    in the whole bracket (1 s .. 7 days), so bisection converges to the unique root.
    """
    _require_positive(vdot=vdot, distance_m=distance_m)
    low, high = _MIN_RACE_MINUTES, _MAX_RACE_MINUTES
    if vdot_from_performance(distance_m, high * 60.0) > vdot:
        raise ValueError(f"VDOT {vdot!r} too low to cover {distance_m!r} m in a week")
    if vdot_from_performance(distance_m, low * 60.0) < vdot:
        raise ValueError(f"VDOT {vdot!r} too high: {distance_m!r} m in under a second")
    while high - low > _BISECTION_TOLERANCE_MIN:
        middle = 0.5 * (low + high)
        if vdot_from_performance(distance_m, middle * 60.0) > vdot:
            low = middle  # too fast for this VDOT: the answer takes longer
        else:
            high = middle
    return 0.5 * (low + high) * 60.0


def vdot_threshold_velocity(vdot: float, threshold_minutes: float = 60.0) -> float:
    """Speed (m/s) sustainable for ``threshold_minutes`` at ``vdot``: the 60-minute race pace.

    This is the threshold-pace proxy the reference suggests for rTSS; the simulator uses it as the
    athlete's true lactate-threshold speed.
    """
    _require_positive(vdot=vdot, threshold_minutes=threshold_minutes)
    vo2 = vdot * sustainable_vo2max_fraction(threshold_minutes)
    return velocity_for_oxygen_cost(vo2) / 60.0


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour) of ``seconds`` rounded to the second, as race results read."""
    total = int(round(seconds))
    hours, remainder = divmod(total, 3600)
    minutes, secs = divmod(remainder, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
