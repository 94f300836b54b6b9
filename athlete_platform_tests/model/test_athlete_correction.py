"""The per-athlete correction, the population prior and the classical fallback of the race-time estimator."""

import numpy as np
import pandas as pd
import pytest

from athlete_platform.model import contract
from athlete_platform.model.athlete_correction import (
    PRIOR_COLUMN,
    AthleteCorrections,
    athlete_group,
    estimate_prior_races,
)
from athlete_platform.model.estimator import EstimatorParams, fit_time_model, own_distance_prediction
from athlete_platform.model.evaluation import MIN_GAP_DAYS
from athlete_platform.model.population_prior import simulated_prior_rows
from athlete_platform.model.training import DEFAULT_BASELINE_LOG_HALFWIDTH, train_time_estimator
from athlete_platform.model.walk_forward import walk_forward, walk_forward_metrics

FAST = {"max_iter": 60}  # small models: these tests are about the correction, not the boosting


def history(athlete: int, days: list[str], residuals: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"athlete_id": athlete, "race_date": pd.to_datetime(days), "log_residual": residuals})


def test_correction_uses_only_races_up_to_the_as_of_date_and_shrinks_toward_zero():
    corrections = AthleteCorrections(history(7, ["2024-01-10", "2024-02-10", "2024-03-10"], [0.1, 0.1, 0.1]),
                                     prior_races=2.0, halflife_days=None)
    as_of = ["2024-01-09", "2024-01-10", "2024-02-15", "2024-12-31"]
    correction, scale, counts = corrections.for_rows([7, 7, 7, 7], as_of)
    assert counts.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(correction, [0.0, 0.1 / 3, 0.2 / 4, 0.3 / 5])  # Σr / (n + k)
    assert scale[0] == 1.0  # no race yet: the population's width
    unknown, unknown_scale, unknown_counts = corrections.for_rows([8], ["2024-12-31"])
    assert unknown.tolist() == [0.0] and unknown_scale.tolist() == [1.0] and unknown_counts.tolist() == [0]


def test_older_races_count_less_with_a_half_life():
    frame = history(1, ["2023-01-01", "2024-01-01"], [0.2, -0.2])
    flat = AthleteCorrections(frame, prior_races=0.0, halflife_days=None).for_rows([1], ["2024-01-01"])[0][0]
    decayed = AthleteCorrections(frame, prior_races=0.0, halflife_days=365.0).for_rows([1], ["2024-01-01"])[0][0]
    assert flat == pytest.approx(0.0)
    # weights 0.5 (a year old) and 1: (0.5·0.2 − 0.2) / 1.5
    assert decayed == pytest.approx((0.5 * 0.2 - 0.2) / 1.5, rel=1e-3)


