"""Heart-rate zones by % of HRmax, HR profiles (stream or splits) and HRmax resolution.

Pure numpy; no pandas, no I/O.

Zone model (seed decision in training-science.md): Z1 50-60 %, Z2 60-70 %, Z3 70-80 %, Z4 80-90 %,
Z5 ≥ 90 % of HRmax, open-ended at the top. A sample is in a zone when lo ≤ hr < hi. **Time below 50 %
counts toward Z1** (there is no Z0), so the five percentages always sum to 100 % of recorded HR time.

An HR *profile* is two parallel arrays: heart-rate values (bpm) and the seconds each value covers.
It comes from a stream (:func:`profile_from_stream`, a time-weighted histogram) or from per-split
averages (:func:`profile_from_splits`, each split weighted by its moving time).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Final, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

ZONE_NAMES: Final = ("z1", "z2", "z3", "z4", "z5")
#: Lower bounds of Z1..Z5 in % of HRmax; Z1 also takes everything below 50 %.
ZONE_LOWER_BOUNDS_PCT: Final = (50.0, 60.0, 70.0, 80.0, 90.0)
#: HR readings above this are sensor spikes, never a real HRmax.
MAX_PLAUSIBLE_HR_BPM: Final = 220.0
#: A per-activity max more than this above the next-highest one is a single outlier (spike).
HRMAX_SPIKE_TOLERANCE_BPM: Final = 10.0
#: A gap between stream samples longer than this is a pause/dropout, not time at the last HR.
STREAM_MAX_GAP_S: Final = 30.0


class HrProfile(NamedTuple):
    """Distinct heart-rate values (sorted, bpm) and the seconds recorded at each."""

    hr_bpm: FloatArray
    seconds: FloatArray

    @property
    def total_seconds(self) -> float:
        return float(self.seconds.sum())

    def mean_hr(self) -> float | None:
        """Time-weighted average HR, None when nothing was recorded."""
        total = self.total_seconds
        return float((self.hr_bpm * self.seconds).sum() / total) if total > 0 else None


#: Up to this many samples (per-split averages: a handful per activity) the histogram is summed in Python, which
#: for so few values is several times faster than numpy's per-call overhead and adds in the same order (equal sums).
SMALL_HISTOGRAM = 64


def _histogram(hr_bpm: FloatArray, seconds: FloatArray) -> HrProfile:
    """Collapse samples to distinct HR values with summed seconds (drops unusable samples)."""
    if hr_bpm.size <= SMALL_HISTOGRAM:
        return _histogram_in_python(hr_bpm, seconds)
    return _histogram_with_numpy(hr_bpm, seconds)


def _histogram_with_numpy(hr_bpm: FloatArray, seconds: FloatArray) -> HrProfile:
    usable = np.isfinite(hr_bpm) & (hr_bpm > 0) & np.isfinite(seconds) & (seconds > 0)
    values, inverse = np.unique(hr_bpm[usable], return_inverse=True)
    return HrProfile(values.astype(float), np.bincount(inverse, weights=seconds[usable], minlength=values.size))


def _histogram_in_python(hr_bpm: FloatArray, seconds: FloatArray) -> HrProfile:
    summed: dict[float, float] = {}
    for hr, covered in zip(hr_bpm.tolist(), seconds.tolist()):
        if math.isfinite(hr) and hr > 0 and math.isfinite(covered) and covered > 0:
            summed[hr] = summed.get(hr, 0.0) + covered  # in sample order, as bincount adds
    values = sorted(summed)
    return HrProfile(np.array(values, dtype=float), np.array([summed[v] for v in values], dtype=float))


def profile_from_stream(
    time_s: ArrayLike | None, heartrate: ArrayLike, max_gap_s: float = STREAM_MAX_GAP_S
) -> HrProfile:
    """Time-weighted HR histogram from a Strava-style stream (``time`` and ``heartrate`` data arrays).

    Each sample covers the time until the next sample. Rules, so pauses and dropouts don't distort
    the shares:

    * the last sample covers the stream's typical (median positive) sampling interval;
    * an interval longer than ``max_gap_s`` *and* 3× the typical interval (auto-pause, lost signal)
      is not time at that HR: the sample covers the typical interval instead (evenly down-sampled
      streams, whose every interval is long, keep their real durations);
    * samples with missing/≤0 HR are dropped (their time is not recorded HR time);
    * duplicate timestamps cover 0 s; samples are sorted by time first.
    * ``time_s=None`` (e.g. a streams response without a ``time`` stream) weighs every sample 1 s,
      which keeps zone *shares* right for evenly resampled streams.
    """
    hr = np.asarray(heartrate, dtype=float)
    if time_s is None:
        return _histogram(hr, np.ones_like(hr))
    times = np.asarray(time_s, dtype=float)
    if times.shape != hr.shape:
        raise ValueError(f"time and heartrate streams differ in length: {times.shape} vs {hr.shape}")
    if hr.size == 0:
        return HrProfile(np.empty(0), np.empty(0))
    order = np.argsort(times, kind="stable")
    times, hr = times[order], hr[order]
    intervals = np.diff(times)
    positive = intervals[intervals > 0]
    typical = float(np.median(positive)) if positive.size else 1.0
    gap_threshold = max(max_gap_s, 3.0 * typical)
    covered = np.append(intervals, typical)
    covered = np.where(covered > gap_threshold, typical, covered)
    return _histogram(hr, covered)


def profile_from_splits(split_average_hr: ArrayLike, split_moving_time_s: ArrayLike) -> HrProfile:
    """HR profile from per-split averages, each split weighted by its moving time (coarser than a
    stream: a split averaging 79 % counts fully in Z3 even if half of it was in Z4)."""
    return _histogram(np.asarray(split_average_hr, dtype=float), np.asarray(split_moving_time_s, dtype=float))


def zone_index(hr_bpm: ArrayLike, hrmax: ArrayLike) -> NDArray[np.int64]:
    """0-based zone (0 = Z1 … 4 = Z5) of each HR value; lo ≤ hr < hi, below 50 % → Z1.

    Compared as hr·100 ≥ pct·HRmax so integer bpm on a boundary (171 at HRmax 190 = 90 %) lands in
    the upper zone without float rounding surprises."""
    hr = np.asarray(hr_bpm, dtype=float)
    peak = np.asarray(hrmax, dtype=float)
    zone = np.zeros(np.broadcast(hr, peak).shape, dtype=np.int64)
    for lower_pct in ZONE_LOWER_BOUNDS_PCT[1:]:
        zone += hr * 100.0 >= lower_pct * peak
    return zone


def time_in_zones(hr_bpm: ArrayLike, seconds: ArrayLike, hrmax: float) -> FloatArray:
    """Seconds in Z1..Z5 (array of 5)."""
    weights = np.asarray(seconds, dtype=float)
    return np.bincount(zone_index(hr_bpm, hrmax), weights=weights, minlength=len(ZONE_NAMES)).astype(float)


def zone_percentages(hr_bpm: ArrayLike, seconds: ArrayLike, hrmax: float | None) -> FloatArray | None:
    """Share of recorded HR time in Z1..Z5 in % (sums to 100); None without HRmax or recorded time."""
    if hrmax is None or not np.isfinite(hrmax) or hrmax <= 0:
        return None
    in_zones = time_in_zones(hr_bpm, seconds, hrmax)
    total = in_zones.sum()
    return in_zones / total * 100.0 if total > 0 else None


def zone_seconds_grouped(
    hr_bpm: FloatArray, seconds: FloatArray, hrmax: FloatArray, group: NDArray[np.int64], n_groups: int
) -> FloatArray:
    """Vectorised :func:`time_in_zones` for many activities at once: flat sample arrays with each
    sample's HRmax and group (activity) index → (n_groups, 5) seconds."""
    zone = zone_index(hr_bpm, hrmax)
    flat = np.bincount(group * len(ZONE_NAMES) + zone, weights=seconds, minlength=n_groups * len(ZONE_NAMES))
    return flat.reshape(n_groups, len(ZONE_NAMES))


