"""Training-load math: rTSS, Banister TRIMP / hrTSS, the PMC (CTL/ATL/TSB), ACWR, monotony, strain,
and threshold-pace estimation from earlier best efforts.

Pure functions on floats and numpy arrays: no pandas, no I/O, no engine. Definitions and test vectors
come from the published sources named below and in each docstring (Coggan/TrainingPeaks, Banister 1991,
GoldenCheetah and Runalyze source code, Gabbett 2016, Williams et al. 2017, Foster 1998); where sources
differ the convention chosen here is named in the function's docstring.

Conventions used by the feature tables (``athlete_platform.features.compute``):

* ``ctl`` / ``atl``: TrainingPeaks 1/N recursion, ``X_t = X_{t-1} + (L_t - X_{t-1}) / N`` with
  N = 42 / 7, seeded with 0 the day before the athlete's first day (GoldenCheetah seeding).
  The GoldenCheetah exponential form is available as :func:`pmc_goldencheetah`.
* ``tsb``: TrainingPeaks "Form" = *yesterday's* CTL − *yesterday's* ATL (:func:`tsb_yesterday`);
  ``tsb_same_day`` = today's CTL − today's ATL (Runalyze).
* ACWR: coupled rolling 7/28 (Gabbett 2016), EWMA 7/28 with λ = 2/(N+1) seeded with day 1's load
  (Williams et al. 2017), and ATL/CTL.
* Monotony: Foster 1998 over 7 calendar days, rest/missing days as 0, population SD; when the SD is 0
  monotony is :data:`MONOTONY_WHEN_NO_VARIATION` (10.0) and it is always clamped to [0, 10] (Runalyze).

Series functions (smoothing, PMC, rolling ACWR, monotony) take one athlete's days as a 1-D array, or many
athletes' as the rows of a 2-D array (days along the last axis; seeds one per row): the feature tables
advance every athlete of a batch in one call instead of a few dozen small NumPy calls per athlete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from athlete_platform.domain.running import RIEGEL_EXPONENT

FloatArray = NDArray[np.float64]

SECONDS_PER_HOUR: Final = 3600.0

#: Banister TRIMP coefficients (a, b) by sex. Women use GoldenCheetah's a = 0.64, b = 1.67
#: (Runalyze uses a = 0.821776, much of the literature a = 0.86).
TRIMP_COEFFICIENTS: Final[dict[str, tuple[float, float]]] = {
    "M": (0.64, 1.92),
    "F": (0.64, 1.67),
}
TRIMP_FEMALE_SOURCE: Final = "GoldenCheetah (a=0.64, b=1.67)"

CTL_DAYS: Final = 42
ATL_DAYS: Final = 7

#: Monotony when the 7-day SD is 0 (identical days, including a week of rest): Runalyze's maximum.
MONOTONY_WHEN_NO_VARIATION: Final = 10.0
MONOTONY_MAX: Final = 10.0
MONOTONY_WINDOW_DAYS: Final = 7

#: Threshold pace proxy: the pace sustainable for this long, projected from a best effort.
THRESHOLD_EFFORT_DURATION_S: Final = 3600.0


# ----------------------------------------------------------------------------------------------
# Session scores
# ----------------------------------------------------------------------------------------------


def intensity_factor(pace_s_per_km: ArrayLike, threshold_pace_s_per_km: ArrayLike) -> FloatArray | float:
    """IF = threshold pace / pace (faster than threshold gives IF > 1); NaN when either is missing
    or not positive, so a missing pace never looks like an easy run."""
    pace = np.asarray(pace_s_per_km, dtype=float)
    threshold = np.asarray(threshold_pace_s_per_km, dtype=float)
    valid = (pace > 0) & (threshold > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(valid, threshold / np.where(valid, pace, 1.0), np.nan)
    return float(result) if result.ndim == 0 else result


def rtss(
    moving_time_s: ArrayLike, pace_s_per_km: ArrayLike, threshold_pace_s_per_km: ArrayLike
) -> FloatArray | float:
    """Running TSS = moving hours × IF² × 100 (one hour at threshold pace = 100).

    Average moving pace stands in for TrainingPeaks' normalized graded pace (summary data only)."""
    hours = np.asarray(moving_time_s, dtype=float) / SECONDS_PER_HOUR
    factor = np.asarray(intensity_factor(pace_s_per_km, threshold_pace_s_per_km), dtype=float)
    result = hours * factor**2 * 100.0
    return float(result) if result.ndim == 0 else result


