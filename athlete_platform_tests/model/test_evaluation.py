"""Time-ordered folds by dates with a real gap, and the metrics."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from athlete_platform.model.evaluation import (
    MIN_GAP_DAYS,
    NotEnoughRaces,
    interval_coverage,
    metrics_by_distance,
    regression_metrics,
    time_folds,
)


def random_race_dates(n: int, seed: int) -> pd.Series:
    """Races on weekends of 2023-2024, several on the same day, in random order."""
    rng = np.random.default_rng(seed)
    start = dt.date(2023, 1, 7)
    weekends = [start + dt.timedelta(days=7 * w + int(s)) for w in range(104) for s in (0, 1)]
    return pd.Series(rng.choice(np.array(weekends, dtype=object), size=n, replace=True))


@pytest.mark.parametrize("n_folds, gap_days, min_train", [(4, 43, 100), (3, 43, 50), (5, 60, 150), (1, 43, 200)])
def test_gap_and_time_order_in_every_fold(n_folds, gap_days, min_train):
    dates = random_race_dates(600, seed=n_folds)
    days = pd.to_datetime(dates).dt.date.to_numpy()
    folds = time_folds(dates, n_folds=n_folds, gap_days=gap_days, min_train_races=min_train)
    assert len(folds) == n_folds
    seen_test: set[int] = set()
    for k, fold in enumerate(folds):
        train_days, test_days = days[fold.train], days[fold.test]
        assert fold.train.size >= min_train and fold.test.size > 0
        # the gap, measured on the dates themselves, not only on the fold's summary fields
        assert (min(test_days) - max(train_days)).days >= gap_days
        assert fold.gap_days >= gap_days and fold.train_end == max(train_days) and fold.test_start == min(test_days)
        assert set(fold.train).isdisjoint(fold.test)
        assert seen_test.isdisjoint(fold.test)
        seen_test |= set(fold.test.tolist())
        if k:
            previous = folds[k - 1]
            assert fold.test_start > previous.test_end  # time-ordered, no date split across folds
            assert fold.train.size >= previous.train.size  # expanding window
            assert set(previous.train) <= set(fold.train)
    # the test blocks cover the tail: every race from the first test date on is tested exactly once
    tail = np.flatnonzero(days >= folds[0].test_start)
    assert seen_test == set(tail.tolist())


def test_training_races_are_all_races_far_enough_before_the_test_block():
    dates = random_race_dates(300, seed=3)
    days = pd.to_datetime(dates).dt.date.to_numpy()
    for fold in time_folds(dates, n_folds=3, gap_days=MIN_GAP_DAYS, min_train_races=60):
        cutoff = fold.test_start - dt.timedelta(days=43)
        assert set(fold.train.tolist()) == set(np.flatnonzero(days <= cutoff).tolist())


def test_not_enough_races_is_an_error_with_a_reason():
    dates = random_race_dates(40, seed=1)
    with pytest.raises(NotEnoughRaces, match="training races"):
        time_folds(dates, n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100)
    same_day = pd.Series([dt.date(2024, 1, 1)] * 200 + [dt.date(2024, 6, 1)] * 10)
    with pytest.raises(NotEnoughRaces, match="test dates"):
        time_folds(same_day, n_folds=3, gap_days=MIN_GAP_DAYS, min_train_races=100)


def test_regression_metrics_by_hand():
    truth = np.array([100.0, 200.0, 400.0])
    pred = np.array([110.0, 180.0, 400.0])
    metrics = regression_metrics(truth, pred)
    assert metrics["n"] == 3
    assert metrics["mae_s"] == pytest.approx(10.0)
    assert metrics["rmse_s"] == pytest.approx(np.sqrt((100 + 400 + 0) / 3))
    assert metrics["mape_pct"] == pytest.approx((10 + 10 + 0) / 3)
    assert regression_metrics([1.0, np.nan], [np.nan, 2.0])["n"] == 0


def test_metrics_by_distance_and_coverage():
    frame = pd.DataFrame(
        {
            "distance_bucket": ["5k", "5k", "10k"],
            "official_time_s": [1200.0, 1300.0, 2500.0],
            "pred": [1210.0, 1290.0, 2600.0],
        }
    )
    table = metrics_by_distance(frame, "pred", distances=["5k", "10k", "21k"]).set_index("distance")
    assert list(table.index) == ["5k", "10k", "all"]
    assert table.loc["5k", "mae_s"] == pytest.approx(10.0)
    assert table.loc["all", "mae_s"] == pytest.approx(40.0)
    share, n = interval_coverage([1.0, 5.0, 3.0], [0.0, 0.0, np.nan], [2.0, 4.0, 4.0])
    assert (share, n) == (0.5, 2)


def test_the_first_test_block_waits_for_a_training_span_not_only_a_race_count():
    """Many athletes reach the race count within days of the history's start, when every feature is still
    warming up: the span rule keeps such a fold out."""
    start = dt.date(2023, 1, 1)
    dates = pd.Series([start + dt.timedelta(days=int(d)) for d in np.arange(0, 1000, 0.5)])  # two races a day
    by_count = time_folds(dates, n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100)
    by_span = time_folds(dates, n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100, min_train_days=180)
    assert (by_count[0].train_end - start).days < 60
    assert (by_span[0].train_end - start).days >= 180
    assert by_span[0].gap_days >= 43
    with pytest.raises(NotEnoughRaces, match="over 2000 days"):
        time_folds(dates, n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100, min_train_days=2000)