def test_a_runner_who_scatters_more_gets_wider_intervals():
    frame = pd.concat([history(1, ["2024-01-01", "2024-02-01"], [0.01, -0.01]),
                       history(2, ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"], [0.2, -0.2, 0.2, -0.2])])
    _, scale, _ = AthleteCorrections(frame, prior_races=1.0).for_rows([1, 2], ["2024-12-31", "2024-12-31"])
    assert scale[1] > 1.0 > scale[0]


def test_every_row_gets_its_own_athletes_races_up_to_its_day():
    """Athletes' histories interleaved and unsorted, queries in any order: each row's correction, scale and race
    count are the formula over its own athlete's races on or before its day (NaT or before the first race: none;
    no date: all, weighted as of the last race)."""
    rng = np.random.default_rng(11)
    def races(n):
        return list(pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.choice(400, n, replace=False)), "D"))

    frame = pd.concat([history(a, races(n), rng.normal(0.0, 0.05, n).tolist()) for a, n in ((907, 6), (3, 1), (10**9, 9))])
    frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    halflife, k, k_scale = 90.0, 2.0, 1.0
    corrections = AthleteCorrections(frame, prior_races=k, halflife_days=halflife, interval_prior_races=k_scale)
    ids = [10**9, 3, 907, 5, 907, 3, 10**9, 907]
    days = pd.to_datetime(["2024-06-01", "2023-12-31", "2025-03-01", "2024-06-01", None, "2024-12-31", "2024-01-01",
                           "2024-03-15"])
    correction, scale, counts = corrections.for_rows(ids, days)
    population = float(np.mean(frame["log_residual"] ** 2))

    def expected(athlete, day):
        own = frame[frame["athlete_id"] == athlete]
        if pd.isna(day) or own.empty:
            return 0.0, 1.0, 0
        own = own[own["race_date"] <= day]
        if own.empty:
            return 0.0, 1.0, 0
        w = np.exp(-np.log(2.0) / halflife * (day - own["race_date"]).dt.days.to_numpy())
        r = own["log_residual"].to_numpy()
        return ((w * r).sum() / (w.sum() + k),
                np.sqrt(((w * r**2).sum() + k_scale * population) / (w.sum() + k_scale) / population), len(own))

    for i, (athlete, day) in enumerate(zip(ids, days)):
        want = expected(athlete, day)
        assert (correction[i], scale[i], counts[i]) == pytest.approx(want, rel=1e-12, abs=1e-15), (athlete, day)
    totals = frame["athlete_id"].value_counts()
    partial = [0 < c < totals[a] for a, c in zip(ids, counts) if a in totals]
    assert any(partial) and 0 in counts.tolist()  # the queries reach into a history, not only past or before it
    every, _, all_counts = corrections.for_rows([907, 3, 10**9, 5])
    last_days = frame.groupby("athlete_id")["race_date"].max()
    assert all_counts.tolist() == [6, 1, 9, 0]
    assert every.tolist() == pytest.approx([expected(a, last_days[a])[0] for a in (907, 3, 10**9)] + [0.0], rel=1e-12)
    assert corrections.athletes() == {907, 3, 10**9}


def test_shrinkage_estimate_follows_the_between_athlete_variance():
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=10, freq="14D")
    def population(spread):
        return pd.concat([history(a, list(days), rng.normal(rng.normal(0, spread), 0.03, 10).tolist()) for a in range(40)])
    assert estimate_prior_races(population(0.0), 50.0) > estimate_prior_races(population(0.05), 50.0)
    assert estimate_prior_races(population(0.05), 50.0) < 3.0  # real athlete offsets: trust a few races


def test_athlete_groups_are_stable_and_spread():
    ids = np.arange(1, 2001)
    groups = athlete_group(ids, 5)
    assert set(groups.tolist()) == set(range(5)) and np.bincount(groups).min() > 300
    np.testing.assert_array_equal(groups, athlete_group(ids, 5))


@pytest.fixture(scope="module")
def prior():
    return simulated_prior_rows(12)


def runner_rows(prior: pd.DataFrame, slower: float) -> pd.DataFrame:
    """A prior athlete's races re-labelled as a new runner who races ``slower`` × what the features suggest."""
    athlete = prior["athlete_id"].value_counts().index[0]
    rows = prior[prior["athlete_id"] == athlete].copy()
    rows["athlete_id"], rows["official_time_s"] = 123, rows["official_time_s"] * slower
    return rows.drop(columns=[PRIOR_COLUMN]).reset_index(drop=True), athlete


