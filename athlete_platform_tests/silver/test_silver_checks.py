"""The silver asset's checks, on the rows the write stored (pandas), fail on rows that break them and name them."""

import ast
import datetime as dt

import pandas as pd

from athlete_platform.silver import checks

DAY = dt.date(2025, 3, 3)
NEXT_DAY = DAY + dt.timedelta(days=1)


def good(activity_id, **changes):
    row = {"activity_id": activity_id, "activity_date": DAY, "sport": "run", "moving_time_s": 1800.0,
           "elapsed_time_s": 1900.0, "distance_m": 6000.0, "pace_s_per_km": 300.0, "average_hr": 150.0,
           "max_hr": 175.0}
    return {**row, **changes}


def results(rows):
    frame = pd.DataFrame(rows)
    counts = checks.row_check_counts(frame)
    return {
        "duration": checks.check_positive_duration_and_distance(counts),
        "pace_hr": checks.check_plausible_pace_and_hr(counts),
        "window": checks.check_rows_in_own_partition(frame["activity_date"], DAY, NEXT_DAY),
    }


def test_clean_rows_pass_every_row_check():
    # A run without HR (missing) and a swim without pace are fine: a missing value is not a failure.
    rows = [good(1), good(2, average_hr=None, max_hr=None), good(3, sport="swim", pace_s_per_km=None)]
    outcome = results(rows)
    assert all(result.passed for result in outcome.values())
    assert outcome["duration"].metadata["bad_rows"].value == 0


def test_each_check_counts_and_names_its_own_failing_rows():
    rows = [
        good(1),
        good(10, moving_time_s=0.0),
        good(11, sport="ride", distance_m=0.0),
        good(12, distance_m=None),
        good(20, pace_s_per_km=90.0),
        good(21, max_hr=260.0),
        good(22, sport="ride", pace_s_per_km=None, average_hr=20.0),
        good(30, activity_date=NEXT_DAY),
    ]
    outcome = results(rows)
    assert not outcome["duration"].passed
    assert outcome["duration"].metadata["bad_rows"].value == 3
    assert ast.literal_eval(outcome["duration"].metadata["activity_ids_sample"].value) == [10, 11, 12]
    assert not outcome["pace_hr"].passed
    assert outcome["pace_hr"].metadata["implausible_rows"].value == 3
    assert ast.literal_eval(outcome["pace_hr"].metadata["activity_ids_sample"].value) == [20, 21, 22]
    assert not outcome["window"].passed
    assert outcome["window"].metadata["rows_outside"].value == 1


def test_a_ride_without_pace_and_a_walk_with_a_slow_pace_are_not_run_pace_failures():
    rows = [good(1, sport="ride", pace_s_per_km=None), good(2, sport="walk", pace_s_per_km=1500.0)]  # slower than a run's bound
    assert results(rows)["pace_hr"].passed


def test_sample_is_capped_while_the_count_is_complete():
    rows = [good(i, max_hr=300.0) for i in range(1, 13)]
    outcome = results(rows)["pace_hr"]
    assert outcome.metadata["implausible_rows"].value == 12
    assert len(ast.literal_eval(outcome.metadata["activity_ids_sample"].value)) == checks.SAMPLE_IDS


def test_unique_activity_id_names_ids_kept_twice_across_the_table_with_their_dates():
    later = DAY + dt.timedelta(days=4)
    window = pd.DataFrame([good(i) for i in (1, 2, 3)])
    clean_rest = pd.DataFrame({"activity_id": [7], "activity_date": [later]})
    assert checks.check_unique_activity_id(window, clean_rest).passed

    rest = pd.DataFrame({"activity_id": [2, 7, 7], "activity_date": [later, later, DAY]})
    outcome = checks.check_unique_activity_id(window, rest)
    assert not outcome.passed
    assert outcome.metadata["scope"].value == "table"
    assert ast.literal_eval(outcome.metadata["duplicated_ids_sample"].value) == [
        f"2 on {DAY}, {later}", f"7 on {DAY}, {later}"]


def test_unique_activity_id_sample_is_capped():
    outcome = checks.check_unique_activity_id(pd.DataFrame([good(i) for i in range(1, 9)] * 2))
    assert not outcome.passed
    assert outcome.metadata["scope"].value == "window"
    assert len(ast.literal_eval(outcome.metadata["duplicated_ids_sample"].value)) == checks.SAMPLE_IDS
