"""``compute.rolling_features``: the PMC and ACWR against references, fitness markers, risk flags, incremental ==
batch, days up to D only, athlete isolation."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from athlete_platform.features import compute as fc
from athlete_platform.features.compute.common import FITNESS_LOOKBACK_DAYS
from athlete_platform_tests.features.compute.builders import (
    DAY0,
    all_tables,
    assert_frames_close,
    chained_rolling,
    daily_rows,
    synthetic_athlete,
)


def test_rolling_features_read_only_the_declared_input_columns() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 150, seed=37)
    daily = all_tables(acts, profiles, DAY0 + dt.timedelta(days=150))["daily"]
    days = daily["date"]
    parts = [daily[days < DAY0 + dt.timedelta(days=100)], daily[days >= DAY0 + dt.timedelta(days=100)]]
    full = chained_rolling(parts)  # the second part continues from a state rebuilt from the daily history
    pruned = chained_rolling([part[list(fc.ROLLING_INPUT_COLUMNS)] for part in parts])
    assert full["best_effort_10k_s"].notna().any() and full["efficiency_factor_30d"].notna().any()
    pd.testing.assert_frame_equal(full, pruned, check_exact=True)


def test_rolling_pmc_matches_reference_and_names_both_tsb() -> None:
    rows = fc.rolling_features(daily_rows(1, [100.0] * 7 + [0.0]), None)
    assert list(rows.columns) == list(fc.ROLLING_FEATURE_COLUMNS)
    assert rows.loc[0, "ctl"] == pytest.approx(2.3810, abs=5e-5)
    assert rows.loc[0, "atl"] == pytest.approx(14.2857, abs=5e-5)
    assert rows.loc[0, "tsb"] == 0.0  # yesterday = the seeds
    assert rows.loc[6, "tsb_same_day"] == pytest.approx(-50.4860, abs=5e-5)
    assert rows.loc[6, "tsb"] == pytest.approx(-46.8812, abs=5e-5)
    assert rows.loc[7, "ctl"] == pytest.approx(15.1527, abs=5e-5)  # the rest day
    assert rows.loc[7, "atl"] == pytest.approx(56.5786, abs=5e-5)
    assert rows.loc[7, "tsb"] == pytest.approx(-50.4860, abs=5e-5)


def test_rolling_acwr_reference_vector_and_warmup() -> None:
    rows = fc.rolling_features(daily_rows(1, [50.0] * 21 + [100.0] * 7), None)
    assert rows["acwr_rolling_7_28"].iloc[:27].isna().all()
    assert rows["acwr_rolling_7_28"].iloc[27] == pytest.approx(1.600, abs=5e-4)
    assert rows["acwr_ewma_7_28"].iloc[27] == pytest.approx(1.339, abs=5e-4)
    assert rows["acwr_ewma_7_28"].iloc[0] == 1.0  # seeded with day 1's load
    assert rows["is_warmup"].all()


def test_rolling_monotony_strain_rest_days_consistency() -> None:
    loads = [0.0] * 3 + [5.0] + [0, 20, 10, 10, 10, 10, 10]  # days 1-3 exist but are rest days
    rows = fc.rolling_features(daily_rows(1, loads), None)
    last = rows.iloc[-1]
    assert last["monotony_7d"] == pytest.approx(1.8708, abs=5e-5)
    assert last["strain_7d"] == pytest.approx(130.96, abs=5e-3)
    assert last["rest_days_14d"] == 4  # 11 days of data, 4 without activity
    assert last["consistency_30d"] == pytest.approx(7 / 11)
    assert last["activity_count_30d"] == 7
    assert rows.loc[0, "rest_days_14d"] == 1 and rows.loc[0, "consistency_30d"] == 0.0


def test_rolling_best_efforts_and_best_pace_windows() -> None:
    n = 95
    effort_d = np.full(n, np.nan)
    effort_t = np.full(n, np.nan)
    best_pace = np.full(n, np.nan)
    effort_d[0], effort_t[0], best_pace[0] = 10_000.0, 2_400.0, 240.0  # 10K in 40:00 on day 1
    daily = daily_rows(
        1, [50.0] * n, best_effort_distance_m=effort_d, best_effort_time_s=effort_t, best_pace_s_per_km=best_pace
    )
    rows = fc.rolling_features(daily, None)
    assert round(rows.loc[0, "best_effort_5k_s"]) == 19 * 60 + 11
    assert round(rows.loc[89, "best_effort_21k_s"]) == 3600 + 28 * 60 + 15  # day 90 still sees day 1
    assert round(rows.loc[89, "best_effort_42k_s"]) == 3 * 3600 + 4 * 60
    assert rows.loc[89, "best_effort_10k_s"] == pytest.approx(2_400.0)
    assert math.isnan(rows.loc[90, "best_effort_5k_s"])  # 91 days later: out of the 90-day window
    assert rows.loc[29, "best_pace_30d"] == 240.0 and math.isnan(rows.loc[30, "best_pace_30d"])


def test_rolling_vdot_windows_hand_computed() -> None:
    n = 103
    best, mean = np.full(n, np.nan), np.full(n, np.nan)
    for day, (top, average) in {2: (50.0, 49.0), 12: (52.0, 50.0), 42: (48.0, 47.0), 62: (51.0, 49.0),
                                97: (45.0, 44.0)}.items():
        best[day], mean[day] = top, average
    rows = fc.rolling_features(daily_rows(1, [40.0] * n, best_vdot=best, mean_vdot=mean), None)
    columns = ["best_vdot_30d", "median_vdot_30d", "top3_vdot_90d", "days_since_best_vdot_90d"]

    def at(day: int) -> list[float]:
        return rows.loc[day, columns].astype(float).tolist()

    assert all(math.isnan(v) for v in at(0) + at(1))  # nothing yet
    assert at(2) == [50.0, 49.0, 50.0, 0.0]
    assert at(7) == [50.0, 49.0, 50.0, 5.0]  # rest days keep the window's values; the best ages
    assert at(12) == [52.0, 49.5, 51.0, 0.0]  # median of 49 and 50; mean of the only two best days
    assert at(42) == [48.0, 47.0, 50.0, 30.0]  # days 2, 12 out of the 30 days, not of the 90
    assert at(62) == [51.0, 48.0, 51.0, 50.0]  # 30 d: days 42, 62; top 3 of 90 d: 52, 51, 50
    assert at(91) == [51.0, 49.0, 51.0, 79.0]  # day 2 is still in the 90 days ending at day 91
    assert at(92)[2:] == [pytest.approx(151.0 / 3), 80.0]  # ... and out of the window ending at day 92
    assert all(math.isnan(v) for v in at(93)[:2])  # day 62 is 31 days before day 93
    assert at(101) == [45.0, 44.0, pytest.approx(151.0 / 3), 89.0]
    assert at(102)[2:] == [48.0, 40.0]  # day 12 gone: 51, 48, 45 left; the best is day 62's
    for column in columns:
        assert rows[column].dtype == np.float64


def test_rolling_efficiency_factor_recent_median_and_ratio_to_the_earlier_60_days() -> None:
    n = 96
    factor = np.full(n, np.nan)
    factor[[5, 20, 40]] = [1.0, 1.2, 1.1]
    factor[[75, 80, 85]] = [1.3, 1.25, 1.35]
    rows = fc.rolling_features(daily_rows(1, [40.0] * n, efficiency_factor=factor), None)
    recent, ratio = rows["efficiency_factor_30d"], rows["efficiency_factor_ratio"]
    assert math.isnan(recent[4]) and math.isnan(ratio[4])
    assert recent[30] == pytest.approx(1.1)  # days 1..30: median of 1.0 and 1.2
    assert math.isnan(ratio[30])  # nothing in the 60 days before those 30
    assert recent[60] == pytest.approx(1.1)  # days 31..60: only day 40
    assert ratio[60] == pytest.approx(1.1 / 1.1)  # days 0..30 before it: median of 1.0 and 1.2
    assert recent[89] == pytest.approx(1.3)  # median of 1.3, 1.25, 1.35
    assert ratio[89] == pytest.approx(1.3 / 1.1)  # days 0..59: 1.0, 1.2, 1.1
    assert ratio[94] == pytest.approx(1.3 / 1.1)  # days 5..64 still hold day 5
    assert ratio[95] == pytest.approx(1.3 / 1.15)  # days 6..65: 1.2 and 1.1
    assert math.isnan(recent[70]) and math.isnan(ratio[70])  # days 41..70 without HR: no ratio either
    assert rows["efficiency_factor_30d"].dtype == np.float64 and ratio.dtype == np.float64

    n = 40
    km = np.zeros(n)
    minutes = np.zeros(n)
    for day in range(0, n, 2):  # a 10 km road run every other day, 1 s/km faster per day
        km[day] = 10.0
        minutes[day] = (330.0 - day) * 10 / 60
    rows = fc.rolling_features(daily_rows(1, [60.0] * n, road_run_distance_km=km, road_run_moving_min=minutes), None)
    assert math.isnan(rows.loc[3, "pace_trend_30d"])  # only 2 run days so far
    assert rows.loc[4, "pace_trend_30d"] == pytest.approx(-1.0)
    assert rows.loc[n - 1, "pace_trend_30d"] == pytest.approx(-1.0)


def test_risk_flags_and_reasons() -> None:
    loads = [50.0] * 42 + [150.0] * 7 + [0.0] * 7
    rows = fc.rolling_features(daily_rows(1, loads), None, fc.FeatureParams())
    day49 = rows.iloc[48]  # acwr = 150 / ((21·50 + 7·150)/28) = 2.0; 7 identical days: monotony 10
    assert day49["acwr_rolling_7_28"] == pytest.approx(2.0)
    assert day49["monotony_7d"] == 10.0
    assert day49["tsb"] < -30
    assert day49["risk_reasons"] == "ACWR_GT_1_5,MONOTONY_GT_2,TSB_LT_MINUS_30"
    assert day49["is_overtraining_risk"]
    rest_week = rows.iloc[-1]  # seven rest days: monotony is 10 by rule, but no load → not flagged
    assert rest_week["monotony_7d"] == 10.0 and "MONOTONY_GT_2" not in rest_week["risk_reasons"]
    assert rows.iloc[20]["risk_reasons"] == "MONOTONY_GT_2"  # steady 50/day: SD 0
    relaxed = fc.rolling_features(
        daily_rows(1, loads), None, fc.FeatureParams(risk_acwr_gt=2.5, risk_monotony_gt=11, risk_tsb_lt=-100)
    )
    assert relaxed["risk_reasons"].eq("").all() and not relaxed["is_overtraining_risk"].any()


def test_tsb_flag_is_not_raised_during_warmup_unless_configured() -> None:
    loads = [100.0, 0.0] * 10  # alternating: monotony low, TSB from a 0 seed deeply negative
    default = fc.rolling_features(daily_rows(1, loads), None)
    assert default["tsb"].min() < -30
    assert not default["risk_reasons"].str.contains("TSB").any()
    flagged = fc.rolling_features(daily_rows(1, loads), None, fc.FeatureParams(flag_tsb_during_warmup=True))
    assert flagged.loc[flagged["tsb"] < -30, "risk_reasons"].eq("TSB_LT_MINUS_30").all()


def test_rolling_rejects_gaps_and_misaligned_state() -> None:
    daily = daily_rows(1, [10.0] * 5)
    with pytest.raises(ValueError, match="consecutive"):
        fc.rolling_features(daily.drop(index=2), None)
    first = fc.rolling_features(daily.iloc[:3], None)
    with pytest.raises(ValueError, match="no daily features row"):
        fc.state_from_previous_rows(first.iloc[-1:], daily.iloc[:2])  # the history must reach D−1
    states = fc.state_from_previous_rows(first.iloc[-1:], daily.iloc[:3])
    with pytest.raises(ValueError, match="state ends"):
        fc.rolling_features(daily.iloc[4:], states)
    with pytest.raises(ValueError, match="state ends"):
        fc.rolling_features(daily.iloc[2:], states)  # re-running a folded day


FITNESS_MARKERS = ("best_vdot_30d", "median_vdot_30d", "top3_vdot_90d", "days_since_best_vdot_90d",
                   "efficiency_factor_30d", "efficiency_factor_ratio")


def test_incremental_equals_batch_over_200_plus_days_with_gaps_and_two_athletes() -> None:
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 230, seed=11)
    acts_2, prof_2 = synthetic_athlete(2, DAY0 + dt.timedelta(days=17), 200, seed=12)
    acts = pd.concat([acts_1, acts_2], ignore_index=True)
    profiles = pd.concat([prof_1, prof_2], ignore_index=True)
    end = DAY0 + dt.timedelta(days=230)
    features = fc.activity_features(acts, profiles, None)
    firsts = acts.groupby("athlete_id")["activity_date"].min().to_dict()
    daily = fc.daily_features(features, firsts, DAY0, end)

    batch = fc.rolling_features(daily, None)
    # rows exist for every calendar day of the daily table
    assert batch[["athlete_id", "as_of_date"]].values.tolist() == daily[["athlete_id", "date"]].values.tolist()
    assert len(batch) >= 400

    day_by_day = chained_rolling([daily[daily["date"] == day] for day in sorted(daily["date"].unique())])
    assert_frames_close(day_by_day, batch)

    # uneven chunks, the daily table recomputed per chunk from the chunk's activities + history
    bounds = [DAY0 + dt.timedelta(days=offset) for offset in (0, 1, 31, 38, 150)] + [end]
    chunks = [fc.daily_features(features, firsts, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    assert_frames_close(chained_rolling(chunks), batch)

    assert batch["is_warmup"].sum() == 2 * 42
    assert batch["acwr_rolling_7_28"].notna().any() and batch["pace_trend_30d"].notna().any()
    assert batch["best_effort_10k_s"].notna().any() and batch["risk_reasons"].str.len().gt(0).any()
    for column in FITNESS_MARKERS:  # the equalities above compared real values, not only NaN
        assert batch[column].notna().sum() > 100, column


def test_athletes_advanced_together_equal_each_athlete_advanced_alone() -> None:
    """Athletes of one shape (days to advance, state window) are advanced as one batch: no row may depend on
    which other athletes share the batch. Six athletes: two start together (one batch from scratch), four
    continue from a state (two with the full 90-day window, two younger: other window lengths)."""
    starts = [0, 0, 3, 30, 100, 100]
    tables = [synthetic_athlete(i + 1, DAY0 + dt.timedelta(days=offset), 230 - offset, seed=40 + i)
              for i, offset in enumerate(starts)]
    acts = pd.concat([t[0] for t in tables], ignore_index=True)
    features = fc.activity_features(acts, pd.concat([t[1] for t in tables], ignore_index=True), None)
    firsts = acts.groupby("athlete_id")["activity_date"].min().to_dict()
    daily = fc.daily_features(features, firsts, DAY0, DAY0 + dt.timedelta(days=230))
    split = DAY0 + dt.timedelta(days=150)
    before, after = daily[daily["date"] < split], daily[daily["date"] >= split]
    keep = fc.FeatureParams().state_window_days

    def advance(ids: list[int]) -> pd.DataFrame:
        mine = before[before["athlete_id"].isin(ids)]
        first = fc.rolling_features(mine)
        history = mine[mine["date"] >= split - dt.timedelta(days=keep)]
        states = fc.state_from_previous_rows(first[first["as_of_date"] == split - dt.timedelta(days=1)], history)
        return pd.concat([first, fc.rolling_features(after[after["athlete_id"].isin(ids)], states)], ignore_index=True)

    together = advance(list(range(1, 7)))
    alone = pd.concat([advance([i]) for i in range(1, 7)], ignore_index=True)
    order = ["athlete_id", "as_of_date"]
    pd.testing.assert_frame_equal(
        together.sort_values(order, ignore_index=True), alone.sort_values(order, ignore_index=True), check_exact=True
    )
    assert together["ctl"].notna().all() and together["top3_vdot_90d"].notna().sum() > 100


def test_rolling_continues_from_the_previous_row_and_the_window_of_daily_history() -> None:
    """What the rolling asset does: D−1's row + only the last ``state_window_days`` daily rows."""
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 230, seed=13)
    acts_2, prof_2 = synthetic_athlete(2, DAY0 + dt.timedelta(days=40), 190, seed=14)
    features = fc.activity_features(pd.concat([acts_1, acts_2], ignore_index=True),
                                    pd.concat([prof_1, prof_2], ignore_index=True), None)
    firsts = {1: DAY0, 2: DAY0 + dt.timedelta(days=40)}
    daily = fc.daily_features(features, firsts, DAY0, DAY0 + dt.timedelta(days=230))
    batch = fc.rolling_features(daily, None)
    keep = fc.FeatureParams().state_window_days
    assert keep == FITNESS_LOOKBACK_DAYS == 90  # the new 90-day windows did not widen the history read
    for split in (DAY0 + dt.timedelta(days=120), DAY0 + dt.timedelta(days=200)):  # athlete 2: 80 / 160 days in
        previous = batch[batch["as_of_date"] == split - dt.timedelta(days=1)]
        history = daily[(daily["date"] < split) & (daily["date"] >= split - dt.timedelta(days=keep))]
        states = fc.state_from_previous_rows(previous, history)
        rows = fc.rolling_features(daily[daily["date"] >= split], states)
        expected = batch[batch["as_of_date"] >= split].reset_index(drop=True)
        assert_frames_close(rows.reset_index(drop=True), expected)
        assert expected["top3_vdot_90d"].notna().all() and expected["efficiency_factor_ratio"].notna().any()


