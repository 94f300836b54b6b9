"""The activity table: one row per activity with its load (rTSS, hrTSS, TRIMP or a duration estimate),
intensity, HR zones and the threshold pace and HRmax in force at its start (only earlier activities)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.domain import hr_zones
from athlete_platform.domain import training_load as tl
from athlete_platform.domain.running import RUN_SPORTS
from athlete_platform.features.compute.common import (
    PACE_UNRELIABLE_RUN_SPORTS,
    ROAD_RUN_SPORT,
    FeatureParams,
    as_days,
    bool_column,
    float_column,
    is_effort,
    plausible_pace,
    to_date_objects,
    typed_empty,
    utc_ns,
)

#: Output columns of :func:`activity_features` and their pandas dtypes.
ACTIVITY_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "activity_id": "int64",
    "event_timestamp": "datetime64[ns, UTC]",  # start_date_utc
    "activity_date": "object",  # datetime.date, local date
    "sport": "object",
    "distance_km": "float64",
    "moving_min": "float64",
    "elapsed_min": "float64",
    "pace_s_per_km": "float64",
    "elevation_gain_m": "float64",
    "elevation_per_km": "float64",
    "threshold_pace_s_per_km": "float64",
    "intensity_factor": "float64",
    "rtss": "float64",
    "trimp": "float64",
    "hr_tss": "float64",
    "avg_hr": "float64",
    "max_hr": "float64",
    "hrmax_used": "float64",
    "z1_pct": "float64",
    "z2_pct": "float64",
    "z3_pct": "float64",
    "z4_pct": "float64",
    "z5_pct": "float64",
    "efficiency_index": "float64",
    "training_load": "float64",
    "load_source": "object",
}

#: The silver columns :func:`activity_features` reads (the Spark asset ships only these to pandas).
ACTIVITY_INPUT_COLUMNS: Final = (
    "athlete_id",
    "activity_id",
    "activity_date",
    "start_date_utc",
    "sport",
    "distance_m",
    "moving_time_s",
    "elapsed_time_s",
    "pace_s_per_km",
    "elevation_gain_m",
    "has_heartrate",
    "average_hr",
    "max_hr",
)

LOAD_SOURCE_RTSS: Final = "rtss"
LOAD_SOURCE_HRTSS: Final = "hr_tss"
LOAD_SOURCE_ESTIMATE: Final = "duration_estimate"
LOAD_SOURCE_NONE: Final = "none"


def _prepare_activities(frame: pd.DataFrame) -> pd.DataFrame:
    prepared = frame.copy()
    prepared["athlete_id"] = prepared["athlete_id"].astype("int64")
    prepared["activity_id"] = prepared["activity_id"].astype("int64")
    prepared["_t_ns"] = utc_ns(prepared["start_date_utc"])
    return prepared


def _hrmax_before(combined: pd.DataFrame, config: FeatureParams, wanted: np.ndarray) -> np.ndarray:
    """HRmax observed before each ``wanted`` row (NaN elsewhere: history rows need no value)."""
    observed_max = np.where(bool_column(combined, "has_heartrate"), float_column(combined, "max_hr"), np.nan)
    times = combined["_t_ns"].to_numpy()
    result = np.full(len(combined), np.nan)
    for positions in combined.groupby("athlete_id", sort=False).indices.values():
        if not wanted[positions].any():
            continue
        result[positions] = hr_zones.plausible_max_hr_before(
            times[positions], observed_max[positions], config.hrmax_upper_bpm, config.hrmax_spike_tolerance_bpm,
            wanted=wanted[positions],
        )
    return result


def _threshold_before(combined: pd.DataFrame, config: FeatureParams, wanted: np.ndarray) -> np.ndarray:
    """Threshold pace from efforts before each ``wanted`` row (NaN elsewhere)."""
    distance = float_column(combined, "distance_m")
    moving = float_column(combined, "moving_time_s")
    pace = _pace(combined)
    sport = combined["sport"].astype(str).to_numpy()
    effort = is_effort(sport, distance, pace, config) & (moving > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = np.where(effort, tl.projected_threshold_pace(distance, moving), np.nan)
    times = combined["_t_ns"].to_numpy()
    result = np.full(len(combined), np.nan)
    for positions in combined.groupby("athlete_id", sort=False).indices.values():
        targets = positions[wanted[positions]]
        if targets.size:
            result[targets] = tl.threshold_pace_before(
                times[positions], projected[positions], times[targets], config.threshold_lookback_days
            )
    return result


def _pace(frame: pd.DataFrame) -> np.ndarray:
    """Silver's pace, else moving time / distance when there is a distance."""
    pace = float_column(frame, "pace_s_per_km")
    distance = float_column(frame, "distance_m")
    moving = float_column(frame, "moving_time_s")
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = np.where((distance > 0) & (moving > 0), moving / (distance / 1000.0), np.nan)
    return np.where(np.isfinite(pace) & (pace > 0), pace, derived)


