"""Pandas computations of the four feature tables: activity, daily, weekly and rolling features.

Every function is pure (no I/O, no Spark, no Dagster) and works on one athlete or many; athletes never
influence each other, so the Spark wiring can call them per athlete through
``groupBy("athlete_id").applyInPandas``. Null values are NaN in float columns (Arrow turns them into
nulls). Domain math lives in :mod:`athlete_platform.domain.training_load`,
:mod:`athlete_platform.domain.hr_zones` and :mod:`athlete_platform.domain.race_baselines` (VDOT); this
module only arranges it into tables.

Leakage rules: an activity's threshold pace and HRmax come only from activities that started strictly
before it; a rolling row for day D ("as of the end of D") uses only days ≤ D.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.domain import hr_zones, race_baselines
from athlete_platform.domain import training_load as tl
from athlete_platform.domain.running import RUN_SPORTS, STANDARD_DISTANCES_M, riegel_time

#: Only road runs have a pace that says something about fitness (trail: climbing, treadmill: belt).
ROAD_RUN_SPORT: Final = "run"
PACE_UNRELIABLE_RUN_SPORTS: Final = frozenset({"trail_run", "treadmill_run"})

#: Intensity factor assumed for a session with neither a usable pace nor HR (see ``training_load``).
DEFAULT_INTENSITY_BY_SPORT: Final[Mapping[str, float]] = {
    "run": 0.75,
    "trail_run": 0.75,
    "treadmill_run": 0.75,
    "ride": 0.65,
    "swim": 0.70,
    "walk": 0.50,
    "hike": 0.60,
    "strength": 0.60,
    "other": 0.60,
}

ACUTE_DAYS: Final = 7
CHRONIC_DAYS: Final = 28
ACTIVITY_WINDOW_DAYS: Final = 30  # distance_30d_km, activity_count_30d, consistency_30d, best_pace_30d
TREND_WINDOW_DAYS: Final = 30  # pace_trend_30d
REST_WINDOW_DAYS: Final = 14  # rest_days_14d
#: Fitness-marker windows (VDOT, efficiency factor): the recent 30 days, and the 90 days whose older
#: 60 (D−89..D−30) are the efficiency baseline; 90 is also the longest window the state keeps.
FITNESS_RECENT_DAYS: Final = 30
FITNESS_LOOKBACK_DAYS: Final = 90
TOP_VDOT_DAYS: Final = 3  # top3_vdot_90d

RISK_ACWR: Final = "ACWR_GT_1_5"
RISK_MONOTONY: Final = "MONOTONY_GT_2"
RISK_TSB: Final = "TSB_LT_MINUS_30"


@dataclass(frozen=True)
class FeatureParams:
    """All tunables of the feature tables. Per-athlete mappings override the global value."""

    threshold_pace_s_per_km: float | None = None  # athlete-set threshold pace; None → estimated
    threshold_pace_by_athlete: Mapping[int, float] = field(default_factory=dict)
    hrmax_bpm: float | None = None  # configured HRmax; None → observed before the activity
    hrmax_by_athlete: Mapping[int, float] = field(default_factory=dict)
    age_by_athlete: Mapping[int, float] = field(default_factory=dict)  # for the 220 − age fallback
    hr_rest_bpm: float = 60.0
    hr_rest_by_athlete: Mapping[int, float] = field(default_factory=dict)
    sex: str = "M"  # TRIMP coefficients; 'F' uses GoldenCheetah's a=0.64, b=1.67
    sex_by_athlete: Mapping[int, str] = field(default_factory=dict)
    #: LTHR ≈ this × HRmax for the hrTSS normalisation (rule-of-thumb; no lab LTHR in the data).
    lthr_fraction_of_hrmax: float = 0.88
    #: Threshold pace = fastest Riegel 60-min projection among road runs in this many days before.
    threshold_lookback_days: float = 90.0
    #: best_effort_*_s = Riegel projection of the best road-run effort in this many days up to D.
    best_effort_lookback_days: int = 90
    #: A road run counts as an effort (threshold / best pace / best efforts / VDOT / EF) from this distance.
    min_effort_distance_m: float = 3_000.0
    #: Road-run paces outside this range are GPS glitches or walks, not usable pace data.
    fastest_plausible_pace_s_per_km: float = 150.0
    slowest_plausible_pace_s_per_km: float = 900.0
    hrmax_upper_bpm: float = hr_zones.MAX_PLAUSIBLE_HR_BPM
    hrmax_spike_tolerance_bpm: float = hr_zones.HRMAX_SPIKE_TOLERANCE_BPM
    default_intensity_by_sport: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_INTENSITY_BY_SPORT))
    ctl_days: float = tl.CTL_DAYS
    atl_days: float = tl.ATL_DAYS
    ctl_seed: float = 0.0  # CTL the day before the athlete's first day
    atl_seed: float = 0.0
    warmup_days: int = 42  # first rolling rows flagged is_warmup
    min_trend_run_days: int = 3  # pace_trend_30d needs this many days with a road run
    risk_acwr_gt: float = 1.5  # Gabbett 2016 "danger zone", on acwr_rolling_7_28
    risk_monotony_gt: float = 2.0  # Foster
    risk_tsb_lt: float = -30.0  # on tsb (yesterday convention)
    #: CTL seeded at 0 makes TSB deeply negative in the first weeks of any athlete: by default the
    #: TSB flag is not raised during warm-up (ACWR is NaN there anyway; monotony needs no history).
    flag_tsb_during_warmup: bool = False

    @property
    def state_window_days(self) -> int:
        """Trailing daily rows the rolling state keeps: the longest window any rolling column reads."""
        return max(
            self.best_effort_lookback_days,
            ACTIVITY_WINDOW_DAYS,
            TREND_WINDOW_DAYS,
            CHRONIC_DAYS,
            REST_WINDOW_DAYS,
            FITNESS_RECENT_DAYS,
            FITNESS_LOOKBACK_DAYS,
        )

    def per_athlete(self, athlete_ids: pd.Series, by_athlete: Mapping[int, Any], default: Any) -> pd.Series:
        """The per-athlete value of a setting, aligned with ``athlete_ids``."""
        values = athlete_ids.map(dict(by_athlete)) if by_athlete else pd.Series(np.nan, index=athlete_ids.index)
        if default is None:
            return values
        return values.astype(object).where(values.notna(), default)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _as_days(values: Iterable[Any] | pd.Series) -> np.ndarray:
    """Dates (date objects, Timestamps or strings) → datetime64[D]."""
    return pd.to_datetime(pd.Series(values) if not isinstance(values, pd.Series) else values).to_numpy(
        dtype="datetime64[ns]"
    ).astype("datetime64[D]")


def _as_day(value: dt.date | str | pd.Timestamp) -> np.datetime64:
    return pd.Timestamp(value).to_datetime64().astype("datetime64[D]")


def _to_date_objects(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype(object)


def _utc_ns(values: pd.Series) -> np.ndarray:
    """Timestamps (aware or naive-as-UTC) → int64 ns since the epoch."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _float(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _bool(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _is_effort(sport: np.ndarray, distance_m: np.ndarray, pace: np.ndarray, config: FeatureParams) -> np.ndarray:
    """Road runs long enough and with a plausible pace to stand for the athlete's fitness."""
    return (
        (sport == ROAD_RUN_SPORT)
        & (distance_m >= config.min_effort_distance_m)
        & _plausible_pace(pace, config)
    )