# ----------------------------------------------------------------------------------------------
# HRmax
# ----------------------------------------------------------------------------------------------


def _filtered_top(sorted_values: Sequence[float], spike_tolerance_bpm: float) -> float | None:
    """Highest value of an ascending list that is not a single outlier: drop the top while it exceeds
    the next one by more than the tolerance."""
    top = len(sorted_values) - 1
    while top >= 1 and sorted_values[top] - sorted_values[top - 1] > spike_tolerance_bpm:
        top -= 1
    return float(sorted_values[top]) if top >= 0 else None


def _is_plausible(value: float, upper_bpm: float) -> bool:
    return bool(np.isfinite(value)) and 0 < value <= upper_bpm


def plausible_max_hr(
    observed_max_hr: ArrayLike,
    upper_bpm: float = MAX_PLAUSIBLE_HR_BPM,
    spike_tolerance_bpm: float = HRMAX_SPIKE_TOLERANCE_BPM,
) -> float | None:
    """Highest *plausible* HR among per-activity maxima.

    Spike filter: values > 220 bpm (or missing/≤0) are ignored; then the top value is dropped while it
    exceeds the next-highest by more than ``spike_tolerance_bpm`` (a single outlier activity, e.g. a
    strap glitch or cadence lock). A lone value has nothing to contradict it and is kept."""
    observed = np.asarray(observed_max_hr, dtype=float).ravel()
    values = sorted(float(v) for v in observed if _is_plausible(v, upper_bpm))
    return _filtered_top(values, spike_tolerance_bpm)