def _trimp_coefficients(sex: str) -> tuple[float, float]:
    key = sex.strip().upper()[:1]
    if key not in TRIMP_COEFFICIENTS:
        raise ValueError(f"sex must be 'M' or 'F', got {sex!r}")
    return TRIMP_COEFFICIENTS[key]


def banister_trimp(
    duration_min: ArrayLike,
    hr_avg: ArrayLike,
    hr_rest: ArrayLike,
    hr_max: ArrayLike,
    sex: str = "M",
) -> FloatArray | float:
    """Banister TRIMP = minutes × r × a × e^(b × r), r = (HRavg − HRrest) / (HRmax − HRrest).

    r < 0 (average below resting HR) scores 0 as in GoldenCheetah's TRIMPPoints.cpp; r is not
    capped at 1 (an average above a stale HRmax is real, if rare, information). NaN when an input is
    missing or HRmax ≤ HRrest. Women: :data:`TRIMP_FEMALE_SOURCE`."""
    a, b = _trimp_coefficients(sex)
    minutes = np.asarray(duration_min, dtype=float)
    avg = np.asarray(hr_avg, dtype=float)
    rest = np.asarray(hr_rest, dtype=float)
    peak = np.asarray(hr_max, dtype=float)
    reserve = peak - rest
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reserve > 0, (avg - rest) / np.where(reserve > 0, reserve, 1.0), np.nan)
    ratio = np.where(ratio < 0, 0.0, ratio)
    result = minutes * ratio * a * np.exp(b * ratio)
    return float(result) if result.ndim == 0 else result


def hr_tss(
    duration_min: ArrayLike,
    hr_avg: ArrayLike,
    hr_rest: ArrayLike,
    hr_max: ArrayLike,
    lthr: ArrayLike,
    sex: str = "M",
) -> FloatArray | float:
    """hrTSS: TRIMP normalised so that 60 minutes at lactate-threshold HR scores 100, which puts
    HR-scored sessions on the rTSS scale."""
    one_hour_at_lthr = np.asarray(banister_trimp(60.0, lthr, hr_rest, hr_max, sex), dtype=float)
    session = np.asarray(banister_trimp(duration_min, hr_avg, hr_rest, hr_max, sex), dtype=float)
    result = _safe_ratio(session, one_hour_at_lthr) * 100.0
    return float(result) if result.ndim == 0 else result


# ----------------------------------------------------------------------------------------------
# Performance Management Chart
# ----------------------------------------------------------------------------------------------


def alpha_trainingpeaks(days: float) -> float:
    """TrainingPeaks: X_t = X_{t-1} + (L_t − X_{t-1}) / N, i.e. α = 1/N."""
    return 1.0 / days


def alpha_goldencheetah(tau_days: float) -> float:
    """GoldenCheetah PMCData.cpp: X_t = X_{t-1}·e^(−1/τ) + L_t·(1 − e^(−1/τ)), so α = 1 − e^(−1/τ)."""
    return 1.0 - math.exp(-1.0 / tau_days)


def alpha_ewma(days: float) -> float:
    """Williams et al. 2017 / Runalyze EWMA: α = 2 / (N + 1)."""
    return 2.0 / (days + 1.0)


#: Up to this many rows, smoothing row by row in Python floats beats a NumPy step per day over all rows.
FEW_ROWS: Final = 16


def smooth_load(daily_load: ArrayLike, alpha: float, initial: ArrayLike) -> FloatArray:
    """First-order smoothing X_t = X_{t−1} + α·(L_t − X_{t−1}) from X_0 = ``initial`` (the value the
    day before the first load). All PMC and EWMA variants are this recursion with different α, and
    chaining calls through the last value gives bit-identical results to one long call.

    Rows of a 2-D ``daily_load`` are smoothed independently, each from its ``initial`` (one per row, or
    one for all); a row's values equal a 1-D call's bit for bit (the same IEEE operations in the same order)."""
    loads = np.asarray(daily_load, dtype=float)
    if loads.ndim == 2 and 0 < loads.shape[0] <= FEW_ROWS:
        initials = np.broadcast_to(np.asarray(initial, dtype=float), loads.shape[:1])
        return np.stack([smooth_load(row, alpha, init) for row, init in zip(loads, initials.tolist())])
    if loads.ndim == 1:
        out = np.empty(loads.size, dtype=float)
        value = float(initial)
        for i, load in enumerate(loads.tolist()):  # Python floats: far faster than NumPy scalars
            value = value + alpha * (load - value)
            out[i] = value
        return out
    out = np.empty_like(loads)
    values = np.broadcast_to(np.asarray(initial, dtype=float), loads.shape[:-1])
    for i in range(loads.shape[-1]):
        values = values + alpha * (loads[..., i] - values)
        out[..., i] = values
    return out