def _plausible_pace(pace: np.ndarray, config: FeatureParams) -> np.ndarray:
    return (
        np.isfinite(pace)
        & (pace >= config.fastest_plausible_pace_s_per_km)
        & (pace <= config.slowest_plausible_pace_s_per_km)
    )


def _empty_frame(columns: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


# ----------------------------------------------------------------------------------------------
# Activity features
# ----------------------------------------------------------------------------------------------

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
    prepared["_t_ns"] = _utc_ns(prepared["start_date_utc"])
    return prepared


def _hrmax_before(combined: pd.DataFrame, config: FeatureParams, wanted: np.ndarray) -> np.ndarray:
    """HRmax observed before each ``wanted`` row (NaN elsewhere: history rows need no value)."""
    observed_max = np.where(_bool(combined, "has_heartrate"), _float(combined, "max_hr"), np.nan)
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
    distance = _float(combined, "distance_m")
    moving = _float(combined, "moving_time_s")
    pace = _pace(combined)
    sport = combined["sport"].astype(str).to_numpy()
    effort = _is_effort(sport, distance, pace, config) & (moving > 0)
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
    pace = _float(frame, "pace_s_per_km")
    distance = _float(frame, "distance_m")
    moving = _float(frame, "moving_time_s")
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
        return _empty_frame(ACTIVITY_FEATURE_COLUMNS)
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
    distance_m = _float(frame, "distance_m")
    moving_s = _float(frame, "moving_time_s")
    elapsed_s = _float(frame, "elapsed_time_s")
    duration_s = np.where(np.isfinite(moving_s) & (moving_s > 0), moving_s, np.where(elapsed_s > 0, elapsed_s, 0.0))
    pace = _pace(frame)
    distance_km = distance_m / 1000.0
    elevation = _float(frame, "elevation_gain_m")
    with np.errstate(divide="ignore", invalid="ignore"):
        elevation_per_km = np.where(distance_km > 0, elevation / distance_km, np.nan)

    pace_scorable = is_run & _plausible_pace(pace, config)  # a GPS glitch must not become a huge rTSS
    factor = np.where(pace_scorable, tl.intensity_factor(pace, threshold), np.nan)
    running_tss = np.where(pace_scorable, tl.rtss(duration_s, pace, threshold), np.nan)

    has_hr = _bool(frame, "has_heartrate")
    avg_hr = np.where(has_hr, _float(frame, "average_hr"), np.nan)
    max_hr = np.where(has_hr, _float(frame, "max_hr"), np.nan)
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
            "activity_date": _to_date_objects(_as_days(frame["activity_date"])),
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


# ----------------------------------------------------------------------------------------------
# Daily features
# ----------------------------------------------------------------------------------------------

DAILY_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "date": "object",  # datetime.date (local)
    "daily_load": "float64",
    "distance_km": "float64",  # running distance (run, trail_run, treadmill_run)
    "moving_min": "float64",  # all sports
    "activity_count": "int64",
    "run_count": "int64",
    "longest_run_km": "float64",
    "road_run_distance_km": "float64",
    "road_run_moving_min": "float64",
    "best_pace_s_per_km": "float64",
    "best_effort_distance_m": "float64",
    "best_effort_time_s": "float64",
    "best_vdot": "float64",
    "mean_vdot": "float64",
    "efficiency_factor": "float64",
}


_DAILY_SUM_COLUMNS: Final = ("daily_load", "distance_km", "moving_min", "road_run_distance_km", "road_run_moving_min")


