"""What the four feature tables share: sport rules, window lengths, :class:`FeatureParams` (every
tunable), and small array helpers (dates, typed columns, effort eligibility, typed empty tables)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.domain import hr_zones
from athlete_platform.domain import training_load as tl

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


def as_days(values: Iterable[Any] | pd.Series) -> np.ndarray:
    """Dates (date objects, Timestamps or strings) → datetime64[D]."""
    return pd.to_datetime(pd.Series(values) if not isinstance(values, pd.Series) else values).to_numpy(
        dtype="datetime64[ns]"
    ).astype("datetime64[D]")


def as_day(value: dt.date | str | pd.Timestamp) -> np.datetime64:
    return pd.Timestamp(value).to_datetime64().astype("datetime64[D]")


def to_date_objects(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype(object)


def utc_ns(values: pd.Series) -> np.ndarray:
    """Timestamps (aware or naive-as-UTC) → int64 ns since the epoch."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def float_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def bool_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def is_effort(sport: np.ndarray, distance_m: np.ndarray, pace: np.ndarray, config: FeatureParams) -> np.ndarray:
    """Road runs long enough and with a plausible pace to stand for the athlete's fitness."""
    return (
        (sport == ROAD_RUN_SPORT)
        & (distance_m >= config.min_effort_distance_m)
        & plausible_pace(pace, config)
    )


def plausible_pace(pace: np.ndarray, config: FeatureParams) -> np.ndarray:
    return (
        np.isfinite(pace)
        & (pace >= config.fastest_plausible_pace_s_per_km)
        & (pace <= config.slowest_plausible_pace_s_per_km)
    )


def typed_empty(columns: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