def _zone_table(
    targets: pd.DataFrame, hr_profiles: pd.DataFrame | None, hrmax: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 5) zone percentages (NaN rows without usable profile or HRmax) and profile mean HR."""
    n = len(targets)
    percentages = np.full((n, len(hr_zones.ZONE_NAMES)), np.nan)
    profile_mean = np.full(n, np.nan)
    if hr_profiles is None or hr_profiles.empty or n == 0:
        return percentages, profile_mean
    target_keys = pd.MultiIndex.from_arrays([targets["athlete_id"], targets["activity_id"]])
    position_of = pd.Series(np.arange(n), index=target_keys)
    source = hr_profiles.get("hr_source", pd.Series("stream", index=hr_profiles.index))
    profiles = hr_profiles.assign(_rank=source.map({"stream": 0, "splits": 1}).fillna(2)).sort_values(
        ["athlete_id", "activity_id", "_rank"], kind="stable"
    )
    profiles = profiles.drop_duplicates(["athlete_id", "activity_id"], keep="first")
    profile_keys = pd.MultiIndex.from_arrays(
        [profiles["athlete_id"].astype("int64"), profiles["activity_id"].astype("int64")]
    )
    positions = position_of.reindex(profile_keys).to_numpy()
    matched = ~np.isnan(positions)
    if not matched.any():
        return percentages, profile_mean
    profiles = profiles[matched]
    positions = positions[matched].astype(np.int64)
    hr_arrays = [np.asarray([] if values is None else values, dtype=float) for values in profiles["hr_bpm"]]
    second_arrays = [np.asarray([] if values is None else values, dtype=float) for values in profiles["seconds"]]
    lengths = np.array([a.size for a in hr_arrays], dtype=np.int64)
    if not np.array_equal(lengths, [a.size for a in second_arrays]):
        raise ValueError("hr_profiles: hr_bpm and seconds lists differ in length")
    hr_flat = np.concatenate(hr_arrays) if hr_arrays else np.empty(0)
    seconds_flat = np.concatenate(second_arrays) if second_arrays else np.empty(0)
    group = np.repeat(positions, lengths)
    hrmax_flat = hrmax[group]
    usable = np.isfinite(hr_flat) & (hr_flat > 0) & np.isfinite(seconds_flat) & (seconds_flat > 0)
    recorded = np.bincount(group[usable], weights=seconds_flat[usable], minlength=n)
    weighted_hr = np.bincount(group[usable], weights=(hr_flat * seconds_flat)[usable], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        profile_mean = np.where(recorded > 0, weighted_hr / recorded, np.nan)
    zoned = usable & np.isfinite(hrmax_flat) & (hrmax_flat > 0)
    seconds_in_zone = hr_zones.zone_seconds_grouped(
        hr_flat[zoned], seconds_flat[zoned], hrmax_flat[zoned], group[zoned], n
    )
    total = seconds_in_zone.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        percentages = np.where(total[:, None] > 0, seconds_in_zone / total[:, None] * 100.0, np.nan)
    return percentages, profile_mean


def _by_sex(sex: np.ndarray, compute: Any) -> np.ndarray:
    """Apply a TRIMP-family function (which takes one sex) row-wise for mixed sexes."""
    result = np.full(sex.shape, np.nan)
    for value in np.unique(sex):
        mask = sex == value
        result[mask] = compute(mask, str(value))
    return result


def activity_features(
    activities: pd.DataFrame,
    hr_profiles: pd.DataFrame | None,
    history: pd.DataFrame | None,
    config: FeatureParams | None = None,
) -> pd.DataFrame:
    """One row per activity in ``activities`` with its load and intensity features.

    ``history`` holds the athletes' earlier silver activities; activities in ``activities`` also count
    as history for later ones. Threshold pace and HRmax use only activities that *started strictly
    before* the scored one.

    Columns (pandas dtype; NaN = null), see :data:`ACTIVITY_FEATURE_COLUMNS`:

    * athlete_id, activity_id (int64); event_timestamp (datetime64 UTC, = start_date_utc);
      activity_date (date, local); sport (str).
    * distance_km, moving_min, elapsed_min, pace_s_per_km (silver's, else moving time / distance),
      elevation_gain_m, elevation_per_km (gain / km, NaN without distance) — float64.
    * threshold_pace_s_per_km: configured, else the fastest Riegel-projected 60-minute pace among road
      runs ≥ 3 km with plausible pace in the ``threshold_lookback_days`` (90) before the start; NaN if
      none. intensity_factor = threshold / pace and rtss = moving h × IF² × 100, for run sports with a
      plausible pace (150-900 s/km by default) only.
    * trimp (Banister, sex-specific), hr_tss (TRIMP / TRIMP(60 min at LTHR) × 100, LTHR =
      ``lthr_fraction_of_hrmax`` × HRmax): NaN without HR or without an HRmax.
    * avg_hr, max_hr: silver's (NaN when has_heartrate is false); avg_hr falls back to the profile's
      time-weighted mean. hrmax_used: configured → plausible max observed before → 220 − age → NaN
      (in force at the start, reported for every row).
    * z1_pct..z5_pct: time-in-zone shares from the HR profile (stream preferred over splits), summing
      to 100; NaN when there is no profile with recorded time **or no HRmax could be resolved** (an
      athlete's first HR activity without configured HRmax or age).
    * efficiency_index: speed (m/min) per bpm of average HR, run sports only.
    * training_load / load_source — the load the PMC uses:
      road run: rtss → hr_tss → duration estimate; trail/treadmill run: hr_tss → rtss → estimate;
      other sports: hr_tss → estimate. Duration estimate = moving h × IF_default(sport)² × 100
      (``default_intensity_by_sport``) for sessions with neither usable pace nor HR. Duration is the
      moving time (elapsed time when moving time is missing or 0, e.g. manual entries); no duration
      → 0 with load_source 'none'. training_load is never NaN.
    """
    config = config or FeatureParams()
    if activities.empty:
        return typed_empty(ACTIVITY_FEATURE_COLUMNS)
    targets_in = _prepare_activities(activities)
    frames = [targets_in.assign(_target=True)]
    if history is not None and not history.empty:
        earlier = _prepare_activities(history)
        earlier = earlier[~earlier["activity_id"].isin(targets_in["activity_id"])]
        frames.insert(0, earlier.assign(_target=False))
    combined = pd.concat(frames, ignore_index=True)
    combined = combined.sort_values(["athlete_id", "_t_ns", "activity_id"], kind="stable").reset_index(drop=True)

    is_target = combined["_target"].to_numpy(dtype=bool)
    # only the scored rows need a threshold and an HRmax; history rows only feed them
    threshold_estimate = _threshold_before(combined, config, is_target)
    hrmax_observed = _hrmax_before(combined, config, is_target)
    frame = combined[is_target].reset_index(drop=True)
    threshold_estimate = threshold_estimate[is_target]
    hrmax_observed = hrmax_observed[is_target]
    athlete_ids = frame["athlete_id"]

    threshold_configured = pd.to_numeric(
        config.per_athlete(athlete_ids, config.threshold_pace_by_athlete, config.threshold_pace_s_per_km),
        errors="coerce",
    ).to_numpy(dtype=float)
    threshold = np.where(np.isfinite(threshold_configured), threshold_configured, threshold_estimate)

    hrmax_configured = pd.to_numeric(
        config.per_athlete(athlete_ids, config.hrmax_by_athlete, config.hrmax_bpm), errors="coerce"
    ).to_numpy(dtype=float)
    age = pd.to_numeric(config.per_athlete(athlete_ids, config.age_by_athlete, None), errors="coerce").to_numpy(
        dtype=float
    )
    hrmax = np.where(
        np.isfinite(hrmax_configured) & (hrmax_configured > 0),
        hrmax_configured,
        np.where(np.isfinite(hrmax_observed), hrmax_observed, 220.0 - age),
    )
    hr_rest = pd.to_numeric(
        config.per_athlete(athlete_ids, config.hr_rest_by_athlete, config.hr_rest_bpm), errors="coerce"
    ).to_numpy(dtype=float)
    sex = (
        config.per_athlete(athlete_ids, config.sex_by_athlete, config.sex).astype(str).str.upper().str[:1].to_numpy()
    )

    sport = frame["sport"].astype(str).to_numpy()
    is_run = np.isin(sport, list(RUN_SPORTS))
    distance_m = float_column(frame, "distance_m")
    moving_s = float_column(frame, "moving_time_s")
    elapsed_s = float_column(frame, "elapsed_time_s")
    duration_s = np.where(np.isfinite(moving_s) & (moving_s > 0), moving_s, np.where(elapsed_s > 0, elapsed_s, 0.0))
    pace = _pace(frame)
    distance_km = distance_m / 1000.0
    elevation = float_column(frame, "elevation_gain_m")
    with np.errstate(divide="ignore", invalid="ignore"):
        elevation_per_km = np.where(distance_km > 0, elevation / distance_km, np.nan)

    pace_scorable = is_run & plausible_pace(pace, config)  # a GPS glitch must not become a huge rTSS
    factor = np.where(pace_scorable, tl.intensity_factor(pace, threshold), np.nan)
    running_tss = np.where(pace_scorable, tl.rtss(duration_s, pace, threshold), np.nan)

    has_hr = bool_column(frame, "has_heartrate")
    avg_hr = np.where(has_hr, float_column(frame, "average_hr"), np.nan)
    max_hr = np.where(has_hr, float_column(frame, "max_hr"), np.nan)
    zone_pct, profile_mean = _zone_table(frame, hr_profiles, hrmax)
    avg_hr = np.where(np.isfinite(avg_hr) & (avg_hr > 0), avg_hr, profile_mean)
    hr_usable = np.isfinite(avg_hr) & np.isfinite(hrmax) & (duration_s > 0)
    minutes = duration_s / 60.0
    trimp = _by_sex(sex, lambda m, s: tl.banister_trimp(minutes[m], avg_hr[m], hr_rest[m], hrmax[m], s))
    heart_tss = _by_sex(
        sex,
        lambda m, s: tl.hr_tss(
            minutes[m], avg_hr[m], hr_rest[m], hrmax[m], config.lthr_fraction_of_hrmax * hrmax[m], s
        ),
    )
    trimp = np.where(hr_usable, trimp, np.nan)
    heart_tss = np.where(hr_usable, heart_tss, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        efficiency = np.where(
            is_run & (distance_m > 0) & (duration_s > 0) & (avg_hr > 0), (distance_m / minutes) / avg_hr, np.nan
        )

    intensity_default = pd.Series(sport).map(dict(config.default_intensity_by_sport)).fillna(
        config.default_intensity_by_sport.get("other", 0.6)
    ).to_numpy(dtype=float)
    estimate = duration_s / tl.SECONDS_PER_HOUR * intensity_default**2 * 100.0
    training_load, load_source = _choose_load(sport, running_tss, heart_tss, estimate, duration_s)

    result = pd.DataFrame(
        {
            "athlete_id": frame["athlete_id"].astype("int64"),
            "activity_id": frame["activity_id"].astype("int64"),
            "event_timestamp": pd.to_datetime(frame["start_date_utc"], utc=True),
            "activity_date": to_date_objects(as_days(frame["activity_date"])),
            "sport": sport.astype(object),
            "distance_km": distance_km,
            "moving_min": moving_s / 60.0,
            "elapsed_min": elapsed_s / 60.0,
            "pace_s_per_km": pace,
            "elevation_gain_m": elevation,
            "elevation_per_km": elevation_per_km,
            "threshold_pace_s_per_km": threshold,
            "intensity_factor": factor,
            "rtss": running_tss,
            "trimp": trimp,
            "hr_tss": heart_tss,
            "avg_hr": avg_hr,
            "max_hr": max_hr,
            "hrmax_used": hrmax,
        }
    )
    for index, name in enumerate(hr_zones.ZONE_NAMES):
        result[f"{name}_pct"] = zone_pct[:, index]
    result["efficiency_index"] = efficiency
    result["training_load"] = training_load
    result["load_source"] = load_source
    return result[list(ACTIVITY_FEATURE_COLUMNS)]


def _choose_load(
    sport: np.ndarray, running_tss: np.ndarray, heart_tss: np.ndarray, estimate: np.ndarray, duration_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pick the load by the priority rules documented in :func:`activity_features`."""
    load = np.full(sport.shape, np.nan)
    source = np.full(sport.shape, LOAD_SOURCE_NONE, dtype=object)
    road = sport == ROAD_RUN_SPORT
    unreliable_pace = np.isin(sport, list(PACE_UNRELIABLE_RUN_SPORTS))
    ordered_candidates = {
        "road": (road, [(running_tss, LOAD_SOURCE_RTSS), (heart_tss, LOAD_SOURCE_HRTSS)]),
        "unreliable": (unreliable_pace, [(heart_tss, LOAD_SOURCE_HRTSS), (running_tss, LOAD_SOURCE_RTSS)]),
        "other": (~road & ~unreliable_pace, [(heart_tss, LOAD_SOURCE_HRTSS)]),
    }
    for rows, candidates in ordered_candidates.values():
        for values, label in [*candidates, (estimate, LOAD_SOURCE_ESTIMATE)]:
            take = rows & np.isnan(load) & np.isfinite(values)
            load[take] = values[take]
            source[take] = label
    no_duration = ~(duration_s > 0)
    load[no_duration | np.isnan(load)] = 0.0
    source[no_duration] = LOAD_SOURCE_NONE
    return load, source