def _first_dates(first_activity_dates: Mapping[int, Any] | pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(first_activity_dates, pd.DataFrame):
        series = first_activity_dates.set_index("athlete_id")["first_activity_date"]
    elif isinstance(first_activity_dates, pd.Series):
        series = first_activity_dates
    else:
        series = pd.Series(dict(first_activity_dates), dtype=object)
    if series.empty:
        return pd.Series(dtype="datetime64[ns]")
    days = _as_days(series.reset_index(drop=True)).astype("datetime64[ns]")
    return pd.Series(days, index=series.index.astype("int64"))


def daily_features(
    activity_features_df: pd.DataFrame,
    first_activity_dates: Mapping[int, Any] | pd.Series | pd.DataFrame,
    start: dt.date | str,
    end: dt.date | str,
    config: FeatureParams | None = None,
) -> pd.DataFrame:
    """One row per athlete per calendar day in ``[start, end)`` (end exclusive, like Dagster's
    partition window) from the athlete's first activity on; rest days are rows with zero load.

    ``first_activity_dates``: {athlete_id: date}, a Series indexed by athlete_id, or a DataFrame with
    columns athlete_id, first_activity_date. Athletes with activities in the frame but no entry (or a
    later entry) start at their earliest activity in the frame.

    Columns (see :data:`DAILY_FEATURE_COLUMNS`): athlete_id int64, date (date), daily_load (sum of
    training_load), distance_km (*running* distance: run + trail + treadmill), moving_min (all sports),
    activity_count, run_count (int64), longest_run_km (longest single run, 0 without runs), and the
    inputs rolling features need: road_run_distance_km / road_run_moving_min (road runs with plausible
    pace, for the pace trend), best_pace_s_per_km (fastest effort-eligible road run, NaN if none),
    best_effort_distance_m / best_effort_time_s (the day's effort with the best Riegel score).

    Fitness markers of the day's *effort-eligible* road runs (the ``best_pace_s_per_km`` rule: road
    run, distance ≥ ``min_effort_distance_m``, plausible pace, moving time > 0); NaN on days without:

    * best_vdot: the highest Daniels-Gilbert VDOT (Daniels & Gilbert 1979, *Oxygen Power*;
      :func:`race_baselines.vdot_from_performances` of distance and moving time) of those runs. A
      training run is not a race, so this is a lower bound of the athlete's VDOT, not an estimate of it.
    * mean_vdot: their moving-time-weighted mean VDOT (a long easy run outweighs a short one).
    * efficiency_factor: TrainingPeaks' Efficiency Factor for running (J. Friel, "Efficiency Factor and
      Decoupling", trainingpeaks.com/blog/efficiency-factor-and-decoupling: speed ÷ average HR; here
      plain speed in m/min, not graded pace: road runs only) over those runs that have an average HR
      (``avg_hr``: silver's, else the HR profile's mean), combined over the day as
      Σ distance_m · 60 / Σ (avg_hr · moving_s), i.e. metres per heartbeat; NaN without HR.
    """
    config = config or FeatureParams()
    start_day, end_day = _as_day(start), _as_day(end)
    firsts = _first_dates(first_activity_dates)
    features = activity_features_df
    days = _as_days(features["activity_date"]) if len(features) else np.empty(0, dtype="datetime64[D]")
    if len(features):
        earliest = pd.Series(days.astype("datetime64[ns]"), index=features.index).groupby(
            features["athlete_id"].astype("int64")
        ).min()
        firsts = pd.concat([firsts, earliest]).groupby(level=0).min()
    if firsts.empty:
        return _empty_frame(DAILY_FEATURE_COLUMNS)

    calendar_athletes: list[np.ndarray] = []
    calendar_days: list[np.ndarray] = []
    for athlete_id, first in firsts.items():
        span = np.arange(max(np.datetime64(first, "D"), start_day), end_day, dtype="datetime64[D]")
        calendar_athletes.append(np.full(span.size, athlete_id, dtype=np.int64))
        calendar_days.append(span)
    calendar = pd.DataFrame(
        {
            "athlete_id": np.concatenate(calendar_athletes),
            "_day": np.concatenate(calendar_days).astype("datetime64[ns]"),
        }
    )
    if calendar.empty:
        return _empty_frame(DAILY_FEATURE_COLUMNS)

    in_window = (days >= start_day) & (days < end_day)
    window = features[in_window]
    aggregated = _aggregate_days(window, days[in_window], config)
    daily = calendar.merge(aggregated, on=["athlete_id", "_day"], how="left", sort=False)
    for column in _DAILY_SUM_COLUMNS + ("longest_run_km",):
        daily[column] = daily[column].fillna(0.0).astype("float64")
    for column in ("activity_count", "run_count"):
        daily[column] = daily[column].fillna(0).astype("int64")
    daily["date"] = _to_date_objects(daily["_day"].to_numpy(dtype="datetime64[ns]"))
    daily = daily.sort_values(["athlete_id", "_day"], kind="stable").reset_index(drop=True)
    return daily[list(DAILY_FEATURE_COLUMNS)]


def _aggregate_days(window: pd.DataFrame, days: np.ndarray, config: FeatureParams) -> pd.DataFrame:
    columns = ["athlete_id", "_day", *[c for c in DAILY_FEATURE_COLUMNS if c not in ("athlete_id", "date")]]
    if window.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}).astype(
            {"athlete_id": "int64", "_day": "datetime64[ns]"}
        )
    sport = window["sport"].astype(str).to_numpy()
    is_run = np.isin(sport, list(RUN_SPORTS))
    distance_km = np.nan_to_num(_float(window, "distance_km"), nan=0.0)
    moving_min = np.nan_to_num(_float(window, "moving_min"), nan=0.0)
    pace = _float(window, "pace_s_per_km")
    road_with_pace = (sport == ROAD_RUN_SPORT) & (distance_km > 0) & _plausible_pace(pace, config)
    effort = _is_effort(sport, distance_km * 1000.0, pace, config) & (moving_min > 0)
    per_activity = pd.DataFrame(
        {
            "athlete_id": window["athlete_id"].astype("int64").to_numpy(),
            "_day": days.astype("datetime64[ns]"),
            "daily_load": np.nan_to_num(_float(window, "training_load"), nan=0.0),
            "distance_km": np.where(is_run, distance_km, 0.0),
            "moving_min": moving_min,
            "activity_count": 1,
            "run_count": is_run.astype(np.int64),
            "longest_run_km": np.where(is_run, distance_km, 0.0),
            "road_run_distance_km": np.where(road_with_pace, distance_km, 0.0),
            "road_run_moving_min": np.where(road_with_pace, moving_min, 0.0),
            "best_pace_s_per_km": np.where(effort, pace, np.nan),
            "_effort_distance_m": np.where(effort, distance_km * 1000.0, np.nan),
            "_effort_time_s": np.where(effort, moving_min * 60.0, np.nan),
        }
    )
    effort_s = np.where(effort, moving_min * 60.0, 0.0)
    vdot = race_baselines.vdot_from_performances(per_activity["_effort_distance_m"], per_activity["_effort_time_s"])
    avg_hr = _float(window, "avg_hr")
    with_hr = effort & np.isfinite(avg_hr) & (avg_hr > 0)
    per_activity["best_vdot"] = vdot  # NaN on non-efforts: the groupby max skips them
    per_activity["_vdot_s"] = np.where(effort, vdot * effort_s, 0.0)
    per_activity["_effort_s"] = effort_s
    per_activity["_hr_distance_m"] = np.where(with_hr, distance_km * 1000.0, 0.0)
    per_activity["_heart_s"] = np.where(with_hr, avg_hr * effort_s, 0.0)  # bpm · s = 60 × heartbeats
    with np.errstate(divide="ignore", invalid="ignore"):
        per_activity["_score"] = tl.riegel_score(per_activity["_effort_time_s"], per_activity["_effort_distance_m"])
    grouped = per_activity.groupby(["athlete_id", "_day"], sort=False)
    sums = grouped[
        [*_DAILY_SUM_COLUMNS, "activity_count", "run_count", "_vdot_s", "_effort_s", "_hr_distance_m", "_heart_s"]
    ].sum()
    maxima = grouped[["longest_run_km", "best_vdot"]].max()
    minima = grouped[["best_pace_s_per_km"]].min()
    with np.errstate(divide="ignore", invalid="ignore"):
        sums["mean_vdot"] = np.where(sums["_effort_s"] > 0, sums["_vdot_s"] / sums["_effort_s"], np.nan)
        sums["efficiency_factor"] = np.where(
            sums["_heart_s"] > 0, sums["_hr_distance_m"] * 60.0 / sums["_heart_s"], np.nan
        )
    best = (
        per_activity[np.isfinite(per_activity["_score"])]
        .sort_values("_score", kind="stable")
        .drop_duplicates(["athlete_id", "_day"], keep="first")
        .set_index(["athlete_id", "_day"])[["_effort_distance_m", "_effort_time_s"]]
        .rename(columns={"_effort_distance_m": "best_effort_distance_m", "_effort_time_s": "best_effort_time_s"})
    )
    aggregated = sums.join(maxima).join(minima).join(best, how="left").reset_index()
    return aggregated[columns]