@dataclass(frozen=True)
class PmcSeries:
    """PMC over consecutive calendar days (rest days included with load 0)."""

    ctl: FloatArray
    atl: FloatArray
    tsb_yesterday: FloatArray  # TrainingPeaks "Form": yesterday's CTL − yesterday's ATL
    tsb_same_day: FloatArray  # Runalyze: today's CTL − today's ATL


def tsb_same_day(ctl: ArrayLike, atl: ArrayLike) -> FloatArray:
    """Form on the same day (Runalyze; GoldenCheetah's optional setting)."""
    return np.asarray(ctl, dtype=float) - np.asarray(atl, dtype=float)


def tsb_yesterday(
    ctl: ArrayLike, atl: ArrayLike, ctl_before: ArrayLike = 0.0, atl_before: ArrayLike = 0.0
) -> FloatArray:
    """TrainingPeaks "Form = yesterday's Fitness − yesterday's Fatigue" (GoldenCheetah default):
    today's value is yesterday's same-day TSB; day 1 uses the seeds (the values the day before; one per
    row of 2-D series)."""
    same_day = tsb_same_day(ctl, atl)
    if same_day.shape[-1] == 0:
        return same_day
    seeds = np.asarray(ctl_before, dtype=float) - np.asarray(atl_before, dtype=float)
    first = np.broadcast_to(seeds, same_day.shape[:-1])
    return np.concatenate((first[..., None], same_day[..., :-1]), axis=-1)


def _pmc(
    daily_load: ArrayLike, alpha_ctl: float, alpha_atl: float, ctl_seed: ArrayLike, atl_seed: ArrayLike
) -> PmcSeries:
    ctl = smooth_load(daily_load, alpha_ctl, ctl_seed)
    atl = smooth_load(daily_load, alpha_atl, atl_seed)
    return PmcSeries(ctl, atl, tsb_yesterday(ctl, atl, ctl_seed, atl_seed), tsb_same_day(ctl, atl))


def pmc_trainingpeaks(
    daily_load: ArrayLike,
    ctl_days: float = CTL_DAYS,
    atl_days: float = ATL_DAYS,
    ctl_seed: ArrayLike = 0.0,
    atl_seed: ArrayLike = 0.0,
) -> PmcSeries:
    """PMC with the TrainingPeaks 1/N recursion (our ``ctl``/``atl`` columns). ``daily_load`` must
    hold every calendar day (rows of a 2-D array: one athlete each); seeds are the values the day before
    the first element."""
    return _pmc(daily_load, alpha_trainingpeaks(ctl_days), alpha_trainingpeaks(atl_days), ctl_seed, atl_seed)


def pmc_goldencheetah(
    daily_load: ArrayLike,
    ctl_tau: float = CTL_DAYS,
    atl_tau: float = ATL_DAYS,
    ctl_seed: float = 0.0,
    atl_seed: float = 0.0,
) -> PmcSeries:
    """PMC with GoldenCheetah's exponential decay (τ = 42 / 7); visibly different from 1/N."""
    return _pmc(daily_load, alpha_goldencheetah(ctl_tau), alpha_goldencheetah(atl_tau), ctl_seed, atl_seed)


# ----------------------------------------------------------------------------------------------
# Acute:chronic workload ratio
# ----------------------------------------------------------------------------------------------


def _trailing_windows(values: FloatArray, window: int) -> FloatArray:
    """(..., n, window) view: [..., i, :] holds values[..., i−window+1 .. i], NaN-padded before the series start."""
    padded = np.concatenate((np.full(values.shape[:-1] + (window - 1,), np.nan), values), axis=-1)
    return np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)


