"""One athlete simulated week by week: the latent state, the race calendar, breaks and the week's plan.

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
"""

from __future__ import annotations

import bisect
import datetime as dt
import math

import numpy as np

from athlete_platform.domain.running import STANDARD_DISTANCES_M
from athlete_platform.simulation.activities import ActivityRecorder, Session, quality_total_km, session_warmup_km
from athlete_platform.simulation.athletes import athlete_profile, clip, summer_index
from athlete_platform.simulation.config import (
    BREAK_ILLNESS,
    BREAK_INJURY,
    CROSS_SPORTS,
    KIND_EASY,
    KIND_INTERVALS,
    KIND_LONG,
    KIND_RACE,
    KIND_TEMPO,
    SPORT_WEIGHTS,
    SimulatorParams,
)
from athlete_platform.simulation.draws import STREAM_WEEK, Draws, stream_generator
from athlete_platform.simulation.races import race_calendar_for_year
from athlete_platform.simulation.truth import SimulatedAthlete, TrainingBreak, truncate_table

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


class AthleteSimulation:
    """Runs one athlete week by week; every week's randomness comes from that week's own seed."""

    def __init__(self, config: SimulatorParams, athlete_index: int) -> None:
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
        self.activities = ActivityRecorder(config, self.profile)
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
                self.calendar.extend(race_calendar_for_year(self.config, self.profile, year, earlier))
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

    def maybe_start_break(self, week_start: int, draws: Draws) -> None:
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

    def plan_week(self, week_start: int, week_index: int, draws: Draws) -> list[Session]:
        """The week's runs: template days, minus rest around races, long run, quality, easy fill."""
        profile = self.profile
        factor, phase = self.volume_factor(week_start, week_index)
        weekly_km = profile.weekly_km * factor * math.exp(draws.normal(0.0, 0.08))
        runs = profile.runs_per_week + (-1 if draws.chance(0.15) else 1 if draws.chance(0.1) else 0)
        if factor < 0.7:
            runs -= 1
        runs = int(clip(runs, 1, 7))
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
        sessions: list[Session] = []
        for weekday, key in race_days.items():
            days.discard(weekday)
            days.discard(weekday - 1)  # rest the day before a race
            if longest_race >= 21000.0:
                days.discard(weekday + 1)
            sessions.append(Session(weekday, KIND_RACE, STANDARD_DISTANCES_M[key] / 1000.0, key))

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
            long_km = clip(weekly_km * long_share * math.exp(draws.normal(0.0, 0.08)), 8.0, long_cap)
            sessions.append(Session(long_day, KIND_LONG, long_km))
            remaining -= long_km
        for index, day in enumerate(quality_days):
            tempo_first = (week_index + index) % 2 == 0
            kind = KIND_TEMPO if tempo_first else KIND_INTERVALS
            sessions.append(Session(day, kind, quality_total_km(kind, weekly_km, session_warmup_km(profile)),
                                     week_km=weekly_km))
            remaining -= sessions[-1].km
        easy_days = sorted(day for day in days if day not in quality_days and not (has_long and day == long_day))
        if easy_days:
            per_run = max(3.0, remaining / len(easy_days))
            for day in easy_days:
                sessions.append(Session(day, KIND_EASY, clip(per_run * math.exp(draws.normal(0.0, 0.15)), 3.0, 20.0)))
        sessions = [session for session in sessions if session.kind == KIND_RACE or not draws.chance(0.06)]
        sessions.sort(key=lambda session: session.weekday)
        return sessions

    def simulate_week(self, week_index: int) -> None:
        config, profile = self.config, self.profile
        week_start = self.series_start + 7 * week_index
        draws = Draws(stream_generator(config, profile.athlete_index, STREAM_WEEK, week_index))
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
            day_hrr_offset = draws.normal(0.0, 0.02) + 0.02 * summer_index(day, profile.timezone)
            perceived_vdot = vdot * perceived_factor * math.exp(draws.normal(0.0, 0.015))
            if not in_break:
                for session in sessions:
                    if session.weekday != weekday:
                        continue
                    if session.kind == KIND_RACE:
                        run_load, run_km = self.activities.add_race(day, slot, session.race_key, vdot, day_hrr_offset,
                                                                    self.recent_weekly_km(), draws)
                    else:
                        run_load, run_km = self.activities.add_training_run(
                            day, slot, session, vdot, perceived_vdot, day_hrr_offset, weekday >= 5, draws)
                    load += run_load
                    km += run_km
                    slot += 1
            if not ill:
                for cross_day, sport in cross_sessions:
                    if cross_day == weekday and (sport != SPORT_WEIGHTS or not injured or draws.chance(0.5)):
                        load += self.activities.add_cross_training(day, slot, sport, slot > 0, day_hrr_offset, draws)
                        slot += 1
            self.fitness = self.fitness * self.fitness_decay + load
            self.fatigue = self.fatigue * self.fatigue_decay + load
            self.daily_load.append(load)
            self.fitness_series.append(self.fitness)
            self.fatigue_series.append(self.fatigue)
            self.run_km.append(km)

    def recent_weekly_km(self) -> float:
        """Average weekly running distance over the last six weeks (fewer at the start of the series)."""
        first_recent = max(0, len(self.run_km) - 42)
        return sum(self.run_km[first_recent:]) / max(1, len(self.run_km) - first_recent) * 7.0

    def result(self, end_day: int) -> SimulatedAthlete:
        days = end_day - self.series_start

        def frozen(values: list[float]) -> np.ndarray:
            array = np.asarray(values[:days], dtype=np.float64)
            array.setflags(write=False)
            return array

        table = self.activities.columns.to_table()
        return SimulatedAthlete(
            profile=self.profile,
            series_start=dt.date.fromordinal(self.series_start),
            true_vdot=frozen(self.true_vdot),
            daily_load=frozen(self.daily_load),
            fitness=frozen(self.fitness_series),
            fatigue=frozen(self.fatigue_series),
            activities=truncate_table(table, end_day),
            races=[race for race in self.activities.races if race.date.toordinal() < end_day],
            breaks=[pause for pause in self.breaks if pause.start.toordinal() < end_day],
        )