def test_a_systematically_slower_runner_is_corrected_from_their_own_earlier_races_only(prior):
    rows, source = runner_rows(prior, 1.08)
    population = prior[prior["athlete_id"] != source]
    params = EstimatorParams(**FAST)  # k: the default, there is one real athlete to estimate it from
    model = fit_time_model(pd.concat([population, rows], ignore_index=True), params)
    assert model.corrections.prior_races == params.default_athlete_prior_races
    correction, _, counts = model.athlete_correction(rows.tail(1))
    assert counts[0] == len(rows) - 1 and 0.04 < correction[0] < np.log(1.08) + 0.02  # the offset, shrunk
    others, _, _ = model.athlete_correction(population.head(200))
    assert np.abs(others).mean() < 0.02  # the simulated athletes have no offset to speak of

    widths = {d: 0.05 for d in contract.DISTANCES_M}
    predictions = walk_forward(rows, population, params, widths)
    assert predictions["earlier_races"].is_monotonic_increasing and predictions["earlier_races"].iloc[0] == 0
    later = predictions.iloc[len(rows) // 2:]  # once the runner has raced a while
    bias = float(np.log(later["official_time_s"] / later["model_s"]).mean())
    assert abs(bias) < 0.03  # of an 8 % (0.077) offset
    table = walk_forward_metrics(predictions).set_index(["method", "distance"])
    assert table.loc[("model", "all"), "mae_s"] < table.loc[("riegel", "all"), "mae_s"]
    assert 0.0 <= table.loc[("model", "all"), "coverage80"] <= 1.0


def test_without_cross_fitted_residuals_the_served_model_is_the_uncorrected_one(prior):
    """One runner's races: no athlete group leaves enough races to fit a held-out model, so there are no
    residuals and no corrections, and the population model served is the one fitted on the raw targets."""
    rows, _ = runner_rows(prior, 1.05)
    model = fit_time_model(rows, EstimatorParams(**FAST))
    plain = fit_time_model(rows, EstimatorParams(**FAST, athlete_correction=False))
    assert model.corrections is None and set(model.regressors) == {"pooled"}
    features = contract.model_input(rows)
    pd.testing.assert_frame_equal(model.predict(features), plain.predict(features), check_exact=True)


def test_a_prediction_never_sees_the_race_it_predicts(prior):
    rows, source = runner_rows(prior, 1.0)
    population = prior[prior["athlete_id"] != source]
    model = fit_time_model(pd.concat([population, rows], ignore_index=True), EstimatorParams(**FAST), {d: 0.05 for d in contract.DISTANCES_M})
    race = rows.iloc[[5]]
    _, _, counts = model.athlete_correction(race)
    before = (pd.to_datetime(rows["race_date"]) <= pd.to_datetime(race["as_of_date"].iloc[0])).sum()
    assert counts[0] == before == 5  # the five earlier races, not the race itself (as_of_date < race_date)


def test_too_few_races_serve_the_better_formula_with_intervals(prior):
    rows, _ = runner_rows(prior, 1.0)
    few = rows.head(6)
    outcome = train_time_estimator(few, EstimatorParams(**FAST), n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100)
    assert outcome.not_enough_races and "training races" in outcome.not_enough_races
    model = outcome.model
    assert model.params.model_kind == "baseline" and model.params.offset in ("riegel", "vdot")
    assert set(model.halfwidths.values()) == {DEFAULT_BASELINE_LOG_HALFWIDTH}  # too few races to calibrate
    pred, lo, hi = own_distance_prediction(model.predict(contract.model_input(few)), few["distance_bucket"])
    expected = outcome.cv.oof["model_s"].to_numpy()
    np.testing.assert_allclose(pred, expected, rtol=1e-9)
    assert (lo < pred).all() and (pred < hi).all()
    nothing = train_time_estimator(few.head(0), EstimatorParams(**FAST), n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100)
    assert nothing.not_enough_races and nothing.model.params.model_kind == "baseline"
    assert np.isfinite(nothing.model.predict(contract.model_input(few)).to_numpy()).all()


def test_with_the_prior_a_runner_with_a_few_dozen_races_gets_a_learned_model(prior):
    rows, source = runner_rows(prior, 1.0)
    population = prior[prior["athlete_id"] != source]
    outcome = train_time_estimator(rows, EstimatorParams(**FAST), n_folds=3, gap_days=MIN_GAP_DAYS, min_train_races=100,
                                   prior=population)
    assert outcome.not_enough_races is None and outcome.model.params.model_kind == "gbm_pooled"
    assert set(outcome.cv.oof["athlete_id"]) == {123}  # evaluated on the runner's races only
    assert outcome.model.corrections is not None and 123 in outcome.model.corrections.athletes()


def test_gates_judge_the_evidence_there_is(prior):
    """No 10K in the test folds: the 10K gate says so instead of failing on NaN; a served baseline is not
    judged against itself; a learned model is judged against Riegel on the distances present."""
    from athlete_platform.model.assets import _gates

    rows, source = runner_rows(prior, 1.0)
    population = prior[prior["athlete_id"] != source]
    no_10k = rows[rows["distance_bucket"] != "10k"]
    learned = train_time_estimator(no_10k, EstimatorParams(**FAST), n_folds=3, gap_days=MIN_GAP_DAYS, min_train_races=100,
                                   prior=population)
    gate_10k, gate_riegel, notes = _gates(learned, 180.0)
    assert gate_10k and notes["mae_10k_gate"] == "not judged: no 10K race in the test folds"
    model_all, riegel_all = learned.cv.metric("model", "all"), learned.cv.metric("riegel", "all")
    assert gate_riegel == (model_all <= riegel_all) and "Riegel" in notes["beats_riegel"]
    baseline = train_time_estimator(no_10k.head(5), EstimatorParams(**FAST), n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=100)
    gate_10k, gate_riegel, notes = _gates(baseline, 180.0)
    assert gate_10k and gate_riegel and notes["beats_riegel"].startswith("not judged: not enough races")


def _cv_with(mae: dict[tuple[str, str], float]):
    from athlete_platform.model.estimator import FittedTimeModel
    from athlete_platform.model.training import CrossValidation, TrainingOutcome

    metrics = pd.DataFrame([{"method": m, "distance": d, "n": 6, "mae_s": v, "rmse_s": v, "mape_pct": 1.0}
                            for (m, d), v in mae.items()])
    cv = CrossValidation(folds=[], oof=pd.DataFrame(), metrics=metrics, latest_fold_metrics=metrics,
                         coverage=pd.DataFrame(columns=["distance", "coverage", "n"]), halfwidths={})
    model = FittedTimeModel(params=EstimatorParams(), fallback_time_s={})
    return TrainingOutcome(model=model, cv=cv)


@pytest.mark.parametrize(
    ("model_10k", "riegel_10k", "passed"),
    [(150.0, 200.0, True),   # under the threshold
     (320.6, 320.3, True),   # the formula misses by 320 s itself: a tie with it passes
     (360.0, 320.3, False),  # worse than the formula by more than the tie band
     (200.0, 170.0, False)],  # the threshold is reachable on these races (the formula reaches it)
)
def test_the_10k_gate_judges_unreachable_10ks_against_the_formula(model_10k, riegel_10k, passed):
    from athlete_platform.model.assets import _gates

    outcome = _cv_with({("model", "10k"): model_10k, ("riegel", "10k"): riegel_10k, ("vdot", "10k"): riegel_10k + 5,
                        ("model", "all"): 100.0, ("riegel", "all"): 120.0, ("vdot", "all"): 125.0})
    gate_10k, gate_riegel, notes = _gates(outcome, 180.0)
    assert gate_10k is passed and gate_riegel
    assert f"{model_10k:.1f}" in notes["mae_10k_gate"]
    if model_10k >= 180.0:  # a gate tightened by run config is absolute
        assert not _gates(outcome, 120.0)[0]


def test_races_after_the_training_data_move_the_correction_without_a_refit(prior):
    rows, source = runner_rows(prior, 1.08)
    population = prior[prior["athlete_id"] != source]
    model = fit_time_model(pd.concat([population, rows.head(10)], ignore_index=True), EstimatorParams(**FAST))
    later = rows.iloc[10:20]
    updated = model.with_later_races(later)
    query = rows.iloc[[25]]
    before_counts = model.athlete_correction(query)[2][0]
    correction, _, counts = updated.athlete_correction(query)
    assert before_counts == 10 and counts[0] == 20
    assert correction[0] > model.athlete_correction(query)[0][0]  # ten more slow races: a larger offset
    assert updated.regressors is model.regressors  # the population model is not refitted
    assert model.athlete_correction(query)[2][0] == 10  # the original is unchanged