def _safe_ratio(numerator: ArrayLike, denominator: ArrayLike) -> FloatArray:
    """numerator / denominator, NaN where the denominator is 0 or missing (ratio undefined)."""
    top = np.asarray(numerator, dtype=float)
    bottom = np.asarray(denominator, dtype=float)
    ok = np.isfinite(bottom) & (bottom != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, top / np.where(ok, bottom, 1.0), np.nan)


def acwr_from_averages(acute: ArrayLike, chronic: ArrayLike) -> FloatArray:
    """acute / chronic, NaN when the chronic average is 0 (no load to compare against)."""
    return _safe_ratio(acute, chronic)


def acwr_rolling_coupled(daily_load: ArrayLike, acute_days: int = 7, chronic_days: int = 28) -> FloatArray:
    """Gabbett 2016 rolling-average ACWR, *coupled* (the chronic window includes the acute days):
    mean(L[t−6..t]) / mean(L[t−27..t]), along the last axis.

    NaN elements mean "no data for that day" (before the athlete's first day); the ratio is NaN
    until a full chronic window of observed days exists, and when the chronic mean is 0."""
    loads = np.asarray(daily_load, dtype=float)
    if loads.size == 0:
        return loads.copy()
    chronic = _trailing_windows(loads, chronic_days)
    chronic_mean = chronic.sum(axis=-1) / chronic_days  # NaN whenever any day is unobserved
    acute_mean = chronic[..., chronic_days - acute_days :].sum(axis=-1) / acute_days
    return _safe_ratio(acute_mean, chronic_mean)


def acwr_rolling_uncoupled(daily_load: ArrayLike, acute_days: int = 7, chronic_days: int = 28) -> FloatArray:
    """Uncoupled rolling ACWR: mean(L[t−6..t]) / mean(L[t−27..t−7]) (chronic excludes the acute days)."""
    loads = np.asarray(daily_load, dtype=float)
    if loads.size == 0:
        return loads.copy()
    windows = _trailing_windows(loads, chronic_days)
    acute_mean = windows[..., chronic_days - acute_days :].sum(axis=-1) / acute_days
    earlier_mean = windows[..., : chronic_days - acute_days].sum(axis=-1) / (chronic_days - acute_days)
    return _safe_ratio(acute_mean, earlier_mean)


def acwr_ewma(daily_load: ArrayLike, acute_days: int = 7, chronic_days: int = 28) -> FloatArray:
    """Williams et al. 2017 EWMA ACWR with λ = 2/(N+1), both averages seeded with day 1's load."""
    loads = np.asarray(daily_load, dtype=float)
    if loads.size == 0:
        return loads.copy()
    acute = smooth_load(loads, alpha_ewma(acute_days), loads[0])
    chronic = smooth_load(loads, alpha_ewma(chronic_days), loads[0])
    return acwr_from_averages(acute, chronic)


def acwr_atl_ctl(atl: ArrayLike, ctl: ArrayLike) -> FloatArray:
    """The PMC variant of ACWR: ATL / CTL (NaN when CTL is 0)."""
    return _safe_ratio(atl, ctl)


# ----------------------------------------------------------------------------------------------
# Monotony and strain
# ----------------------------------------------------------------------------------------------


def monotony_of_weeks(daily_load_by_week: ArrayLike) -> FloatArray:
    """Foster monotony per row of an (n, 7) matrix of daily loads (NaN = rest), same rules as
    :func:`foster_monotony`."""
    return _monotony_from_windows(np.asarray(daily_load_by_week, dtype=float))


def _monotony_from_windows(windows: FloatArray) -> FloatArray:
    loads = np.nan_to_num(windows, nan=0.0)  # missing days count as rest days (load 0)
    mean = loads.mean(axis=-1)
    sd = loads.std(axis=-1)  # population SD (ddof=0), as Runalyze
    with np.errstate(divide="ignore", invalid="ignore"):
        monotony = np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), MONOTONY_WHEN_NO_VARIATION)
    return np.clip(monotony, 0.0, MONOTONY_MAX)


def foster_monotony(last_7_days_load: ArrayLike) -> float:
    """Foster 1998 monotony = mean / population SD of the daily loads of 7 calendar days.

    Fewer than 7 values are padded with rest days (0) and NaN counts as 0 (Runalyze: always 7 days).
    SD = 0 (identical days, including a week of rest) returns 10.0; the result is clamped to [0, 10]
    (Runalyze), so a near-zero SD from float noise cannot explode either."""
    loads = np.asarray(last_7_days_load, dtype=float)
    if loads.size > MONOTONY_WINDOW_DAYS:
        raise ValueError(f"monotony uses at most {MONOTONY_WINDOW_DAYS} days, got {loads.size}")
    padded = np.concatenate((np.zeros(MONOTONY_WINDOW_DAYS - loads.size), loads))
    return float(_monotony_from_windows(padded[None, :])[0])