# ----------------------------------------------------------------------------------------------
# Weekly features
# ----------------------------------------------------------------------------------------------

WEEKLY_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "week_start": "object",  # datetime.date, a Monday
    "volume_km": "float64",
    "load": "float64",
    "monotony": "float64",
    "strain": "float64",
    "long_run_km": "float64",
    "run_count": "int64",
    "rest_days": "int64",
    "days_covered": "int64",
}


def weekly_features(daily_df: pd.DataFrame) -> pd.DataFrame:
    """One row per athlete per Monday-based week present in ``daily_df``.

    Columns (see :data:`WEEKLY_FEATURE_COLUMNS`): volume_km (running km), load (sum of daily_load),
    monotony (Foster over the 7 calendar days, population SD, SD = 0 → 10, clamped to [0, 10]),
    strain = load × monotony, long_run_km (longest single run), run_count, rest_days (daily rows with
    no activity), days_covered (daily rows present).

    Partial weeks (the athlete's first week, or the current week): days without a daily row enter
    monotony/strain as rest days (load 0, Runalyze's always-7-days rule) but are *not* counted in
    rest_days; days_covered < 7 marks them. Pass whole weeks of daily rows for whole-week values.
    """
    if daily_df.empty:
        return _empty_frame(WEEKLY_FEATURE_COLUMNS)
    # Sums in (athlete, date) order whatever order the rows come in (Spark does not keep one), so a
    # week's float sums do not change in the last bit with the row order.
    daily_df = daily_df.iloc[
        np.lexsort((_as_days(daily_df["date"]), daily_df["athlete_id"].astype("int64").to_numpy()))
    ]
    days = _as_days(daily_df["date"])
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    week_start = (days - weekday.astype("timedelta64[D]")).astype("datetime64[ns]")
    frame = pd.DataFrame(
        {
            "athlete_id": daily_df["athlete_id"].astype("int64").to_numpy(),
            "_week": week_start,
            "volume_km": _float(daily_df, "distance_km"),
            "load": np.nan_to_num(_float(daily_df, "daily_load"), nan=0.0),
            "long_run_km": _float(daily_df, "longest_run_km"),
            "run_count": daily_df["run_count"].astype("int64").to_numpy(),
            "rest_days": (daily_df["activity_count"].astype("int64").to_numpy() == 0).astype(np.int64),
            "days_covered": 1,
        }
    )
    if pd.DataFrame({"athlete_id": frame["athlete_id"], "_day": days}).duplicated().any():
        raise ValueError("daily_df has duplicate (athlete_id, date) rows")
    grouped = frame.groupby(["athlete_id", "_week"], sort=True)
    weekly = grouped.agg(
        volume_km=("volume_km", "sum"),
        load=("load", "sum"),
        long_run_km=("long_run_km", "max"),
        run_count=("run_count", "sum"),
        rest_days=("rest_days", "sum"),
        days_covered=("days_covered", "sum"),
    ).reset_index()
    week_matrix = np.zeros((len(weekly), 7))
    week_matrix[grouped.ngroup().to_numpy(), weekday] = frame["load"].to_numpy()
    weekly["monotony"] = tl.monotony_of_weeks(week_matrix)
    weekly["strain"] = week_matrix.sum(axis=1) * weekly["monotony"].to_numpy()
    weekly["week_start"] = _to_date_objects(weekly["_week"].to_numpy(dtype="datetime64[ns]"))
    counts = {"run_count": "int64", "rest_days": "int64", "days_covered": "int64"}
    return weekly[list(WEEKLY_FEATURE_COLUMNS)].astype(counts)


