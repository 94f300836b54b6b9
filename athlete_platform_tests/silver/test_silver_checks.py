"""The silver asset's row-level checks, counted in one Spark aggregation, fail on rows that break them."""

import ast
import datetime as dt

from athlete_platform.silver import checks

DAY = dt.date(2025, 3, 3)
COLUMNS = ("activity_id long, activity_date date, sport string, moving_time_s double, elapsed_time_s double, "
           "distance_m double, pace_s_per_km double, average_hr double, max_hr double")


def good(activity_id, **changes):
    row = {"activity_id": activity_id, "activity_date": DAY, "sport": "run", "moving_time_s": 1800.0,
           "elapsed_time_s": 1900.0, "distance_m": 6000.0, "pace_s_per_km": 300.0, "average_hr": 150.0,
           "max_hr": 175.0}
    return {**row, **changes}


def results(spark, rows):
    frame = spark.createDataFrame([tuple(r.values()) for r in rows], COLUMNS)
    counts = checks.row_check_counts(frame, DAY, DAY + dt.timedelta(days=1))
    return {
        "duration": checks.check_positive_duration_and_distance(counts),
        "pace_hr": checks.check_plausible_pace_and_hr(counts),
        "window": checks.check_rows_in_own_partition(counts, DAY, DAY + dt.timedelta(days=1)),
    }


def test_clean_rows_pass_every_row_check(spark_resource):
    # A run without HR (nulls) and a swim without pace are fine: a null is not a failure.
    rows = [good(1), good(2, average_hr=None, max_hr=None), good(3, sport="swim", pace_s_per_km=None)]
    outcome = results(spark_resource.get_session(), rows)
    assert all(result.passed for result in outcome.values())
    assert outcome["duration"].metadata["bad_rows"].value == 0


def test_each_check_counts_and_names_its_own_failing_rows(spark_resource):
    rows = [
        good(1),
        good(10, moving_time_s=0.0),
        good(11, sport="ride", distance_m=0.0),
        good(12, distance_m=None),
        good(20, pace_s_per_km=90.0),
        good(21, max_hr=260.0),
        good(30, activity_date=DAY + dt.timedelta(days=1)),
    ]
    outcome = results(spark_resource.get_session(), rows)
    assert not outcome["duration"].passed
    assert outcome["duration"].metadata["bad_rows"].value == 3
    assert sorted(ast.literal_eval(outcome["duration"].metadata["activity_ids_sample"].value)) == [10, 11, 12]
    assert not outcome["pace_hr"].passed
    assert outcome["pace_hr"].metadata["implausible_rows"].value == 2
    assert sorted(ast.literal_eval(outcome["pace_hr"].metadata["activity_ids_sample"].value)) == [20, 21]
    assert not outcome["window"].passed
    assert outcome["window"].metadata["rows_outside"].value == 1


def test_sample_is_capped_while_the_count_is_complete(spark_resource):
    rows = [good(i, max_hr=300.0) for i in range(1, 13)]
    outcome = results(spark_resource.get_session(), rows)["pace_hr"]
    assert outcome.metadata["implausible_rows"].value == 12
    assert len(ast.literal_eval(outcome.metadata["activity_ids_sample"].value)) == checks.SAMPLE_IDS