def foster_strain(last_7_days_load: ArrayLike) -> float:
    """Foster strain = weekly load (sum of the 7 days) × monotony."""
    loads = np.nan_to_num(np.asarray(last_7_days_load, dtype=float), nan=0.0)
    return float(loads.sum() * foster_monotony(loads))


def rolling_monotony_strain(daily_load: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Monotony and strain over the trailing 7 calendar days ending at each element (along the last axis);
    days before the series start (or NaN) count as rest days, as in :func:`foster_monotony`."""
    loads = np.asarray(daily_load, dtype=float)
    if loads.size == 0:
        return loads.copy(), loads.copy()
    windows = _trailing_windows(loads, MONOTONY_WINDOW_DAYS)
    monotony = _monotony_from_windows(windows)
    weekly_load = np.nan_to_num(windows, nan=0.0).sum(axis=-1)
    return monotony, weekly_load * monotony


# ----------------------------------------------------------------------------------------------
# Riegel and threshold pace
# ----------------------------------------------------------------------------------------------


def riegel_distance_for_time(t1_s: ArrayLike, d1_m: ArrayLike, t2_s: float) -> FloatArray | float:
    """Riegel solved for distance: the D2 an effort (D1, T1) projects to cover in T2."""
    t1 = np.asarray(t1_s, dtype=float)
    d1 = np.asarray(d1_m, dtype=float)
    result = d1 * (t2_s / t1) ** (1.0 / RIEGEL_EXPONENT)
    return float(result) if result.ndim == 0 else result


def riegel_score(t1_s: ArrayLike, d1_m: ArrayLike) -> FloatArray | float:
    """T / D^1.06: Riegel projects (D, T) to any distance X as score × X^1.06, so the effort with the
    lowest score is the best effort for every target distance at once."""
    t1 = np.asarray(t1_s, dtype=float)
    d1 = np.asarray(d1_m, dtype=float)
    result = t1 / d1**RIEGEL_EXPONENT
    return float(result) if result.ndim == 0 else result


def projected_threshold_pace(
    distance_m: ArrayLike, duration_s: ArrayLike, effort_duration_s: float = THRESHOLD_EFFORT_DURATION_S
) -> FloatArray | float:
    """Threshold-pace proxy from one effort: the Riegel-projected pace (s/km) for a 60-minute effort.

    Our choice among the reference's proxies: Riegel (simple, monotone, no table), projected from the
    effort's average moving pace. D60 = D1·(3600/T1)^(1/1.06); pace = 3600 / D60 km."""
    distance_60 = np.asarray(riegel_distance_for_time(duration_s, distance_m, effort_duration_s), dtype=float)
    result = effort_duration_s / (distance_60 / 1000.0)
    return float(result) if result.ndim == 0 else result


def threshold_pace_before(
    effort_times_ns: ArrayLike,
    effort_threshold_pace_s_per_km: ArrayLike,
    query_times_ns: ArrayLike,
    lookback_days: float,
) -> FloatArray:
    """For each query time q, the fastest projected threshold pace among efforts in [q − lookback, q):
    *strictly before* q, so an activity is never scored against itself or anything later. NaN when the
    window holds no effort (no threshold known: callers fall back, see ``features.compute``).

    Times are int64 nanoseconds since the epoch; efforts need not be sorted."""
    times = np.asarray(effort_times_ns, dtype=np.int64)
    paces = np.asarray(effort_threshold_pace_s_per_km, dtype=float)
    queries = np.asarray(query_times_ns, dtype=np.int64)
    keep = np.isfinite(paces) & (paces > 0)
    order = np.argsort(times[keep], kind="stable")
    times, paces = times[keep][order], paces[keep][order]
    lookback = np.int64(round(lookback_days * 86_400 * 1e9))
    lo = np.searchsorted(times, queries - lookback, side="left")
    hi = np.searchsorted(times, queries, side="left")
    result = np.full(queries.shape, np.nan)
    for i in np.flatnonzero(hi > lo):
        result[i] = paces[lo[i] : hi[i]].min()
    return result
