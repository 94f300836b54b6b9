"""``make demo``'s dates: relative to today, ending on the newest daily partition, the same for the same day."""

import datetime as dt

import pytest

from athlete_platform.demo import latest_complete_day, parse_args


def test_by_default_predictions_are_the_30_days_ending_yesterday_after_two_years_of_history():
    args = parse_args([], yesterday=dt.date(2026, 11, 28))
    assert args.predict_start == dt.date(2026, 10, 30)
    assert args.predict_start + dt.timedelta(days=args.predict_days - 1) == dt.date(2026, 11, 28)
    assert args.start == dt.date(2024, 10, 30)
    assert vars(parse_args([], yesterday=dt.date(2026, 11, 28))) == vars(args)  # deterministic for a date


def test_explicit_dates_win_and_the_history_follows_the_prediction_start():
    args = parse_args(["--predict-start", "2025-11-01"], yesterday=dt.date(2026, 11, 28))
    assert (args.start, args.predict_start, args.predict_days) == (dt.date(2023, 11, 1), dt.date(2025, 11, 1), 30)
    args = parse_args(["--start", "2024-01-01", "--predict-start", "2025-11-01", "--predict-days", "7"])
    assert (args.start, args.predict_start, args.predict_days) == (dt.date(2024, 1, 1), dt.date(2025, 11, 1), 7)
    leap = parse_args(["--predict-days", "1"], yesterday=dt.date(2028, 2, 29))
    assert (leap.start, leap.predict_start) == (dt.date(2026, 2, 28), dt.date(2028, 2, 29))


def test_a_start_on_or_after_the_first_prediction_day_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--start", "2025-11-01", "--predict-start", "2025-11-01"])


def test_yesterday_is_the_sao_paulo_day_before():
    # 02:00 UTC on 10 March is 23:00 on 9 March in Sao Paulo (UTC−3): the newest complete day is 8 March.
    assert latest_complete_day(dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.timezone.utc)) == dt.date(2026, 3, 8)
    assert latest_complete_day(dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.timezone.utc)) == dt.date(2026, 3, 9)