def test_rolling_rows_for_day_d_use_only_days_up_to_d() -> None:
    acts, profiles = synthetic_athlete(1, DAY0, 160, seed=5)
    features = fc.activity_features(acts, profiles, None)
    daily = fc.daily_features(features, {1: DAY0}, DAY0, DAY0 + dt.timedelta(days=160))
    full = fc.rolling_features(daily, None)
    prefix = fc.rolling_features(daily.iloc[:100], None)
    assert_frames_close(full.iloc[:100].reset_index(drop=True), prefix)


def test_two_athletes_do_not_contaminate_each_other() -> None:
    acts_1, prof_1 = synthetic_athlete(1, DAY0, 120, seed=21)
    acts_2, prof_2 = synthetic_athlete(2, DAY0 + dt.timedelta(days=3), 117, seed=22)
    # make athlete 2 much faster and with a higher HR, so any leak would show
    acts_2["moving_time_s"] *= 0.6
    acts_2["pace_s_per_km"] *= 0.6
    acts_2["max_hr"] += 15
    end = DAY0 + dt.timedelta(days=120)
    together = all_tables(
        pd.concat([acts_2, acts_1], ignore_index=True), pd.concat([prof_2, prof_1], ignore_index=True), end
    )
    alone = all_tables(acts_1, prof_1, end)
    for name in ("activity", "daily", "weekly", "rolling"):
        mine = together[name][together[name]["athlete_id"] == 1].reset_index(drop=True)
        expected = alone[name].reset_index(drop=True)
        if name == "activity":
            mine = mine.sort_values("activity_id").reset_index(drop=True)
            expected = expected.sort_values("activity_id").reset_index(drop=True)
        assert_frames_close(mine, expected)


def test_athlete_with_a_state_but_no_new_daily_rows_gets_no_rows() -> None:
    daily = pd.concat([daily_rows(1, [40.0] * 7), daily_rows(2, [70.0] * 5)], ignore_index=True)
    split = DAY0 + dt.timedelta(days=5)
    first = fc.rolling_features(daily[daily["date"] < split], None)
    states = fc.state_from_previous_rows(first[first["as_of_date"] == split - dt.timedelta(days=1)],
                                         daily[daily["date"] < split])
    assert set(states) == {1, 2}
    rows = fc.rolling_features(daily[daily["date"] >= split], states)  # athlete 2's days ended before split
    alone = fc.rolling_features(daily[daily["athlete_id"] == 1], None)
    assert_frames_close(rows.reset_index(drop=True), alone.iloc[5:].reset_index(drop=True))
    assert rows["days_seen"].tolist() == [6, 7]
