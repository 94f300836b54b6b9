"""The athlete simulator: determinism, plausibility, defects at the configured rates, and truth.

Small populations keep this fast (a few seconds): 8 athletes over 18 months share one fixture.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections import Counter, defaultdict
from statistics import median

import numpy as np
import pytest

from athlete_platform.domain.race_baselines import vdot_from_performance, vdot_race_time
from athlete_platform.domain.running import STANDARD_DISTANCES_M
from athlete_platform.simulation.athletes import athlete_profile
from athlete_platform.simulation.config import BREAK_INJURY, BROKEN_KINDS, FitnessModel, SimulatorParams
from athlete_platform.simulation.population import clear_simulation_cache, simulate_athlete, simulate_population
from athlete_platform.simulation.records import simulate_activities, simulate_payloads
from athlete_platform.simulation.strava_json import athlete_payloads, athlete_records, strava_timezone_label
from athlete_platform.simulation.truth import SimulatedAthlete

HISTORY_START = dt.date(2023, 1, 1)
WINDOW_END = dt.date(2024, 7, 1)
CONFIG = SimulatorParams(seed=7, n_athletes=8, history_start=HISTORY_START)

Record = tuple[int, dt.date, dict]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return simulate_activities(CONFIG, HISTORY_START, WINDOW_END)


@pytest.fixture(scope="module")
def population() -> tuple[SimulatedAthlete, ...]:
    return simulate_population(CONFIG, WINDOW_END)


@pytest.fixture(scope="module")
def profiles(population: tuple[SimulatedAthlete, ...]) -> dict:
    return {athlete.profile.athlete_id: athlete.profile for athlete in population}


def is_intact(activity: dict) -> bool:
    """A record none of the documented corruptions touched."""
    return (activity["distance"] > 0 or activity["type"] == "WeightTraining") and "moving_time" in activity and (
        activity.get("average_heartrate", 0.0) < 250.0)


def parse_strava_timestamp(text: str) -> dt.datetime:
    assert text.endswith("Z"), text
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def runs_of(records: list[Record]) -> list[Record]:
    return [record for record in records if record[2]["type"] == "Run"]


# --------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_records_and_another_seed_does_not(records: list[Record]) -> None:
    window = (dt.date(2023, 5, 1), dt.date(2023, 6, 1))
    clear_simulation_cache()  # force a fresh simulation, not the cached objects
    again = simulate_activities(CONFIG, *window)
    expected = [record for record in records if window[0] <= record[1] < window[1]]
    assert json.dumps(again, default=str) == json.dumps(expected, default=str)
    other_seed = simulate_activities(SimulatorParams(seed=8, n_athletes=8, history_start=HISTORY_START), *window)
    assert {record[2]["id"] for record in other_seed} != {record[2]["id"] for record in again}


def test_window_asked_in_pieces_equals_window_asked_at_once(records: list[Record]) -> None:
    pieces: list[Record] = []
    day = HISTORY_START
    while day < dt.date(2023, 3, 1):  # day by day, as the daily partitions ask
        pieces += simulate_activities(CONFIG, day, day + dt.timedelta(days=1))
        day += dt.timedelta(days=1)
    for start, end in [(dt.date(2023, 3, 1), dt.date(2023, 7, 13)), (dt.date(2023, 7, 13), WINDOW_END)]:
        clear_simulation_cache()  # each range from its own, shorter simulation horizon
        pieces += simulate_activities(CONFIG, start, end)
    assert len(pieces) == len(records)
    assert json.dumps(pieces, default=str) == json.dumps(records, default=str)


def test_simulation_horizon_does_not_change_the_past() -> None:
    short = simulate_athlete(CONFIG, 3, dt.date(2023, 3, 15))
    long = simulate_athlete(CONFIG, 3, WINDOW_END)
    days = len(short.true_vdot)
    assert np.array_equal(short.true_vdot, long.true_vdot[:days])
    assert np.array_equal(short.daily_load, long.daily_load[:days])
    window = (dt.date(2023, 2, 1), dt.date(2023, 3, 15))
    assert athlete_records(short, *window, HISTORY_START) == athlete_records(long, *window, HISTORY_START)


def test_an_athlete_does_not_depend_on_how_many_athletes_exist(population: tuple[SimulatedAthlete, ...]) -> None:
    small_config = SimulatorParams(seed=7, n_athletes=3, history_start=HISTORY_START)
    alone = simulate_athlete(small_config, 2, dt.date(2023, 9, 1))
    window = (HISTORY_START, dt.date(2023, 9, 1))
    assert alone.profile == population[2].profile
    assert athlete_records(alone, *window, HISTORY_START) == athlete_records(population[2], *window, HISTORY_START)


def test_worker_processes_give_the_same_population() -> None:
    config = SimulatorParams(seed=21, n_athletes=4, history_start=HISTORY_START)
    window = (HISTORY_START, dt.date(2023, 2, 1))
    clear_simulation_cache()
    in_workers = simulate_activities(config, *window, processes=2)
    clear_simulation_cache()
    in_process = simulate_activities(config, *window, processes=1)
    assert in_workers and json.dumps(in_workers, default=str) == json.dumps(in_process, default=str)


def test_nothing_before_history_start_or_in_an_empty_window(records: list[Record]) -> None:
    assert simulate_activities(CONFIG, dt.date(2022, 6, 1), HISTORY_START) == []
    assert simulate_activities(CONFIG, WINDOW_END, WINDOW_END) == []
    assert min(record[1] for record in records) == HISTORY_START
    assert max(record[1] for record in records) < WINDOW_END


# --------------------------------------------------------------------------------------------------
# Record shape
# --------------------------------------------------------------------------------------------------

SUMMARY_KEYS = {
    "id", "athlete", "name", "type", "sport_type", "start_date", "start_date_local", "timezone", "distance",
    "elapsed_time", "total_elevation_gain", "average_speed", "max_speed", "has_heartrate", "manual",
}
SPLIT_KEYS = {"distance", "elapsed_time", "moving_time", "split", "average_speed", "elevation_difference",
              "pace_zone"}


def test_records_are_strava_summary_activities(records: list[Record], profiles: dict) -> None:
    for athlete_id, local_date, activity in records:
        assert SUMMARY_KEYS <= activity.keys()
        assert activity["athlete"]["id"] == athlete_id
        assert activity["type"] == activity["sport_type"]
        assert activity["manual"] is False
        local = parse_strava_timestamp(activity["start_date_local"])
        utc = parse_strava_timestamp(activity["start_date"])
        assert local.date() == local_date
        assert (local - utc).total_seconds() == activity["utc_offset"]
        assert activity["timezone"] == strava_timezone_label(profiles[athlete_id].timezone)
        assert isinstance(activity["elapsed_time"], int) and activity["elapsed_time"] > 0
        assert ("workout_type" in activity) == (activity["type"] == "Run")
        assert ("splits_metric" in activity) == (activity["type"] == "Run")
        if not activity["has_heartrate"]:
            assert "average_heartrate" not in activity and "max_heartrate" not in activity


def test_sao_paulo_timezone_label_and_offset(records: list[Record]) -> None:
    assert strava_timezone_label("America/Sao_Paulo") == "(GMT-03:00) America/Sao_Paulo"
    assert strava_timezone_label("Europe/London") == "(GMT+00:00) Europe/London"
    sao_paulo = [activity for _, _, activity in records if activity["timezone"].endswith("Sao_Paulo")]
    assert sao_paulo and all(activity["utc_offset"] == -10800.0 for activity in sao_paulo)


def test_activity_ids_are_unique_except_exact_duplicates(records: list[Record]) -> None:
    by_id: dict[int, list[dict]] = defaultdict(list)
    for _, _, activity in records:
        by_id[activity["id"]].append(activity)
    for copies in by_id.values():
        assert len(copies) <= 2
        assert all(copy == copies[0] for copy in copies)
    athletes_of_id = Counter(activity["id"] for _, _, activity in records)
    assert len(athletes_of_id) > 1000


def test_run_splits_add_up_to_the_activity(records: list[Record]) -> None:
    for _, _, activity in runs_of(records):
        if not is_intact(activity):
            continue
        splits = activity["splits_metric"]
        assert [split["split"] for split in splits] == list(range(1, len(splits) + 1))
        assert all(SPLIT_KEYS <= split.keys() for split in splits)
        assert all(("average_heartrate" in split) == activity["has_heartrate"] for split in splits)
        assert sum(split["distance"] for split in splits) == pytest.approx(activity["distance"], abs=1.0)
        assert sum(split["moving_time"] for split in splits) == activity["moving_time"]
        assert sum(split["elapsed_time"] for split in splits) == activity["elapsed_time"]
        assert all(split["distance"] <= 1000.0 for split in splits[:-1])
        assert 20.0 <= splits[-1]["distance"] < 1020.0 or len(splits) == 1
        if activity["has_heartrate"]:
            weighted = sum(split["average_heartrate"] * split["moving_time"] for split in splits)
            assert weighted / activity["moving_time"] == pytest.approx(activity["average_heartrate"], abs=0.2)


# --------------------------------------------------------------------------------------------------
# Plausibility
# --------------------------------------------------------------------------------------------------


def test_paces_and_heart_rates_are_physiological(records: list[Record], profiles: dict) -> None:
    for athlete_id, _, activity in records:
        if not is_intact(activity):
            continue
        profile = profiles[athlete_id]
        if activity["type"] == "Run":
            pace_min_per_km = 1000.0 / activity["average_speed"] / 60.0
            assert 2.8 < pace_min_per_km < 10.0, activity
            assert 1000.0 < activity["distance"] < 46000.0
        if activity["has_heartrate"]:
            assert profile.hr_rest + 10 < activity["average_heartrate"] <= profile.hr_max
            assert activity["average_heartrate"] <= activity["max_heartrate"] <= profile.hr_max
    easy_share_of_hr_max = [
        activity["average_heartrate"] / profiles[athlete_id].hr_max
        for athlete_id, _, activity in runs_of(records)
        if activity["workout_type"] == 0 and activity["has_heartrate"] and is_intact(activity)
        and activity["distance"] < 12000.0
    ]
    assert 0.7 < median(easy_share_of_hr_max) < 0.86  # easy runs sit in zones 2-3


def test_faster_for_the_same_heart_rate_when_fitter(population: tuple[SimulatedAthlete, ...]) -> None:
    """Pace at a given HR is what lets the ML read fitness: the fittest athlete is fastest at ~80 % HRmax."""
    def speed_near_80_percent(athlete: SimulatedAthlete) -> float:
        table = athlete.activities
        share = table.average_heartrate / athlete.profile.hr_max
        chosen = (table.sport == 0) & (table.kind == 0) & (np.abs(share - 0.8) < 0.04)
        return float(np.median(table.distance_m[chosen] / table.moving_time_s[chosen]))

    ranked = sorted((athlete for athlete in population if athlete.profile.records_heartrate),
                    key=lambda athlete: float(np.mean(athlete.true_vdot)))
    assert speed_near_80_percent(ranked[-1]) > speed_near_80_percent(ranked[0]) * 1.15


def test_weekly_volume_follows_preference_and_leaves_rest_days(population: tuple[SimulatedAthlete, ...]) -> None:
    preferred, realised = [], []
    for athlete in population:
        table = athlete.activities
        run_days = table.day[(table.sport == 0) & (table.day >= HISTORY_START.toordinal())]
        weeks = (WINDOW_END - HISTORY_START).days / 7.0
        km = table.distance_m[(table.sport == 0) & (table.day >= HISTORY_START.toordinal())].sum() / 1000.0
        preferred.append(athlete.profile.weekly_km)
        realised.append(km / weeks)
        assert 8.0 < km / weeks < 120.0
        distinct_run_days_per_week = Counter(day // 7 for day in set(run_days.tolist()))
        weeks_with_rest = sum(1 for count in distinct_run_days_per_week.values() if count < 7)
        assert weeks_with_rest / len(distinct_run_days_per_week) > 0.7
    assert np.corrcoef(preferred, realised)[0, 1] > 0.8
    assert all(0.6 < real / pref < 1.2 for real, pref in zip(realised, preferred))


def test_weeks_mix_easy_long_and_quality_sessions(population: tuple[SimulatedAthlete, ...]) -> None:
    kinds = Counter(int(kind) for athlete in population for kind in athlete.activities.kind)
    runs = sum(kinds[kind] for kind in range(5))
    assert kinds[0] / runs > 0.4  # easy runs dominate
    for kind in (1, 2, 3, 4):  # long, tempo, intervals, race
        assert kinds[kind] / runs > 0.03, kinds


def test_shares_of_non_runs_missing_hr_duplicates_and_broken_records(records: list[Record]) -> None:
    total = len(records)
    runs = runs_of(records)
    types = Counter(activity["type"] for _, _, activity in records)
    assert set(types) <= {"Run", "Ride", "Swim", "WeightTraining", "Walk"}
    assert 0.05 < 1 - types["Run"] / total < 0.35
    no_hr = sum(1 for _, _, activity in runs if not activity["has_heartrate"]) / len(runs)
    assert 0.03 < no_hr < 0.3
    duplicates = total - len({activity["id"] for _, _, activity in records})
    assert 0.001 < duplicates / total < 0.012
    broken = sum(1 for _, _, activity in runs if not is_intact(activity))
    assert 0.004 < broken / len(runs) < 0.025


def test_broken_records_break_exactly_the_documented_field(population: tuple[SimulatedAthlete, ...]) -> None:
    seen = Counter()
    for athlete in population:
        table = athlete.activities
        emitted = table.day >= HISTORY_START.toordinal()  # the burn-in is never emitted
        for row in np.flatnonzero((table.broken_kind > 0) & emitted).tolist():
            kind = BROKEN_KINDS[int(table.broken_kind[row]) - 1]
            seen[kind] += 1
            day = dt.date.fromordinal(int(table.day[row]))
            (local_date, activity), = {
                record[2]["id"]: (record[1], record[2]) for record in athlete_records(
                    athlete, day, day + dt.timedelta(days=1), HISTORY_START)
                if record[2]["id"] == int(table.activity_id[row])
            }.values()
            assert parse_strava_timestamp(activity["start_date_local"]).date() == local_date
            assert activity["type"] == "Run"
            if kind == "negative_distance":
                assert activity["distance"] < 0 and "moving_time" in activity
            elif kind == "zero_distance":
                assert activity["distance"] == 0.0 and activity["average_speed"] == 0.0
            elif kind == "missing_moving_time":
                assert "moving_time" not in activity and activity["distance"] > 0
            else:
                assert activity["average_heartrate"] == 300.0 and activity["max_heartrate"] == 300.0
    assert set(seen) == set(BROKEN_KINDS)


def test_rendered_payloads_are_the_sorted_json_of_the_records_byte_for_byte(records: list[Record]) -> None:
    """Bronze stores the rendered payloads (content hashes, hence ingestion times and version order, depend on
    every byte): they must be exactly what json.dumps(sort_keys=True) writes for the dicts, on a whole history
    with every kind of record."""
    payloads = simulate_payloads(CONFIG, HISTORY_START, WINDOW_END)
    expected = [(athlete_id, day, activity["id"], json.dumps(activity, sort_keys=True, default=str))
                for athlete_id, day, activity in records]
    assert payloads == expected
    runs = runs_of(records)
    assert {activity["type"] for _, _, activity in records} >= {"Run", "Ride", "WeightTraining"}
    assert {activity["has_heartrate"] for _, _, activity in runs} == {True, False}
    assert any(not is_intact(activity) for _, _, activity in runs)  # broken kinds: every one, in the test below
    assert any("\\u" in payload for *_, payload in payloads)  # non-ASCII names, escaped as json escapes them


def test_rendered_payloads_of_broken_and_non_finite_rows(population: tuple[SimulatedAthlete, ...]) -> None:
    """Every broken kind renders as its dict serializes; a row with a non-finite value (json writes NaN, not
    nan) falls back to json and still matches."""
    def emitted_broken_rows(athlete: SimulatedAthlete) -> np.ndarray:
        table = athlete.activities
        return np.flatnonzero((table.broken_kind > 0) & (table.day >= HISTORY_START.toordinal()))

    kinds_seen = {BROKEN_KINDS[int(athlete.activities.broken_kind[row]) - 1] for athlete in population
                  for row in emitted_broken_rows(athlete)}
    assert kinds_seen == set(BROKEN_KINDS)  # the first test renders all of them
    athlete = next(athlete for athlete in population if len(emitted_broken_rows(athlete)) >= 2)
    table, broken_rows = athlete.activities, emitted_broken_rows(athlete)
    max_speed = table.max_speed.copy()
    max_speed[broken_rows[0]] = np.nan
    split_moving = table.split_moving_time_s.copy()
    split_moving[table.split_start[broken_rows[1]]] = 0  # a split speed of inf
    odd = dataclasses.replace(athlete, activities=dataclasses.replace(table, max_speed=max_speed,
                                                                      split_moving_time_s=split_moving))
    with np.errstate(divide="ignore", invalid="ignore"):
        for subject in (athlete, odd):
            rendered = athlete_payloads(subject, HISTORY_START, WINDOW_END, HISTORY_START)
            expected = [(athlete_id, day, activity["id"], json.dumps(activity, sort_keys=True, default=str))
                        for athlete_id, day, activity in athlete_records(subject, HISTORY_START, WINDOW_END,
                                                                         HISTORY_START)]
            assert rendered == expected
    assert sum("NaN" in payload or "Infinity" in payload for *_, payload in rendered) == 2


# --------------------------------------------------------------------------------------------------
# Races and latent fitness
# --------------------------------------------------------------------------------------------------


def test_every_athlete_races_several_times_a_year(population: tuple[SimulatedAthlete, ...],
                                                  records: list[Record]) -> None:
    race_records = {activity["id"]: activity for _, _, activity in records if activity.get("workout_type") == 1}
    truths = [race for athlete in population for race in athlete.races if race.date >= HISTORY_START]
    assert {race.activity_id for race in truths} == set(race_records)
    years = (WINDOW_END - HISTORY_START).days / 365.25
    for athlete in population:
        assert len([race for race in athlete.races if race.date >= HISTORY_START]) / years >= 4
    assert {race.distance_key for race in truths} == set(STANDARD_DISTANCES_M)
    for race in truths:
        activity = race_records[race.activity_id]
        if not is_intact(activity):
            continue
        assert race.nominal_distance_m * 0.98 < activity["distance"] < race.nominal_distance_m * 1.04
        assert activity["moving_time"] == round(race.time_s)
        assert race.ideal_time_s == pytest.approx(vdot_race_time(race.true_vdot, race.nominal_distance_m))
        assert any(word in activity["name"] for word in ("5K", "10K", "21K", "Maratona", "Marathon", "Meia",
                                                          "Half", "parkrun", "Corrida", "Race", "Run"))


def test_race_times_reflect_true_fitness_on_the_day(population: tuple[SimulatedAthlete, ...]) -> None:
    errors = np.array([
        vdot_from_performance(race.nominal_distance_m, race.time_s) / race.true_vdot - 1.0
        for athlete in population for race in athlete.races
    ])
    assert np.median(np.abs(errors)) < 0.04
    assert np.mean(np.abs(errors) < 0.10) > 0.97
    assert -0.05 < np.mean(errors) < 0.0  # course, weather and fading only ever slow runners down


def test_fitter_athletes_run_faster_races(population: tuple[SimulatedAthlete, ...]) -> None:
    ten_k_vdot, ten_k_time = [], []
    for athlete in population:
        for race in athlete.races:
            if race.distance_key == "10k":
                ten_k_vdot.append(race.true_vdot)
                ten_k_time.append(race.time_s)
    ranks_vdot = np.argsort(np.argsort(ten_k_vdot))
    ranks_time = np.argsort(np.argsort(ten_k_time))
    assert np.corrcoef(ranks_vdot, ranks_time)[0, 1] < -0.8


def test_true_vdot_is_plausible_and_smooth(population: tuple[SimulatedAthlete, ...]) -> None:
    for athlete in population:
        vdot = athlete.true_vdot
        assert 25.0 < vdot.min() and vdot.max() < 70.0
        assert np.max(np.abs(np.diff(vdot) / vdot[:-1])) < 0.06
        assert abs(np.median(vdot) / athlete.profile.habitual_vdot - 1.0) < 0.08
        assert athlete.true_vdot_on(HISTORY_START) == vdot[athlete.day_index(HISTORY_START)]
        series = athlete.vdot_series(HISTORY_START, HISTORY_START + dt.timedelta(days=3))
        assert list(series) == [HISTORY_START + dt.timedelta(days=offset) for offset in range(3)]


def test_banister_model_detrains_without_load_and_peaks_after_a_taper() -> None:
    model = FitnessModel()
    habitual_load, detrained = 50.0, 0.15
    fitness, fatigue = model.steady_state(habitual_load)
    assert model.relative_vdot(fitness, fatigue, habitual_load, detrained) == pytest.approx(1.0)
    taper = [(fitness, fatigue)]
    stopped = [(fitness, fatigue)]
    for _ in range(42):
        fitness_t, fatigue_t = taper[-1]
        taper.append((fitness_t * model.fitness_decay + 0.5 * habitual_load,
                      fatigue_t * model.fatigue_decay + 0.5 * habitual_load))
        fitness_s, fatigue_s = stopped[-1]
        stopped.append((fitness_s * model.fitness_decay, fatigue_s * model.fatigue_decay))

    def relative(state: tuple[float, float]) -> float:
        return model.relative_vdot(*state, habitual_load, detrained)

    assert relative(taper[10]) > 1.0  # fatigue clears faster than fitness: the taper effect
    assert relative(stopped[28]) < 0.98
    assert relative(stopped[42]) < relative(stopped[28]) < relative(stopped[7]) + 1e-9
    assert relative(stopped[42]) > 1.0 - detrained


def test_an_athlete_who_stops_training_loses_vdot() -> None:
    """Injuries of 5+ weeks (only cross-training allowed) cost fitness against the month before."""
    config = SimulatorParams(seed=3, n_athletes=4, history_start=HISTORY_START, injury_rate_per_year=4.0)
    drops = []
    for index in range(config.n_athletes):
        athlete = simulate_athlete(config, index, dt.date(2024, 1, 1))
        for pause in athlete.breaks:
            if pause.kind != BREAK_INJURY or (pause.end - pause.start).days < 35 or pause.end >= athlete.series_end:
                continue
            if any(other.end > pause.start - dt.timedelta(days=28) for other in athlete.breaks
                   if other.start < pause.start):
                continue  # the month before must be normal training
            table = athlete.activities
            in_break = (table.day >= pause.start.toordinal()) & (table.day < pause.end.toordinal())
            assert not np.any(table.sport[in_break] == 0)  # no running; cross-training allowed
            first = athlete.day_index(pause.start)
            before = float(np.mean(athlete.true_vdot[first - 28:first]))
            drops.append(athlete.true_vdot[athlete.day_index(pause.end)] / before - 1.0)
    assert len(drops) >= 3
    assert max(drops) < -0.01
    assert np.mean(drops) < -0.025


def test_profiles_span_abilities_and_physiology() -> None:
    profiles = [athlete_profile(CONFIG, index) for index in range(200)]
    vdots = [profile.habitual_vdot for profile in profiles]
    assert min(vdots) < 35 and max(vdots) > 58
    assert all(30 <= vdot <= 65 for vdot in vdots)
    assert {profile.sex for profile in profiles} == {"F", "M"}
    assert all(160 <= profile.hr_max <= 210 and 38 <= profile.hr_rest <= 76 for profile in profiles)
    sao_paulo = sum(profile.timezone == "America/Sao_Paulo" for profile in profiles) / len(profiles)
    assert 0.75 < sao_paulo < 0.95
    fast = [profile.weekly_km for profile in profiles if profile.habitual_vdot > 50]
    slow = [profile.weekly_km for profile in profiles if profile.habitual_vdot < 40]
    assert median(fast) > 1.5 * median(slow)
    assert len({profile.athlete_id for profile in profiles}) == len(profiles)


def test_invalid_configs_are_rejected() -> None:
    with pytest.raises(ValueError):
        SimulatorParams(n_athletes=0)
    with pytest.raises(ValueError):
        SimulatorParams(broken_rate=1.5)
    with pytest.raises(ValueError):
        simulate_athlete(CONFIG, CONFIG.n_athletes, WINDOW_END)
    assert math.isclose(CONFIG.simulation_start.weekday(), 0)
