"""Training-load math against the test vectors of training-science.md and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from athlete_platform.domain import training_load as tl
from athlete_platform.domain.running import riegel_time

# 100 load every day from 0, day 8 a rest day (training-science.md worked example).
PMC_LOADS = [100.0] * 7 + [0.0]


# ------------------------------------------------------------------------------------------------
# PMC
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "ctl", "atl", "tsb_same_day"),
    [
        (1, 2.3810, 14.2857, -11.9048),
        (7, 15.5223, 66.0083, -50.4860),
        (8, 15.1527, 56.5786, -41.4258),  # rest day: load 0 still advances the recursion
    ],
)
def test_pmc_trainingpeaks_matches_reference_table(day: int, ctl: float, atl: float, tsb_same_day: float) -> None:
    pmc = tl.pmc_trainingpeaks(PMC_LOADS)
    assert pmc.ctl[day - 1] == pytest.approx(ctl, abs=5e-5)
    assert pmc.atl[day - 1] == pytest.approx(atl, abs=5e-5)
    assert pmc.tsb_same_day[day - 1] == pytest.approx(tsb_same_day, abs=5e-5)


@pytest.mark.parametrize(
    ("day", "ctl", "atl", "tsb_same_day"),
    [
        (1, 2.3528, 13.3122, -10.9594),
        (7, 15.3518, 63.2121, -47.8602),
        (8, 14.9906, 54.7971, -39.8065),
    ],
)
def test_pmc_goldencheetah_matches_reference_table(day: int, ctl: float, atl: float, tsb_same_day: float) -> None:
    pmc = tl.pmc_goldencheetah(PMC_LOADS)
    assert pmc.ctl[day - 1] == pytest.approx(ctl, abs=5e-5)
    assert pmc.atl[day - 1] == pytest.approx(atl, abs=5e-5)
    assert pmc.tsb_same_day[day - 1] == pytest.approx(tsb_same_day, abs=5e-5)


def test_yesterday_tsb_on_day_7_both_variants() -> None:
    assert tl.pmc_trainingpeaks(PMC_LOADS).tsb_yesterday[6] == pytest.approx(-46.8812, abs=5e-5)
    assert tl.pmc_goldencheetah(PMC_LOADS).tsb_yesterday[6] == pytest.approx(-44.2505, abs=5e-5)


def test_yesterday_tsb_is_previous_same_day_tsb_and_day_one_uses_seeds() -> None:
    pmc = tl.pmc_trainingpeaks(PMC_LOADS, ctl_seed=30.0, atl_seed=20.0)
    assert pmc.tsb_yesterday[0] == pytest.approx(10.0)
    np.testing.assert_array_equal(pmc.tsb_yesterday[1:], pmc.tsb_same_day[:-1])
    # first day with seeds: CTL = 30 + (100 − 30)/42, ATL = 20 + (100 − 20)/7
    assert pmc.ctl[0] == pytest.approx(30 + 70 / 42)
    assert pmc.atl[0] == pytest.approx(20 + 80 / 7)


def test_rest_day_decays_by_exactly_one_minus_one_over_n() -> None:
    pmc = tl.pmc_trainingpeaks(PMC_LOADS)
    assert pmc.ctl[7] == pytest.approx(pmc.ctl[6] * 41 / 42, rel=1e-12)
    assert pmc.atl[7] == pytest.approx(pmc.atl[6] * 6 / 7, rel=1e-12)


def test_smoothing_chained_through_last_value_is_bit_identical() -> None:
    loads = np.random.default_rng(3).uniform(0, 150, 400)
    whole = tl.smooth_load(loads, 1 / 42, 5.0)
    first = tl.smooth_load(loads[:123], 1 / 42, 5.0)
    rest = tl.smooth_load(loads[123:], 1 / 42, first[-1])
    np.testing.assert_array_equal(np.concatenate((first, rest)), whole)


@pytest.mark.parametrize("athletes", [3, tl.FEW_ROWS + 5])  # both ways of smoothing rows
def test_series_of_many_athletes_equal_each_athlete_alone_bit_for_bit(athletes: int) -> None:
    rng = np.random.default_rng(5)
    loads = rng.uniform(0, 150, (athletes, 60))
    loads[0, :10] = np.nan  # a row before its athlete's first day: NaN-padded windows
    ctl0, atl0 = rng.uniform(0, 80, athletes), rng.uniform(0, 80, athletes)
    pmc = tl.pmc_trainingpeaks(loads, ctl_seed=ctl0, atl_seed=atl0)
    acwr = tl.acwr_rolling_coupled(loads)
    monotony, strain = tl.rolling_monotony_strain(loads)
    assert pmc.ctl.shape == acwr.shape == monotony.shape == loads.shape
    for row in range(athletes):
        alone = tl.pmc_trainingpeaks(loads[row], ctl_seed=ctl0[row], atl_seed=atl0[row])
        for name in ("ctl", "atl", "tsb_yesterday", "tsb_same_day"):
            np.testing.assert_array_equal(getattr(pmc, name)[row], getattr(alone, name), err_msg=name)
        np.testing.assert_array_equal(acwr[row], tl.acwr_rolling_coupled(loads[row]))
        alone_monotony, alone_strain = tl.rolling_monotony_strain(loads[row])
        np.testing.assert_array_equal(monotony[row], alone_monotony)
        np.testing.assert_array_equal(strain[row], alone_strain)
    assert pmc.tsb_yesterday[1, 0] == ctl0[1] - atl0[1]  # day 1 of every row: its own seeds
    assert tl.smooth_load(np.empty((0, 5)), 0.5, 1.0).shape == (0, 5)  # no athletes: no rows


def test_smoothing_alphas() -> None:
    assert tl.alpha_trainingpeaks(42) == pytest.approx(1 / 42)
    assert tl.alpha_goldencheetah(7) == pytest.approx(1 - math.exp(-1 / 7))
    assert tl.alpha_ewma(7) == pytest.approx(0.25)
    assert tl.alpha_ewma(28) == pytest.approx(2 / 29)


# ------------------------------------------------------------------------------------------------
# ACWR
# ------------------------------------------------------------------------------------------------

ACWR_LOADS = [50.0] * 21 + [100.0] * 7


def test_acwr_reference_vector() -> None:
    assert tl.acwr_rolling_coupled(ACWR_LOADS)[-1] == pytest.approx(1.600, abs=5e-4)
    assert tl.acwr_rolling_uncoupled(ACWR_LOADS)[-1] == pytest.approx(2.000, abs=5e-4)
    assert tl.acwr_ewma(ACWR_LOADS)[-1] == pytest.approx(1.339, abs=5e-4)


def test_acwr_ewma_hand_computed_closed_form() -> None:
    # Seeded with 50 and constant 50 for 21 days, then 7 × 100: X = 100 − 50·(1 − λ)^7
    acute = 100 - 50 * 0.75**7
    chronic = 100 - 50 * (27 / 29) ** 7
    assert tl.acwr_ewma(ACWR_LOADS)[-1] == pytest.approx(acute / chronic, rel=1e-12)


def test_acwr_rolling_needs_a_full_chronic_window_and_a_nonzero_chronic_load() -> None:
    ratios = tl.acwr_rolling_coupled(ACWR_LOADS)
    assert np.isnan(ratios[:27]).all()
    assert np.isnan(tl.acwr_rolling_coupled([0.0] * 30)[-1])  # chronic load 0: undefined
    # a NaN day (before the athlete's first day) inside the window makes it undefined as well
    assert np.isnan(tl.acwr_rolling_coupled([np.nan] + [50.0] * 28)[-2])
    assert tl.acwr_rolling_coupled([np.nan] + [50.0] * 28)[-1] == pytest.approx(1.0)


def test_acwr_atl_ctl_variant() -> None:
    pmc = tl.pmc_trainingpeaks(PMC_LOADS)
    ratio = tl.acwr_atl_ctl(pmc.atl, pmc.ctl)
    assert ratio[0] == pytest.approx((100 / 7) / (100 / 42))  # = 6
    assert np.isnan(tl.acwr_atl_ctl([10.0], [0.0])[0])


# ------------------------------------------------------------------------------------------------
# Monotony and strain
# ------------------------------------------------------------------------------------------------


def test_monotony_and_strain_reference_vector() -> None:
    loads = [0, 20, 10, 10, 10, 10, 10]
    assert tl.foster_monotony(loads) == pytest.approx(1.8708, abs=5e-5)
    assert tl.foster_strain(loads) == pytest.approx(130.96, abs=5e-3)


def test_monotony_with_zero_sd_returns_runalyze_maximum() -> None:
    assert tl.foster_monotony([10.0] * 7) == 10.0
    assert tl.foster_strain([10.0] * 7) == pytest.approx(700.0)
    assert tl.foster_monotony([0.0] * 7) == 10.0  # a rest week: SD 0 too; strain stays 0
    assert tl.foster_strain([0.0] * 7) == 0.0


def test_monotony_is_clamped_and_pads_missing_days_as_rest() -> None:
    # six identical days + one slightly different one: mean/SD far above 10 → clamped to 10
    assert tl.foster_monotony([100, 100, 100, 100, 100, 100, 101]) == 10.0
    # three days given → four rest days added: [0,0,0,0,30,30,30] mean 90/7, SD = sqrt(mean(x²) − mean²)
    mean = 90 / 7
    sd = math.sqrt(3 * 900 / 7 - mean**2)
    assert tl.foster_monotony([30, 30, 30]) == pytest.approx(mean / sd)
    assert tl.foster_monotony([np.nan, 20, 10, 10, 10, 10, 10]) == pytest.approx(1.8708, abs=5e-5)
    with pytest.raises(ValueError):
        tl.foster_monotony([1.0] * 8)


def test_rolling_monotony_matches_the_scalar_definition_on_every_day() -> None:
    loads = np.random.default_rng(9).choice([0.0, 0.0, 40.0, 75.5, 120.0], size=60)
    monotony, strain = tl.rolling_monotony_strain(loads)
    for day in range(loads.size):
        window = loads[max(0, day - 6) : day + 1]
        assert monotony[day] == pytest.approx(tl.foster_monotony(window), rel=1e-12)
        assert strain[day] == pytest.approx(tl.foster_strain(window), rel=1e-12)


def test_monotony_of_weeks_rows() -> None:
    weeks = np.array([[0, 20, 10, 10, 10, 10, 10], [5, 5, 5, 5, 5, 5, 5]], dtype=float)
    np.testing.assert_allclose(tl.monotony_of_weeks(weeks), [1.8708287, 10.0], atol=1e-6)


# ------------------------------------------------------------------------------------------------
# TRIMP, hrTSS, rTSS
# ------------------------------------------------------------------------------------------------


def test_banister_trimp_reference_vector() -> None:
    assert tl.banister_trimp(60, 150, 50, 190, "M") == pytest.approx(108.10, abs=5e-3)
    assert tl.banister_trimp(60, 150, 50, 190, "F") == pytest.approx(90.42, abs=5e-3)
    assert tl.TRIMP_COEFFICIENTS["F"] == (0.64, 1.67)


def test_banister_trimp_is_zero_below_resting_hr_and_nan_without_reserve() -> None:
    assert tl.banister_trimp(60, 45, 50, 190) == 0.0
    assert math.isnan(tl.banister_trimp(60, 150, 190, 190))
    assert math.isnan(tl.banister_trimp(60, np.nan, 50, 190))
    with pytest.raises(ValueError):
        tl.banister_trimp(60, 150, 50, 190, "X")


def test_banister_trimp_vectorised() -> None:
    values = tl.banister_trimp(np.array([60.0, 30.0]), np.array([150.0, 150.0]), 50.0, 190.0)
    np.testing.assert_allclose(values, [108.0953593, 54.0476797], atol=1e-6)


def test_hr_tss_scores_one_hour_at_lthr_as_100() -> None:
    assert tl.hr_tss(60, 170, 50, 190, lthr=170) == pytest.approx(100.0)
    assert tl.hr_tss(30, 170, 50, 190, lthr=170) == pytest.approx(50.0)
    # 60 min at 150 bpm relative to one hour at 170: 108.0954 / TRIMP(60, 170)
    trimp_lthr = 60 * (120 / 140) * 0.64 * math.exp(1.92 * 120 / 140)
    assert tl.hr_tss(60, 150, 50, 190, lthr=170) == pytest.approx(108.0953593 / trimp_lthr * 100, rel=1e-7)


def test_rtss_hand_computed() -> None:
    assert tl.rtss(3600, 240, 240) == pytest.approx(100.0)
    # 45 min at 5:00/km with threshold 4:00/km: IF = 0.8 → 0.75 h × 0.64 × 100 = 48
    assert tl.intensity_factor(300, 240) == pytest.approx(0.8)
    assert tl.rtss(2700, 300, 240) == pytest.approx(48.0)
    # faster than threshold: IF > 1
    assert tl.intensity_factor(200, 240) == pytest.approx(1.2)
    assert math.isnan(tl.rtss(2700, np.nan, 240))
    assert math.isnan(tl.rtss(2700, 300, np.nan))
    np.testing.assert_allclose(tl.rtss([3600, 2700], [240, 300], 240), [100.0, 48.0])


# ------------------------------------------------------------------------------------------------
# Riegel and threshold pace
# ------------------------------------------------------------------------------------------------


def _hms(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def test_riegel_reference_vector() -> None:
    assert _hms(riegel_time(2400, 10_000, 5_000)) == "0:19:11"
    assert _hms(riegel_time(2400, 10_000, 21_097.5)) == "1:28:15"
    assert _hms(riegel_time(2400, 10_000, 42_195)) == "3:04:00"


def test_riegel_projects_columns_and_propagates_missing_efforts() -> None:
    projected = riegel_time(np.array([2400.0, np.nan]), np.array([10_000.0, np.nan]), 5_000.0)
    assert projected[0] == pytest.approx(riegel_time(2400.0, 10_000.0, 5_000.0), rel=1e-12)
    assert projected[0] == pytest.approx(1151.1169, abs=1e-3) and np.isnan(projected[1])
    with pytest.raises(ValueError, match="d1_m"):
        riegel_time(np.array([2400.0]), np.array([-1.0]), 5_000.0)


def test_projected_threshold_pace_is_the_riegel_60_minute_pace() -> None:
    pace = tl.projected_threshold_pace(10_000, 2400)
    distance_60 = 3600 / pace * 1000
    assert riegel_time(2400, 10_000, distance_60) == pytest.approx(3600.0, rel=1e-12)
    # hand: D60 = 10000 × 1.5^(1/1.06) = 10000 × e^(0.405465/1.06) = 14659.6 m → 245.57 s/km
    assert distance_60 == pytest.approx(10_000 * 1.5 ** (1 / 1.06), rel=1e-12)
    assert pace == pytest.approx(245.57, abs=0.01)
    # a 60-minute effort projects to its own pace
    assert tl.projected_threshold_pace(12_000, 3600) == pytest.approx(300.0)


def test_riegel_score_orders_efforts_for_every_distance() -> None:
    slow_10k = tl.riegel_score(2700, 10_000)
    fast_5k = tl.riegel_score(1151.1169, 5_000)  # same Riegel-equivalent as 10K in 40:00
    assert fast_5k == pytest.approx(tl.riegel_score(2400, 10_000), rel=1e-6)
    assert fast_5k < slow_10k


DAY_NS = 86_400 * 10**9


def test_threshold_pace_before_uses_only_earlier_efforts_in_the_lookback() -> None:
    effort_times = np.array([0, 10, 20, 30]) * DAY_NS
    paces = np.array([300.0, 280.0, np.nan, 250.0])
    queries = np.array([0, 1, 20, 30, 31, 101, 121]) * DAY_NS
    result = tl.threshold_pace_before(effort_times, paces, queries, lookback_days=90)
    # q=0: nothing strictly before; q=30: the day-30 effort is not before itself;
    # q=101: window [11, 101) holds only the day-30 effort; q=121: [31, 121) is empty.
    np.testing.assert_array_equal(result[:5], [np.nan, 300.0, 280.0, 280.0, 250.0])
    assert result[5] == 250.0
    assert np.isnan(result[6])


def test_threshold_pace_before_lookback_start_is_inclusive() -> None:
    result = tl.threshold_pace_before([0], [270.0], [90 * DAY_NS, 90 * DAY_NS + 1], lookback_days=90)
    assert result[0] == 270.0
    assert np.isnan(result[1])