# ----------------------------------------------------------------------------------------------
# Rolling features (incremental)
# ----------------------------------------------------------------------------------------------

#: Daily columns the rolling state keeps a trailing window of.
STATE_WINDOW_COLUMNS: Final = (
    "daily_load",
    "activity_count",
    "distance_km",
    "road_run_distance_km",
    "road_run_moving_min",
    "best_pace_s_per_km",
    "best_effort_distance_m",
    "best_effort_time_s",
    "best_vdot",
    "mean_vdot",
    "efficiency_factor",
)

ROLLING_STATE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "last_date": "object",  # datetime.date: the last day folded into the state
    "days_seen": "int64",  # daily rows folded in since the athlete's first day
    "ctl": "float64",
    "atl": "float64",
    "ewma_acute": "float64",
    "ewma_chronic": "float64",
    **{f"window_{name}": "object" for name in STATE_WINDOW_COLUMNS},  # list[float], oldest first
}

ROLLING_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "as_of_date": "object",  # datetime.date; features as of the end of this day
    "ctl": "float64",
    "atl": "float64",
    "tsb": "float64",
    "tsb_same_day": "float64",
    "acwr_rolling_7_28": "float64",
    "acwr_ewma_7_28": "float64",
    "pace_trend_30d": "float64",
    "best_pace_30d": "float64",
    "distance_30d_km": "float64",
    "activity_count_30d": "int64",
    "consistency_30d": "float64",
    "monotony_7d": "float64",
    "strain_7d": "float64",
    "rest_days_14d": "int64",
    "best_effort_5k_s": "float64",
    "best_effort_10k_s": "float64",
    "best_effort_21k_s": "float64",
    "best_effort_42k_s": "float64",
    "best_vdot_30d": "float64",
    "median_vdot_30d": "float64",
    "top3_vdot_90d": "float64",
    "days_since_best_vdot_90d": "float64",  # NaN without an effort in 90 days, hence not int64
    "efficiency_factor_30d": "float64",
    "efficiency_factor_ratio": "float64",
    "is_warmup": "bool",
    "is_overtraining_risk": "bool",
    "risk_reasons": "object",
    # The recursion's scalar state, kept on every row so day D can continue from D−1's row alone
    # (the trailing windows are rebuilt from the daily table: see state_from_previous_rows).
    "days_seen": "int64",
    "ewma_acute": "float64",
    "ewma_chronic": "float64",
}


@dataclass
class RollingState:
    """Everything needed to continue the rolling features of one athlete after ``last_date``."""

    athlete_id: int
    last_date: dt.date
    days_seen: int
    ctl: float
    atl: float
    ewma_acute: float
    ewma_chronic: float
    window: dict[str, np.ndarray]  # trailing daily values ending at last_date, oldest first

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "athlete_id": self.athlete_id,
            "last_date": self.last_date,
            "days_seen": self.days_seen,
            "ctl": self.ctl,
            "atl": self.atl,
            "ewma_acute": self.ewma_acute,
            "ewma_chronic": self.ewma_chronic,
        }
        for name in STATE_WINDOW_COLUMNS:
            record[f"window_{name}"] = [float(v) for v in self.window[name]]
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RollingState:
        return cls(
            athlete_id=int(record["athlete_id"]),
            last_date=pd.Timestamp(record["last_date"]).date(),
            days_seen=int(record["days_seen"]),
            ctl=float(record["ctl"]),
            atl=float(record["atl"]),
            ewma_acute=float(record["ewma_acute"]),
            ewma_chronic=float(record["ewma_chronic"]),
            window={name: np.asarray(record[f"window_{name}"], dtype=float) for name in STATE_WINDOW_COLUMNS},
        )


def states_to_frame(states: Iterable[RollingState]) -> pd.DataFrame:
    """RollingState objects → the state table (one row per athlete)."""
    records = [state.to_record() for state in states]
    if not records:
        return _empty_frame(ROLLING_STATE_COLUMNS)
    return pd.DataFrame.from_records(records, columns=list(ROLLING_STATE_COLUMNS)).astype(
        {"athlete_id": "int64", "days_seen": "int64"}
    )


def states_from_frame(state_df: pd.DataFrame | None) -> dict[int, RollingState]:
    if state_df is None or state_df.empty:
        return {}
    return {int(r["athlete_id"]): RollingState.from_record(r) for r in state_df.to_dict("records")}


