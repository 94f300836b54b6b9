"""The silver contract: valid records become typed rows; each broken field is named in the rejection."""

import datetime as dt
import json

import pytest

from athlete_platform.silver.parsing import Rejection, normalize_sport, parse_record
from athlete_platform_tests.support.static_source import run_activity

NOW = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)


def parse(activity: dict, day: str = "2025-02-10", streams: dict | None = None):
    return parse_record(
        source="static",
        athlete_id=1,
        activity_date=dt.date.fromisoformat(day),
        payload=json.dumps(activity),
        streams=json.dumps(streams) if streams else None,
        content_hash="h",
        ingested_at=NOW,
        record_seq=0,
    )


def test_valid_run_is_typed_with_derived_pace_and_durations():
    parsed = parse(run_activity(7, "2025-02-10", distance=10000.0, moving_time=3000)["activity"])
    row = parsed.row
    assert row["activity_id"] == 7 and row["sport"] == "run"
    assert row["pace_s_per_km"] == pytest.approx(300.0)
    assert row["moving_min"] == pytest.approx(50.0) and row["elapsed_min"] == pytest.approx(51.0)
    assert row["start_date_utc"] == dt.datetime(2025, 2, 10, 12, tzinfo=dt.timezone.utc)
    assert row["start_date_local"] == dt.datetime(2025, 2, 10, 9)
    assert parsed.hr_profile is None  # HR but neither stream nor splits


@pytest.mark.parametrize(
    ("override", "field", "reason_part"),
    [
        ({"distance": -5.0}, "distance", "negative"),
        ({"distance": 0.0}, "distance", "zero distance"),
        ({"distance": 25.0, "moving_time": 10}, "distance", "too short"),
        ({"moving_time": None}, "moving_time", "missing"),
        ({"moving_time": 0}, "moving_time", "must be in"),
        ({"average_heartrate": 300.0, "max_heartrate": 310.0}, "average_heartrate", "outside the plausible"),
        ({"distance": 10000.0, "moving_time": 600}, "average_speed", "run pace"),
        ({"id": "abc"}, "id", "positive integer"),
        ({"start_date_local": "yesterday"}, "start_date_local", "ISO"),
        ({"start_date_local": "2025-02-11T09:00:00Z"}, "start_date_local", "partition date"),
        ({"sport_type": None, "type": None}, "sport_type", "missing"),
    ],
)
def test_broken_record_is_rejected_naming_the_field(override, field, reason_part):
    activity = run_activity(7, "2025-02-10")["activity"]
    activity.update(override)
    with pytest.raises(Rejection) as raised:
        parse(activity)
    assert field in raised.value.problems
    assert reason_part in raised.value.problems[field]


def test_rejection_lists_every_bad_field():
    activity = run_activity(7, "2025-02-10", distance=-1.0, moving_time=0, average_speed=0.0)["activity"]
    with pytest.raises(Rejection) as raised:
        parse(activity)
    assert {"distance", "moving_time"} <= set(raised.value.problems)


def test_strength_session_without_distance_is_valid_and_has_no_pace():
    activity = run_activity(8, "2025-02-10", sport_type="WeightTraining", type="WeightTraining", distance=0.0)["activity"]
    row = parse(activity).row
    assert row["sport"] == "strength" and row["pace_s_per_km"] is None


def test_hr_profile_from_stream_weights_samples_by_time_and_discounts_pauses():
    streams = {"time": {"data": [0, 10, 20, 120, 130]}, "heartrate": {"data": [120, 120, 150, 160, 160]}}
    profile = parse(run_activity(9, "2025-02-10")["activity"], streams=streams).hr_profile
    assert profile["hr_source"] == "stream"
    seconds = dict(zip(profile["hr_bpm"], profile["seconds"]))
    # 120 covers 0-10 and 10-20; the 100 s pause after 150 counts one typical step (10 s);
    # 160: 10 s + the last sample (typical step).
    assert seconds == {120.0: 20.0, 150.0: 10.0, 160.0: 20.0}


def test_hr_profile_from_splits_weights_by_split_time():
    activity = run_activity(10, "2025-02-10")["activity"]
    activity["splits_metric"] = [
        {"split": 1, "distance": 1000, "moving_time": 300, "elapsed_time": 300, "average_heartrate": 140},
        {"split": 2, "distance": 1000, "moving_time": 290, "elapsed_time": 295, "average_heartrate": 150},
    ]
    profile = parse(activity).hr_profile
    assert profile["hr_source"] == "splits"
    assert profile["hr_bpm"] == [140.0, 150.0] and profile["seconds"] == [300.0, 290.0]


def test_sport_vocabulary_covers_api_and_export_names():
    assert normalize_sport("TrailRun") == "trail_run"
    assert normalize_sport("Trail Run") == "trail_run"
    assert normalize_sport("Weight Training") == "strength"
    assert normalize_sport("VirtualRide") == "ride"
    assert normalize_sport("Kitesurf") == "other"


def test_real_race_detail_without_stream_gets_its_hr_profile_from_splits(realdata):
    race = json.loads((realdata / "deroffal_detailed_race_7826768400.json").read_text("utf-8"))
    parsed = parse(race, day=race["start_date_local"][:10])
    assert parsed.row["workout_type"] == 1 and parsed.row["sport"] == "run"
    profile = parsed.hr_profile
    assert profile["hr_source"] == "splits"
    split_seconds = sum(s["moving_time"] for s in race["splits_metric"] if s.get("average_heartrate"))
    assert sum(profile["seconds"]) == pytest.approx(split_seconds)
