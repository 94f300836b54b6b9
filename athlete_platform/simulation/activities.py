"""One athlete's activities as rows: training runs, races and cross-training laid out in per-km splits.

The paces and heart rate follow :mod:`athlete_platform.simulation.athletes`; rows accumulate in
``Columns`` and become the compact :class:`~athlete_platform.simulation.truth.ActivityTable`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from athlete_platform.domain.race_baselines import vdot_race_time
from athlete_platform.domain.running import STANDARD_DISTANCES_M
from athlete_platform.simulation.athletes import (
    CROSS_LOAD_PER_HOUR,
    THRESHOLD_FRACTION,
    AthleteProfile,
    clip,
    pace_zone,
    speed_at_vdot_fraction,
    steady_hrr,
    summer_index,
)
from athlete_platform.simulation.config import (
    BROKEN_HEARTRATE_300,
    BROKEN_MISSING_MOVING_TIME,
    BROKEN_NEGATIVE_DISTANCE,
    BROKEN_NONE,
    BROKEN_ZERO_DISTANCE,
    KIND_CROSS,
    KIND_EASY,
    KIND_INTERVALS,
    KIND_LONG,
    KIND_RACE,
    KIND_TEMPO,
    MAX_ATHLETES,
    SPORT_RIDE,
    SPORT_RUN,
    SPORT_SWIM,
    SPORT_WALK,
    SPORT_WEIGHTS,
    SimulatorParams,
)
from athlete_platform.simulation.draws import Draws
from athlete_platform.simulation.races import race_name
from athlete_platform.simulation.truth import ActivityTable, RaceTruth

_SLOTS_PER_DAY = 10
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_HR_DRIFT_PER_HOUR = 0.04
_HILL_SLOWDOWN_PER_M_PER_KM = 0.0025
_MIN_LAST_SPLIT_M = 20.0


@dataclass
class Session:
    """A planned run: its length for easy/long/race, the week's volume that scales quality sessions."""

    weekday: int
    kind: int
    km: float = 0.0
    race_key: str = ""
    week_km: float = 0.0


@dataclass
class Columns:
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