def state_from_previous_rows(
    previous_rows: pd.DataFrame | None, daily_history: pd.DataFrame, config: FeatureParams | None = None
) -> pd.DataFrame:
    """The state table as of the day of ``previous_rows`` (one rolling row per athlete, all on the same
    day D−1), with the trailing windows rebuilt from ``daily_history`` (the athletes' daily rows up to
    and including D−1; at least ``state_window_days`` of them when the athlete has that many).

    This is what lets a partitioned asset continue the recursion from its previous partition without
    storing 90-day windows on every row.
    """
    config = config or FeatureParams()
    if previous_rows is None or previous_rows.empty:
        return _empty_frame(ROLLING_STATE_COLUMNS)
    keep = config.state_window_days
    history_days = _as_days(daily_history["date"]) if len(daily_history) else np.empty(0, dtype="datetime64[D]")
    history = daily_history.assign(_day=history_days).sort_values(["athlete_id", "_day"], kind="stable")
    by_athlete = {int(a): g for a, g in history.groupby("athlete_id", sort=False)}
    states = []
    for row in previous_rows.to_dict("records"):
        athlete_id = int(row["athlete_id"])
        last_day = np.datetime64(pd.Timestamp(row["as_of_date"]).date(), "D")
        daily = by_athlete.get(athlete_id)
        daily = daily[daily["_day"] <= last_day] if daily is not None else history.iloc[0:0]
        if daily.empty or daily["_day"].iloc[-1] != last_day:
            raise ValueError(f"athlete {athlete_id}: no daily features row for {last_day} to rebuild the rolling state")
        tail = daily.iloc[-keep:]
        window = {name: _float(tail, name) for name in STATE_WINDOW_COLUMNS}
        for name in ("daily_load", "activity_count", "distance_km", "road_run_distance_km", "road_run_moving_min"):
            window[name] = np.nan_to_num(window[name], nan=0.0)
        states.append(
            RollingState(
                athlete_id=athlete_id,
                last_date=pd.Timestamp(row["as_of_date"]).date(),
                days_seen=int(row["days_seen"]),
                ctl=float(row["ctl"]),
                atl=float(row["atl"]),
                ewma_acute=float(row["ewma_acute"]),
                ewma_chronic=float(row["ewma_chronic"]),
                window=window,
            )
        )
    return states_to_frame(states)


def _window_matrix(values: np.ndarray, window: int, new_rows: int) -> np.ndarray:
    """Trailing windows (NaN before the athlete's first day) for the last ``new_rows`` positions."""
    padded = np.concatenate((np.full(window - 1, np.nan), values))
    return np.lib.stride_tricks.sliding_window_view(padded, window)[-new_rows:]


def _median_of_rows(windows: np.ndarray) -> np.ndarray:
    """Per-row median of the finite entries (NaN for a row without any), like ``np.nanmedian`` but one
    sort for the whole matrix instead of masked arrays, and no warning on empty rows."""
    ordered = np.sort(windows, axis=1)  # NaN sorts last
    count = np.isfinite(windows).sum(axis=1)
    rows = np.arange(windows.shape[0])
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.maximum(count // 2, 0)]
    return np.where(count > 0, (low + high) / 2.0, np.nan)


def _mean_of_top(windows: np.ndarray, k: int) -> np.ndarray:
    """Per-row mean of the ``k`` highest finite entries (fewer if fewer; NaN for none)."""
    k = min(k, windows.shape[1])
    negated = -windows  # NaN sorts last, so the k smallest negated values are the k highest values
    top = np.sort(np.partition(negated, k - 1, axis=1)[:, :k], axis=1)  # sorted: a fixed summation order
    count = np.isfinite(top).sum(axis=1)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, -np.where(np.isfinite(top), top, 0.0).sum(axis=1) / count, np.nan)


def _days_since_max(windows: np.ndarray) -> np.ndarray:
    """Per row, days from the latest day holding the window's maximum to the window's last day (0 = the
    last day); NaN for a row without a finite entry."""
    newest_first = windows[:, ::-1]
    finite = np.isfinite(newest_first)
    position = np.argmax(np.where(finite, newest_first, -np.inf), axis=1)  # argmax: first = most recent tie
    return np.where(finite.any(axis=1), position.astype(float), np.nan)


def _ols_slope(y_windows: np.ndarray, min_points: int) -> np.ndarray:
    """Per-row least-squares slope of y on day offset (0..w−1), NaN entries ignored."""
    mask = np.isfinite(y_windows)
    x = np.broadcast_to(np.arange(y_windows.shape[1], dtype=float), y_windows.shape)
    y = np.where(mask, y_windows, 0.0)
    xm = np.where(mask, x, 0.0)
    n = mask.sum(axis=1).astype(float)
    sx, sy = xm.sum(axis=1), y.sum(axis=1)
    sxx, sxy = (xm * xm).sum(axis=1), (xm * y).sum(axis=1)
    denominator = n * sxx - sx * sx
    ok = (n >= min_points) & (denominator > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, (n * sxy - sx * sy) / np.where(ok, denominator, 1.0), np.nan)