def plausible_max_hr_before(
    times: ArrayLike,
    observed_max_hr: ArrayLike,
    upper_bpm: float = MAX_PLAUSIBLE_HR_BPM,
    spike_tolerance_bpm: float = HRMAX_SPIKE_TOLERANCE_BPM,
    wanted: ArrayLike | None = None,
) -> FloatArray:
    """For each activity i, :func:`plausible_max_hr` over activities with time *strictly before*
    times[i] (ties excluded both ways). NaN when there is none. One pass in time order.

    ``wanted`` (booleans, optional): only these activities need a value (the others are left NaN), so
    everything before the first wanted one is taken in one sort instead of one step per activity —
    scoring one new day against a year of history is then cheap. Wanted values are unchanged."""
    time_values = np.asarray(times)
    maxima = np.asarray(observed_max_hr, dtype=float)
    with np.errstate(invalid="ignore"):
        plausible = np.isfinite(maxima) & (maxima > 0) & (maxima <= upper_bpm)  # _is_plausible, vectorised
    order_array = np.argsort(time_values, kind="stable")
    order = order_array.tolist()
    sorted_times = time_values[order].tolist()
    result = np.full(maxima.shape, np.nan)
    seen: list[float] = []
    start = 0
    if wanted is not None:
        wanted_sorted = np.asarray(wanted, dtype=bool)[order_array]
        if not wanted_sorted.any():
            return result
        # every activity strictly before the first wanted one only feeds ``seen``
        start = int(np.searchsorted(time_values[order_array], time_values[order_array][np.argmax(wanted_sorted)], side="left"))
        earlier = order_array[:start]
        seen = sorted(maxima[earlier][plausible[earlier]].tolist())
    while start < len(order):
        end = start
        while end < len(order) and sorted_times[end] == sorted_times[start]:
            end += 1
        best = _filtered_top(seen, spike_tolerance_bpm)
        group = order[start:end]
        if best is not None:
            result[group] = best
        for position in group:
            if plausible[position]:
                bisect.insort(seen, float(maxima[position]))
        start = end
    return result


def resolve_hrmax(
    configured_bpm: float | None, observed_before_bpm: float | None, age_years: float | None
) -> float | None:
    """HRmax for an activity: the configured value, else the highest plausible HR observed strictly
    before the activity (see :func:`plausible_max_hr_before`), else 220 − age, else None."""
    for candidate in (configured_bpm, observed_before_bpm):
        if candidate is not None and np.isfinite(candidate) and candidate > 0:
            return float(candidate)
    if age_years is not None and np.isfinite(age_years):
        return 220.0 - float(age_years)
    return None