class ActivityRecorder:
    """An athlete's activities as the simulation lays them out: table rows and the truth of its races."""

    def __init__(self, config: SimulatorParams, profile: AthleteProfile) -> None:
        self.config = config
        self.profile = profile
        self.columns = Columns()
        self.races: list[RaceTruth] = []

    def activity_id(self, day: int, slot: int) -> int:
        return ((day - _EPOCH_ORDINAL) * MAX_ATHLETES + self.profile.athlete_index) * _SLOTS_PER_DAY + slot

    def heart_rate_recorded(self, sport: int, draws: Draws) -> bool:
        if not self.profile.records_heartrate:
            return False
        if sport == SPORT_SWIM and draws.chance(0.5):
            return False
        return not draws.chance(self.config.hr_dropout_rate)

    def start_seconds(self, kind: int, weekday_is_weekend: bool, draws: Draws) -> int:
        if kind == KIND_RACE:
            hour = draws.uniform(6.5, 8.0)
        elif kind == KIND_LONG or (weekday_is_weekend and self.profile.preferred_start_hour > 12):
            hour = draws.uniform(6.0, 8.0)
        else:
            hour = self.profile.preferred_start_hour + draws.normal(0.0, 0.6)
        return int(clip(hour, 4.5, 21.5) * 3600.0)

    def add_training_run(self, day: int, slot: int, session: Session, vdot: float, perceived_vdot: float,
                         day_hrr_offset: float, weekend: bool, draws: Draws) -> tuple[float, float]:
        profile = self.profile
        threshold = speed_at_vdot_fraction(vdot, THRESHOLD_FRACTION)
        easy_fraction = profile.easy_intensity * math.exp(draws.normal(0.0, 0.03))
        easy_speed = speed_at_vdot_fraction(perceived_vdot, easy_fraction)
        warmup_km = session_warmup_km(profile)
        segments: list[tuple[float, float]] = []  # (distance m, flat speed m/s)
        name_detail = ""
        if session.kind == KIND_EASY:
            segments.append((session.km * 1000.0, easy_speed))
        elif session.kind == KIND_LONG:
            long_speed = speed_at_vdot_fraction(perceived_vdot, easy_fraction - 0.01)
            segments.append((session.km * 1000.0, long_speed))
            name_detail = f"{session.km:.0f} km"
        elif session.kind == KIND_TEMPO:
            main_km = _tempo_km(session.week_km)
            tempo_fraction = THRESHOLD_FRACTION * math.exp(draws.normal(0.0, 0.015))
            tempo_speed = speed_at_vdot_fraction(perceived_vdot, tempo_fraction)
            segments += [(warmup_km * 1000.0, easy_speed), (main_km * 1000.0, tempo_speed),
                         (1500.0, easy_speed)]
            name_detail = f"{main_km:.0f} km"
        else:
            rep_m = draws.choice((400.0, 800.0, 1000.0, 1200.0, 1600.0))
            work_km = _interval_work_km(session.week_km)
            reps = max(3, int(round(work_km * 1000.0 / rep_m)))
            rep_speed = speed_at_vdot_fraction(perceived_vdot, draws.uniform(0.96, 1.0))
            jog_speed = speed_at_vdot_fraction(perceived_vdot, 0.55)
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
        start_s = self.start_seconds(session.kind, weekend, draws)
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
                 recent_weekly_km: float, draws: Draws) -> tuple[float, float]:
        """A race on ``day``: its time from the true VDOT and the day's penalties (see :mod:`.races`);
        ``recent_weekly_km`` (the last six weeks) sets the endurance penalty of a half or a marathon."""
        profile = self.profile
        nominal = STANDARD_DISTANCES_M[key]
        ideal = vdot_race_time(vdot, nominal)
        noise = math.exp(draws.normal(0.0, self.config.race_noise_sigma))
        course = abs(draws.normal(0.0, 0.012))
        long_race = nominal > 20000.0
        weather = draws.uniform(0.0, 0.03) * summer_index(day, profile.timezone) * (1.5 if long_race else 1.0)
        if key == "42k":
            endurance = 0.08 * max(0.0, 1.0 - recent_weekly_km / 65.0)
        elif key == "21k":
            endurance = 0.03 * max(0.0, 1.0 - recent_weekly_km / 45.0)
        else:
            endurance = 0.0
        race_time = ideal * noise * (1.0 + course + weather + endurance)
        gps_distance = nominal * math.exp(draws.normal(0.007, 0.006))
        threshold = speed_at_vdot_fraction(vdot, THRESHOLD_FRACTION)
        effort_speed = nominal / (ideal * noise)  # what the body did, before course and weather
        race_speed = gps_distance / race_time
        load = race_time / 3600.0 * (effort_speed / threshold) ** 2 * 100.0
        start_s = self.start_seconds(KIND_RACE, True, draws)
        name = race_name(key, dt.date.fromordinal(day).year, profile.portuguese_names, draws)
        activity_id = self.activity_id(day, slot)
        # Race: the whole course as one segment at the race speed; its HR reflects the effort speed.
        self.add_run(day, slot, start_s, KIND_RACE, 1, name, [(gps_distance, effort_speed)],
                     race_speed / effort_speed, clip(profile.hilliness_m_per_km * 0.6, 1.0, 15.0),
                     threshold, day_hrr_offset, draws, load, pauses=False, exact_moving_time=race_time)
        self.races.append(RaceTruth(
            activity_id=activity_id, date=dt.date.fromordinal(day), distance_key=key,
            nominal_distance_m=nominal, true_vdot=vdot, ideal_time_s=ideal, time_s=race_time,
            noise_factor=noise, course_penalty=course, weather_penalty=weather, endurance_penalty=endurance))
        return load, gps_distance / 1000.0

    def add_run(self, day: int, slot: int, start_s: int, kind: int, workout_type: int, name: str,
                segments: list[tuple[float, float]], speed_factor: float,
                gain_per_km: float, threshold: float, day_hrr_offset: float, draws: Draws, load: float,
                pauses: bool, exact_moving_time: float | None = None) -> None:
        """Lay the run out in per-km splits and store it; summary fields are derived from the splits."""
        profile, columns = self.profile, self.columns
        hrr_offset = profile.hr_reserve_offset + day_hrr_offset
        # Per segment: actual speed and steady HRR; jog recoveries keep part of the previous rep's HR.
        actual: list[tuple[float, float, float]] = []
        previous_hrr = 0.0
        for distance, flat_speed in segments:
            hrr = steady_hrr(flat_speed, threshold)
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
        split_hr = [profile.hr_rest + hr_span * clip(hrr, 0.2, 1.0) for hrr in split_hrr]
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
        columns.split_pace_zone.extend(pace_zone(speed, threshold) for speed in split_speeds)
        columns.split_end.append(len(columns.split_distance_m))
        broken = BROKEN_NONE
        if draws.chance(self.config.broken_rate):
            kinds = [BROKEN_NEGATIVE_DISTANCE, BROKEN_ZERO_DISTANCE, BROKEN_MISSING_MOVING_TIME]
            if recorded_hr:  # a 300 bpm reading needs a heart-rate record to corrupt
                kinds.append(BROKEN_HEARTRATE_300)
            broken = draws.choice(kinds)
        self.append_row(day, slot, start_s, SPORT_RUN, kind, workout_type, name, total_distance, moving_time,
                        sum(elapsed_times), gain, max_speed, recorded_hr, average_hr, max_hr, load, broken, draws)

    def add_cross_training(self, day: int, slot: int, sport: int, after_run: bool, day_hrr_offset: float,
                           draws: Draws) -> float:
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
        average_hr = profile.hr_rest + (profile.hr_max - profile.hr_rest) * clip(
            hrr + profile.hr_reserve_offset + day_hrr_offset, 0.15, 0.95)
        max_hr = int(round(min(profile.hr_max, average_hr + draws.uniform(10.0, 25.0))))
        speed_max = distance / max(1, moving_time) * draws.uniform(1.3, 2.0)
        load = hours * CROSS_LOAD_PER_HOUR[sport]
        self.columns.split_start.append(len(self.columns.split_distance_m))
        self.columns.split_end.append(len(self.columns.split_distance_m))
        self.append_row(day, slot, int(hour * 3600.0), sport, KIND_CROSS, -1,
                        _default_name(sport, hour, profile.portuguese_names), distance, moving_time,
                        elapsed_time, gain, speed_max, recorded_hr, average_hr, max_hr, load, BROKEN_NONE, draws)
        return load

    def append_row(self, day: int, slot: int, start_s: int, sport: int, kind: int, workout_type: int, name: str,
                   distance: float, moving_time: int, elapsed_time: int, gain: float, max_speed: float,
                   recorded_hr: bool, average_hr: float, max_hr: int, load: float, broken: int,
                   draws: Draws) -> None:
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


def session_warmup_km(profile: AthleteProfile) -> float:
    return 1.5 if profile.weekly_km < 30 else 2.0


def _tempo_km(weekly_km: float) -> float:
    """Length of the threshold block of a tempo run, scaled to the week."""
    return clip(0.12 * weekly_km, 3.0, 12.0)


def _interval_work_km(weekly_km: float) -> float:
    """Total length of the fast repeats of an interval session, scaled to the week."""
    return clip(0.09 * weekly_km, 2.4, 10.0)


def quality_total_km(kind: int, weekly_km: float, warmup_km: float) -> float:
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