def _advance_athlete(
    athlete_id: int,
    state: RollingState | None,
    days: np.ndarray,
    daily: Mapping[str, np.ndarray],
    config: FeatureParams,
) -> tuple[dict[str, np.ndarray], RollingState]:
    """Fold consecutive daily rows of one athlete into its state; return the rolling rows."""
    n = days.size
    if n > 1 and not np.all(np.diff(days).astype(np.int64) == 1):
        raise ValueError(f"athlete {athlete_id}: daily rows must be consecutive calendar days without gaps")
    if state is not None:
        expected = np.datetime64(state.last_date, "D") + 1
        if days[0] != expected:
            raise ValueError(
                f"athlete {athlete_id}: daily rows start {days[0]} but the state ends {state.last_date}; "
                f"expected {expected} (pass the state as of the day before the first row)"
            )
    loads = daily["daily_load"]
    if state is None:
        ctl0, atl0 = config.ctl_seed, config.atl_seed
        acute0 = chronic0 = float(loads[0])  # EWMA seeded with day 1's load (Williams et al.)
        days_seen0 = 0
        previous = {name: np.empty(0) for name in STATE_WINDOW_COLUMNS}
    else:
        ctl0, atl0, acute0, chronic0 = state.ctl, state.atl, state.ewma_acute, state.ewma_chronic
        days_seen0 = state.days_seen
        previous = state.window

    pmc = tl.pmc_trainingpeaks(loads, config.ctl_days, config.atl_days, ctl0, atl0)
    ewma_acute = tl.smooth_load(loads, tl.alpha_ewma(ACUTE_DAYS), acute0)
    ewma_chronic = tl.smooth_load(loads, tl.alpha_ewma(CHRONIC_DAYS), chronic0)

    extended = {name: np.concatenate((previous[name], daily[name])) for name in STATE_WINDOW_COLUMNS}
    history_loads = extended["daily_load"]
    acwr_rolling = tl.acwr_rolling_coupled(history_loads, ACUTE_DAYS, CHRONIC_DAYS)[-n:]
    monotony, strain = (series[-n:] for series in tl.rolling_monotony_strain(history_loads))

    counts_30 = _window_matrix(extended["activity_count"], ACTIVITY_WINDOW_DAYS, n)
    observed_30 = np.isfinite(counts_30).sum(axis=1)
    active_30 = (counts_30 > 0).sum(axis=1)
    counts_14 = _window_matrix(extended["activity_count"], REST_WINDOW_DAYS, n)
    distance_30 = np.nansum(_window_matrix(extended["distance_km"], ACTIVITY_WINDOW_DAYS, n), axis=1)
    best_pace_30 = np.fmin.reduce(_window_matrix(extended["best_pace_s_per_km"], ACTIVITY_WINDOW_DAYS, n), axis=1)

    road_km = _window_matrix(extended["road_run_distance_km"], TREND_WINDOW_DAYS, n)
    road_min = _window_matrix(extended["road_run_moving_min"], TREND_WINDOW_DAYS, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        daily_pace = np.where(road_km > 0, road_min * 60.0 / road_km, np.nan)
    pace_trend = _ols_slope(daily_pace, config.min_trend_run_days)

    lookback = config.best_effort_lookback_days
    effort_d = _window_matrix(extended["best_effort_distance_m"], lookback, n)
    effort_t = _window_matrix(extended["best_effort_time_s"], lookback, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(np.isfinite(effort_d) & np.isfinite(effort_t), tl.riegel_score(effort_t, effort_d), np.inf)
    best_index = np.argmin(score, axis=1)
    rows = np.arange(n)
    has_effort = np.isfinite(score[rows, best_index])
    best_d = np.where(has_effort, effort_d[rows, best_index], np.nan)
    best_t = np.where(has_effort, effort_t[rows, best_index], np.nan)

    # Fitness markers: one 90-day matrix each; the recent 30 days are its last 30 columns.
    vdot_90 = _window_matrix(extended["best_vdot"], FITNESS_LOOKBACK_DAYS, n)
    mean_vdot_30 = _window_matrix(extended["mean_vdot"], FITNESS_RECENT_DAYS, n)
    ef_90 = _window_matrix(extended["efficiency_factor"], FITNESS_LOOKBACK_DAYS, n)
    ef_recent = _median_of_rows(ef_90[:, -FITNESS_RECENT_DAYS:])
    ef_baseline = _median_of_rows(ef_90[:, :-FITNESS_RECENT_DAYS])
    with np.errstate(divide="ignore", invalid="ignore"):
        ef_ratio = np.where(ef_baseline > 0, ef_recent / ef_baseline, np.nan)

    day_number = days_seen0 + np.arange(1, n + 1)
    acwr_ewma = tl.acwr_from_averages(ewma_acute, ewma_chronic)
    weekly_load = np.nan_to_num(_window_matrix(history_loads, 7, n), nan=0.0).sum(axis=1)
    risk_acwr = acwr_rolling > config.risk_acwr_gt
    # a week without load has SD 0 (monotony 10 by rule) but is not monotonous training
    risk_monotony = (monotony > config.risk_monotony_gt) & (weekly_load > 0)
    is_warmup = day_number <= config.warmup_days
    risk_tsb = (pmc.tsb_yesterday < config.risk_tsb_lt) & (~is_warmup | config.flag_tsb_during_warmup)
    reasons = np.array(
        [
            ",".join(code for code, flag in ((RISK_ACWR, a), (RISK_MONOTONY, m), (RISK_TSB, t)) if flag)
            for a, m, t in zip(risk_acwr.tolist(), risk_monotony.tolist(), risk_tsb.tolist())
        ],
        dtype=object,
    )

    output: dict[str, np.ndarray] = {
        "athlete_id": np.full(n, athlete_id, dtype=np.int64),
        "as_of_date": _to_date_objects(days),
        "ctl": pmc.ctl,
        "atl": pmc.atl,
        "tsb": pmc.tsb_yesterday,
        "tsb_same_day": pmc.tsb_same_day,
        "acwr_rolling_7_28": acwr_rolling,
        "acwr_ewma_7_28": acwr_ewma,
        "pace_trend_30d": pace_trend,
        "best_pace_30d": best_pace_30,
        "distance_30d_km": distance_30,
        "activity_count_30d": np.nansum(counts_30, axis=1).astype(np.int64),
        "consistency_30d": active_30 / observed_30,
        "monotony_7d": monotony,
        "strain_7d": strain,
        "rest_days_14d": (counts_14 == 0).sum(axis=1).astype(np.int64),
    }
    for label, distance in STANDARD_DISTANCES_M.items():
        output[f"best_effort_{label}_s"] = riegel_time(best_t, best_d, distance)
    output["best_vdot_30d"] = np.fmax.reduce(vdot_90[:, -FITNESS_RECENT_DAYS:], axis=1)
    output["median_vdot_30d"] = _median_of_rows(mean_vdot_30)
    output["top3_vdot_90d"] = _mean_of_top(vdot_90, TOP_VDOT_DAYS)
    output["days_since_best_vdot_90d"] = _days_since_max(vdot_90)
    output["efficiency_factor_30d"] = ef_recent
    output["efficiency_factor_ratio"] = ef_ratio
    output["is_warmup"] = is_warmup
    output["is_overtraining_risk"] = risk_acwr | risk_monotony | risk_tsb
    output["risk_reasons"] = reasons
    output["days_seen"] = day_number.astype(np.int64)
    output["ewma_acute"] = ewma_acute
    output["ewma_chronic"] = ewma_chronic

    keep = config.state_window_days
    new_state = RollingState(
        athlete_id=athlete_id,
        last_date=pd.Timestamp(days[-1]).date(),
        days_seen=int(day_number[-1]),
        ctl=float(pmc.ctl[-1]),
        atl=float(pmc.atl[-1]),
        ewma_acute=float(ewma_acute[-1]),
        ewma_chronic=float(ewma_chronic[-1]),
        window={name: values[-keep:].copy() for name, values in extended.items()},
    )
    return output, new_state


def rolling_features(
    daily_df: pd.DataFrame, prev_state_df: pd.DataFrame | None, config: FeatureParams | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling (as-of-end-of-day) features, computed incrementally from the previous state.

    For each athlete, ``daily_df`` must hold consecutive calendar days starting the day after the
    athlete's state ``last_date`` (or anywhere, for an athlete without state: that day is day 1, with
    CTL/ATL seeded from ``config`` and the EWMAs with the day's load). One call over 200 days and 200
    chained one-day calls give the same rows. Returns ``(rows, new_state)``; the new state has one row
    per athlete of ``daily_df`` or ``prev_state_df`` (athletes without new rows keep their state).

    Columns (see :data:`ROLLING_FEATURE_COLUMNS`), per athlete and day D, using only days ≤ D:

    * ctl, atl: TrainingPeaks 1/N recursion (N = 42 / 7). tsb: TrainingPeaks "Form" = **yesterday's**
      CTL − yesterday's ATL (day 1: the seeds); tsb_same_day = today's CTL − ATL (Runalyze).
    * acwr_rolling_7_28: Gabbett coupled rolling mean(7 d) / mean(28 d incl. the 7), NaN until the
      athlete has 28 days and when the 28-day load is 0. acwr_ewma_7_28: EWMA λ = 2/(N+1), seeded
      with the athlete's day-1 load, NaN when the chronic EWMA is 0.
    * pace_trend_30d: OLS slope (s/km per day; negative = getting faster) of each day's road-run pace
      (total time / total distance of that day's road runs) on the day, over the last 30 days; NaN
      with fewer than ``min_trend_run_days`` run days.
    * best_pace_30d: fastest effort-eligible road-run pace (s/km) in 30 days; distance_30d_km
      (running km), activity_count_30d (int64); consistency_30d = share of the athlete's days in the
      last 30 (only days since the first activity) with at least one activity.
    * monotony_7d, strain_7d: Foster over the last 7 days (days before the first count as rest).
    * rest_days_14d (int64): days without activity in the last 14 (days since the first activity).
    * best_effort_{5k,10k,21k,42k}_s: Riegel (exponent 1.06) projection of the road-run effort with the
      best Riegel score in the last ``best_effort_lookback_days`` (90) days; NaN without one.
    * Fitness markers from the daily best_vdot / mean_vdot / efficiency_factor (see
      :func:`daily_features`; days without a value are skipped, NaN when the window has none):
      best_vdot_30d = max best_vdot of the last 30 days; median_vdot_30d = median mean_vdot of the last
      30; top3_vdot_90d = mean of the 3 highest best_vdot days of the last 90 (fewer if fewer: one hard
      run is noisy, three agree); days_since_best_vdot_90d = days from the (latest) day with the highest
      best_vdot of the last 90 to D (0 = D; float64 for the NaN); efficiency_factor_30d = median
      efficiency_factor of the last 30 days; efficiency_factor_ratio = efficiency_factor_30d / the
      median efficiency_factor of the other 60 days of the last 90 (D−89..D−30), > 1 = more speed per
      heartbeat than before (Friel's aerobic-fitness trend).
    * is_warmup: the athlete's first ``warmup_days`` (42) days.
    * is_overtraining_risk / risk_reasons (comma-joined codes, "" when none): ACWR_GT_1_5
      (acwr_rolling_7_28 > 1.5), MONOTONY_GT_2 (monotony_7d > 2 and any load in the 7 days),
      TSB_LT_MINUS_30 (tsb < −30, not raised during warm-up unless ``flag_tsb_during_warmup``: with
      CTL seeded at 0 every new athlete would trip it). Thresholds in :class:`FeatureParams`.
    """
    config = config or FeatureParams()
    states = states_from_frame(prev_state_df)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ROLLING_FEATURE_COLUMNS}
    if not daily_df.empty:
        days_all = _as_days(daily_df["date"])
        ordered = pd.DataFrame(
            {"athlete_id": daily_df["athlete_id"].astype("int64").to_numpy(), "_day": days_all}
        ).sort_values(["athlete_id", "_day"], kind="stable")
        order = ordered.index.to_numpy()
        athlete_sorted = ordered["athlete_id"].to_numpy()
        days_sorted = days_all[order]
        values_sorted = {name: _float(daily_df, name)[order] for name in STATE_WINDOW_COLUMNS}
        for name in ("daily_load", "activity_count", "distance_km", "road_run_distance_km", "road_run_moving_min"):
            values_sorted[name] = np.nan_to_num(values_sorted[name], nan=0.0)  # NaN only marks "before day 1"
        boundaries = np.flatnonzero(np.diff(athlete_sorted)) + 1
        for segment in np.split(np.arange(athlete_sorted.size), boundaries):
            athlete_id = int(athlete_sorted[segment[0]])
            rows, states[athlete_id] = _advance_athlete(
                athlete_id,
                states.get(athlete_id),
                days_sorted[segment],
                {name: values[segment] for name, values in values_sorted.items()},
                config,
            )
            for name in ROLLING_FEATURE_COLUMNS:
                columns[name].append(rows[name])
    if columns["athlete_id"]:
        result = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
        typed = {name: dtype for name, dtype in ROLLING_FEATURE_COLUMNS.items() if dtype != "object"}
        result = result.astype(typed)
    else:
        result = _empty_frame(ROLLING_FEATURE_COLUMNS)
    new_state = states_to_frame(sorted(states.values(), key=lambda s: s.athlete_id))
    return result, new_state
