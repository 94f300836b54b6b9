"""The feature tables' checks (``features.checks``) on stored rows: each passes on clean rows and fails, naming the
count, on the violation it guards against."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from athlete_platform.features import checks

END = dt.date(2025, 3, 11)  # windows end (exclusive) here: the last day is 2025-03-10


def by_name(results) -> dict:
    return {r.check_name: r for r in results}


def activity_rows(**overrides) -> pd.DataFrame:
    rows = pd.DataFrame({
        "activity_id": [1, 2, 3],
        "avg_hr": [150.0, None, 140.0],
        "training_load": [60.0, 40.0, 0.0],
        **{f"z{i}_pct": [20.0, None, z] for i, z in zip(range(1, 6), [10.0, 20.0, 30.0, 25.0, 15.0])},
    })
    for column, (index, value) in overrides.items():
        rows.loc[index, column] = value
    return rows


def test_activity_checks_pass_on_clean_rows():
    results = by_name(checks.activity_checks(activity_rows()))
    assert all(r.passed for r in results.values())
    assert results["hr_zones_sum_to_100_or_null"].metadata["rows_with_zones"].value == 2


@pytest.mark.parametrize(("overrides", "failing", "count_key"), [
    ({"activity_id": (2, 1)}, "unique_activity_id", None),
    ({"z1_pct": (0, 30.0)}, "hr_zones_sum_to_100_or_null", "sum_off_by_more_than_0_5"),
    ({"z3_pct": (2, None)}, "hr_zones_sum_to_100_or_null", "partially_null_zones"),
    ({"avg_hr": (0, None)}, "hr_zones_sum_to_100_or_null", "zones_without_hr"),
    ({"training_load": (1, -1.0)}, "training_load_non_negative", "null_or_negative_load"),
    ({"training_load": (1, None)}, "training_load_non_negative", "null_or_negative_load"),
])
def test_activity_checks_fail_on_each_violation(overrides, failing, count_key):
    results = by_name(checks.activity_checks(activity_rows(**overrides)))
    assert [name for name, r in results.items() if not r.passed] == [failing]
    if count_key:
        assert results[failing].metadata[count_key].value == 1


def calendar(athlete_id: int, first: dt.date, last: dt.date, load: float = 10.0) -> pd.DataFrame:
    days = pd.date_range(first, last).date
    return pd.DataFrame({"athlete_id": athlete_id, "date": days, "daily_load": load})


def test_daily_checks_pass_and_summarize_the_window():
    rows = pd.concat([calendar(1, dt.date(2025, 3, 1), dt.date(2025, 3, 10)),
                      calendar(2, dt.date(2025, 3, 5), dt.date(2025, 3, 10), load=5.0)])
    results = by_name(checks.daily_checks(rows, END))
    assert all(r.passed for r in results.values())
    key = results["one_row_per_athlete_day"].metadata
    assert key["athletes"].value == 2 and key["total_load"].value == pytest.approx(10 * 10.0 + 6 * 5.0)


def test_daily_checks_fail_on_a_gap_a_short_calendar_and_a_duplicate_day():
    full = calendar(1, dt.date(2025, 3, 1), dt.date(2025, 3, 10))
    gap = full[full["date"] != dt.date(2025, 3, 4)]
    short = calendar(2, dt.date(2025, 3, 1), dt.date(2025, 3, 9))
    results = by_name(checks.daily_checks(pd.concat([gap, short]), END))
    assert not results["no_missing_calendar_days"].passed
    assert results["no_missing_calendar_days"].metadata["athletes_with_gaps"].value == 1
    assert results["no_missing_calendar_days"].metadata["athletes_not_reaching_window_end"].value == 1
    assert results["one_row_per_athlete_day"].passed
    doubled = by_name(checks.daily_checks(pd.concat([full, full.tail(1)]), END))
    assert not doubled["one_row_per_athlete_day"].passed
    assert doubled["one_row_per_athlete_day"].metadata["distinct_keys"].value == len(full)


def test_weekly_checks_fail_on_a_duplicate_week():
    weeks = pd.DataFrame({"athlete_id": [1, 1, 2],
                          "week_start": [dt.date(2025, 3, 3), dt.date(2025, 3, 10), dt.date(2025, 3, 3)]})
    assert checks.weekly_checks(weeks)[0].passed
    assert not checks.weekly_checks(pd.concat([weeks, weeks.head(1)]))[0].passed


def rolling_rows(athletes=(1, 2), days=3) -> pd.DataFrame:
    frames = []
    for athlete in athletes:
        dates = pd.date_range(END - dt.timedelta(days=days), END - dt.timedelta(days=1)).date
        frames.append(pd.DataFrame({
            "athlete_id": athlete, "as_of_date": dates, "ctl": 40.0 + athlete, "atl": 50.0, "tsb": -10.0 + athlete,
            "acwr_ewma_7_28": 1.1, "ewma_chronic": 35.0, "is_overtraining_risk": [False] * (days - 1) + [True],
        }))
    return pd.concat(frames, ignore_index=True)


def recent(active=(1, 2)) -> pd.DataFrame:
    return pd.DataFrame({"athlete_id": [*active, 3], "activity_count": [1] * len(active) + [0]})


def test_rolling_checks_pass_and_summarize_the_last_day():
    results = by_name(checks.rolling_checks(rolling_rows(), recent(), END))
    assert all(r.passed for r in results.values())
    key = results["one_row_per_athlete_day"].metadata
    assert key["athletes_on_last_day"].value == 2
    assert key["overtraining_risk_rows"].value == 2
    assert key["mean_ctl_last_day"].value == pytest.approx(41.5)
    assert key["mean_tsb_last_day"].value == pytest.approx(-8.5)


def test_rolling_checks_fail_on_null_pmc_and_on_acwr_null_with_load():
    rows = rolling_rows()
    rows.loc[0, "ctl"] = np.nan
    rows.loc[1, "acwr_ewma_7_28"] = np.nan
    rows.loc[2, ["acwr_ewma_7_28", "ewma_chronic"]] = [np.nan, 0.0]  # no chronic load: ACWR may be null
    result = by_name(checks.rolling_checks(rows, recent(), END))["pmc_and_acwr_non_null"]
    assert not result.passed
    assert result.metadata["rows_null_pmc"].value == 1 and result.metadata["rows_null_acwr_with_load"].value == 1


def test_rolling_checks_fail_when_a_recently_active_athlete_has_no_row_on_the_last_day():
    rows = rolling_rows()
    rows = rows[~((rows["athlete_id"] == 2) & (rows["as_of_date"] == END - dt.timedelta(days=1)))]
    result = by_name(checks.rolling_checks(rows, recent(), END))["row_for_every_recently_active_athlete"]
    assert not result.passed
    assert result.metadata["missing_athletes"].value == 1 and "2" in result.metadata["missing_athletes_sample"].value
    # an athlete without activities in the window needs no row
    assert by_name(checks.rolling_checks(rows, recent(active=(1,)), END))["row_for_every_recently_active_athlete"].passed


def test_recently_active_window_is_the_42_days_before_the_end():
    assert checks.recently_active_window(END) == (END - dt.timedelta(days=42), END)


def test_checks_on_an_empty_window_pass():
    empty = {name: pd.DataFrame(columns=columns) for name, columns in [
        ("activity", checks.ACTIVITY_CHECK_COLUMNS), ("daily", checks.DAILY_CHECK_COLUMNS),
        ("rolling", checks.ROLLING_CHECK_COLUMNS), ("recent", checks.RECENT_ACTIVITY_COLUMNS)]}
    results = [*checks.activity_checks(empty["activity"]), *checks.daily_checks(empty["daily"], END),
               *checks.rolling_checks(empty["rolling"], empty["recent"], END)]
    assert all(r.passed for r in results)
