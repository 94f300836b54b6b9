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


def test_counts_carried_by_a_grouped_aggregation_are_the_checks_own(spark_resource):
    # The asset counts the failing rows in its by-sport aggregation: summed over the groups, the same counts and
    # the same failing ids as the checks' own aggregation.
    from pyspark.sql import functions as F

    rows = [good(1), good(10, moving_time_s=0.0), good(11, sport="ride", distance_m=0.0), good(20, pace_s_per_km=90.0),
            good(21, sport="ride", max_hr=260.0, pace_s_per_km=None), good(30, activity_date=DAY + dt.timedelta(days=1))]
    frame = spark_resource.get_session().createDataFrame([tuple(r.values()) for r in rows], COLUMNS)
    end = DAY + dt.timedelta(days=1)
    groups = frame.groupBy("sport").agg(*checks.row_failure_sums(DAY, end)).collect()
    carried = {name: sum(int(g[name] or 0) for g in groups) for name in checks.row_conditions(DAY, end)}
    assert carried == {"positive_duration_and_distance": 2, "plausible_pace_and_hr": 2, "rows_in_own_partition": 1}
    own = checks.row_check_counts(frame, DAY, end)
    assert {name: (n, sorted(ids)) for name, (n, ids) in checks.row_check_counts(frame, DAY, end, carried).items()} == \
        {name: (n, sorted(ids)) for name, (n, ids) in own.items()}
    assert sorted(own["plausible_pace_and_hr"][1]) == [20, 21]


def test_unique_activity_id_names_ids_kept_twice_across_the_table_with_their_dates(spark_resource):
    spark = spark_resource.get_session()
    later = DAY + dt.timedelta(days=4)
    window = spark.createDataFrame([tuple(good(i).values()) for i in (1, 2, 3)], COLUMNS)
    clean_rest = spark.createDataFrame([(7, later)], "activity_id long, activity_date date")
    assert checks.check_unique_activity_id(window, clean_rest).passed

    rest = spark.createDataFrame([(2, later), (7, later), (7, DAY)], "activity_id long, activity_date date")
    outcome = checks.check_unique_activity_id(window, rest)
    assert not outcome.passed
    assert outcome.metadata["scope"].value == "table"
    assert sorted(ast.literal_eval(outcome.metadata["duplicated_ids_sample"].value)) == [
        f"2 on {DAY}, {later}", f"7 on {DAY}, {later}"]


def test_unique_activity_id_sample_is_capped(spark_resource):
    rows = [tuple(good(i).values()) for i in range(1, 9)] * 2
    outcome = checks.check_unique_activity_id(spark_resource.get_session().createDataFrame(rows, COLUMNS))
    assert not outcome.passed
    assert outcome.metadata["scope"].value == "window"
    assert len(ast.literal_eval(outcome.metadata["duplicated_ids_sample"].value)) == checks.SAMPLE_IDS
