"""Race detection rules, on hand-made rows, the simulator, a real export, and as a Delta-backed asset."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance
from deltalake import DeltaTable

from athlete_platform.asset_keys import RACE_RESULTS, SILVER_ACTIVITIES
from athlete_platform.labels.assets import race_results
from athlete_platform.labels.race_detection import (
    DISTANCE_BANDS_M,
    RACE_RESULT_COLUMNS,
    REASON_EFFORT,
    REASON_NAME,
    REASON_WORKOUT_TYPE,
    DetectionParams,
    detect_races,
    distance_bucket,
    title_says_race,
)
from athlete_platform.model.simulated_data import simulated_silver
from athlete_platform.silver.assets import silver_activities
from athlete_platform.silver.parsing import SILVER_COLUMNS, Rejection, parse_record
from athlete_platform.simulation.config import SimulatorParams
from athlete_platform_tests.labels.builders import DAY0, frame, run, training_weeks
from athlete_platform_tests.model.helpers import model_resources, upstream_spec, write_table
from athlete_platform_tests.support.runs import check_results, materialize_window


# -- rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title, expected",
    [
        ("City Half Marathon 2024", True),
        ("Maratona Internacional de São Paulo", True),
        ("Meia de Floripa", True),
        ("Corrida do Parque 5K", True),
        ("parkrun", True),
        ("Félmaraton", True),
        ("Budapest Futóverseny", True),
        ("Carrera popular 10k", True),
        ("Course des Lumières", True),
        ("Silvesterlauf", True),
        ("Morning Run", False),  # Strava's default titles in several languages
        ("Corrida matinal", False),
        ("Reggeli futás", False),
        ("Abendlauf", False),
        ("Carrera nocturna", False),
        ("Tempo 10 km", False),  # workouts and relays named after a race distance
        ("Marathon pace workout", False),
        ("Spar Maraton Váltó", False),
        ("Warm up before the race", False),
        ("", False),
        (None, False),
    ],
)
def test_title_rule(title, expected):
    assert title_says_race(title) is expected


def test_distance_buckets_and_tolerance():
    assert distance_bucket(5_040.0) == "5k"
    assert distance_bucket(10_700.0) == "10k"  # GPS reads long: up to +9 % allowed
    assert distance_bucket(9_500.0) is None  # −5 %: a short course is not a 10K
    assert distance_bucket(21_300.0) == "21k"
    assert distance_bucket(42_900.0) == "42k"
    assert distance_bucket(16_093.0) is None  # 10 miles
    narrow = DetectionParams(distance_bands_m={**DISTANCE_BANDS_M, "10k": (9_700.0, 10_500.0)})
    assert distance_bucket(10_700.0, narrow) is None


def test_flag_name_and_effort_rules_with_reasons():
    history = frame(training_weeks())
    window = frame(
        [
            run(1, 0, name="Morning Run", distance_m=10_080.0, pace=260.0, workout_type=1),  # flagged race
            run(2, 2, name="Meia Maratona do Rio", distance_m=21_200.0, pace=300.0),  # name, flag absent
            run(3, 4, name="Morning Run", distance_m=5_030.0, pace=250.0),  # effort: 0.76 × typical
            run(4, 6, name="Morning Run", distance_m=5_030.0, pace=320.0),  # standard distance, easy pace
            run(5, 8, name="Tempo 5 km", distance_m=5_030.0, pace=250.0),  # fast but titled as a workout
            run(6, 10, name="City 10K", distance_m=10_050.0, pace=280.0, workout_type=0),  # explicit "not a race"
            run(7, 12, name="Trail race", distance_m=21_100.0, pace=420.0, sport="trail_run", workout_type=1),
            run(8, 14, name="15K race", distance_m=15_000.0, pace=270.0, workout_type=1),  # flagged, nonstandard
        ]
    )
    detection = detect_races(window, history)
    races = detection.races.set_index("activity_id")
    assert list(detection.races.columns) == list(RACE_RESULT_COLUMNS)
    assert dict(races["detection_reason"]) == {1: REASON_WORKOUT_TYPE, 2: REASON_NAME, 3: REASON_EFFORT}
    assert dict(races["distance_bucket"]) == {1: "10k", 2: "21k", 3: "5k"}
    assert races.loc[1, "official_time_s"] == pytest.approx(10.08 * 260.0 + 30.0)  # elapsed, not moving time
    assert races.loc[1, "race_date"] == DAY0
    assert detection.flagged_nonstandard == 1
    assert detection.by_reason == {REASON_WORKOUT_TYPE: 1, REASON_NAME: 1, REASON_EFFORT: 1}
    # the untagged (workout_type 0) race counts when the rules are told to look at untagged runs
    lenient = detect_races(window, history, DetectionParams(apply_rules_to_untagged=True)).races
    assert 6 in set(lenient["activity_id"])


def test_effort_rule_needs_enough_recent_runs_strictly_before():
    fast = run(1, 0, distance_m=5_030.0, pace=250.0)
    assert detect_races(frame([fast]), None).races.empty  # no history: no typical pace
    few = frame(training_weeks(days=8))  # 4 runs < min_recent_runs = 5
    assert detect_races(frame([fast]), few).races.empty
    stale = frame([run(1000 + i, -200 + i, pace=330.0) for i in range(10)])  # all outside the 56-day lookback
    assert detect_races(frame([fast]), stale).races.empty
    assert len(detect_races(frame([fast]), frame(training_weeks())).races) == 1


# -- simulator and real data -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated():
    config = SimulatorParams(seed=11, n_athletes=8, history_start=dt.date(2023, 1, 1))
    silver, _ = simulated_silver(config, config.history_start, dt.date(2024, 1, 1))
    return silver


def test_simulated_races_are_found_with_and_without_the_flag(simulated):
    truth = set(simulated.loc[simulated["workout_type"] == 1, "activity_id"])
    assert len(truth) > 100
    flagged = detect_races(simulated).races
    assert set(flagged["activity_id"]) == truth
    assert set(flagged["detection_reason"]) == {REASON_WORKOUT_TYPE}

    no_flag = simulated.assign(workout_type=pd.array([pd.NA] * len(simulated), dtype="Int64"))
    by_rules = set(detect_races(no_flag).races["activity_id"])
    assert by_rules == truth  # the simulator's race titles are all recognised, nothing else is

    anonymous = no_flag.assign(name="Morning Run")  # neither flag nor title: effort only
    by_effort = detect_races(anonymous).races
    found = set(by_effort["activity_id"])
    assert len(found - truth) <= 0.02 * len(found)  # precision first
    assert len(found & truth) >= 0.6 * len(truth)
    assert set(by_effort["detection_reason"]) == {REASON_EFFORT}


def test_real_export_without_flags(realdata):
    """A real Strava export (no workout_type column): races come from titles, default titles stay runs."""
    from athlete_platform.resources.strava_export import StravaExportSource

    source = StravaExportSource(export_path=str(realdata / "aakashb_activities.csv"), athlete_id=1,
                                timezone="America/Chicago", parse_activity_files=False)
    fetched = source.fetch(dt.date(2000, 1, 1), dt.date(2030, 1, 1))
    rows = []
    for seq, record in enumerate(fetched.records):
        try:
            parsed = parse_record(source="strava_export", athlete_id=1, activity_date=record.activity_date,
                                  payload=json.dumps(record.activity), streams=None, content_hash="-",
                                  ingested_at=dt.datetime(2025, 1, 1), record_seq=seq)
        except Rejection:
            continue
        rows.append(parsed.row)
    silver = pd.DataFrame(rows, columns=SILVER_COLUMNS)
    assert silver["workout_type"].isna().all()
    detection = detect_races(silver)
    counts = detection.races["distance_bucket"].value_counts()
    # README: "~40 named races (half marathons, 10Ks, a marathon)"; at standard distances we find:
    assert len(detection.races) >= 25
    assert counts.get("21k", 0) >= 12 and counts.get("42k", 0) >= 3 and counts.get("10k", 0) >= 5
    assert detection.by_reason.get(REASON_NAME, 0) >= 25
    titles = silver.set_index("activity_id").loc[detection.races["activity_id"], "name"]
    named = detection.races["detection_reason"].to_numpy() == REASON_NAME
    assert not titles[named].str.fullmatch(r"(Morning|Lunch|Afternoon|Evening|Night) [Rr]un").any()
    assert (detection.races["official_time_s"] > 0).all()


# -- the asset ---------------------------------------------------------------------------------------


def silver_for_delta(silver: pd.DataFrame) -> pd.DataFrame:
    out = silver.copy()
    out["start_date_utc"] = pd.to_datetime(out["start_date_utc"], utc=True)
    out["ingested_at"] = pd.to_datetime(out["ingested_at"], utc=True)
    return out


def test_race_results_asset_range_run_and_rerun(tmp_path, simulated):
    root = tmp_path
    write_table(root / "delta", ["silver", "activities"], silver_for_delta(simulated))
    assets = [upstream_spec(silver_activities, SILVER_ACTIVITIES), race_results]
    resources = model_resources(root)
    instance = DagsterInstance.ephemeral()
    first, last = "2023-03-01", "2023-06-30"
    result = materialize_window(assets, resources, first, last, instance=instance)
    checks = check_results(result)
    assert checks["unique_activity_id"].passed and checks["official_time_positive"].passed
    path = str(root.joinpath("delta", *RACE_RESULTS.path))
    stored = DeltaTable(path).to_pandas()
    days = pd.to_datetime(simulated["activity_date"]).dt.date
    start, end = dt.date(2023, 3, 1), dt.date(2023, 7, 1)
    expected = detect_races(simulated[(days >= start) & (days < end)], simulated[days < start]).races
    assert len(stored) == len(expected) > 20
    merged = stored.merge(expected, on="activity_id", suffixes=("", "_pure"))
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged["official_time_s"], merged["official_time_s_pure"])
    assert (merged["distance_bucket"] == merged["distance_bucket_pure"]).all()
    assert (pd.to_datetime(stored["race_date"]).dt.date >= start).all()

    # one day again: idempotent (the day's rows are replaced, the rest kept)
    race_day = str(stored["race_date"].iloc[len(stored) // 2])
    materialize_window(assets, resources, race_day, instance=instance)
    again = DeltaTable(path).to_pandas()
    assert sorted(again["activity_id"]) == sorted(stored["activity_id"])
