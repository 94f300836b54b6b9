"""Promotion on unseen races: the pure policy, and ``model/champion_decision`` on real Delta tables and a real
MLflow sqlite registry (versions logged and registered, aliases moved, tags and descriptions read back).

The inference log is built the way shadow scoring writes it: for each race, the champion's served row and the
challenger's shadow row for the same athlete and day (same features), with predictions that miss the race
by a controlled percentage, so that "better" and "worse" are known.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import CHAMPION_DECISION, INFERENCE_LOG, RACE_RESULTS
from athlete_platform.model import contract
from athlete_platform.model.promotion import (
    DEMOTE,
    KEEP,
    PROMOTE,
    Candidate,
    PromotionParams,
    decide,
    paired_errors,
    paired_test,
)
from athlete_platform.model.promotion_asset import champion_decision, with_decision
from athlete_platform.monitoring.realized_error import MAPE_ERROR_PCT
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf

CHAMPION_END, CHALLENGER_END = dt.date(2025, 1, 6), dt.date(2025, 3, 3)  # exclusive ends of their training data
FIRST_RACE = dt.date(2025, 3, 3)
SPECS = [
    AssetSpec(RACE_RESULTS, partitions_def=daily_partitions, metadata={"partition_expr": "race_date"}),
    AssetSpec(INFERENCE_LOG, partitions_def=daily_partitions, metadata={"partition_expr": "prediction_date"}),
]


class _Version:  # what mf.inference_log_rows needs of a registered version
    def __init__(self, version: str) -> None:
        self.version, self.run_id = version, f"run{version}"


def scenario(n_races: int, *, champion_error: float, challenger_error: float | None, first: dt.date = FIRST_RACE,
             champion: str = "1", challenger: str = "2", seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(races, inference log): one 10K race a day from ``first``, each predicted on race day by the champion
    (served) and the challenger (shadow) with absolute errors ~ |N(0, error)| of the official time."""
    rng = np.random.default_rng(seed)
    days = [first + dt.timedelta(days=i) for i in range(n_races)]
    athletes = [1 + i % 40 for i in range(n_races)]
    features = pd.concat([mf.rolling_rows([a], [d - dt.timedelta(days=1)], seed=seed + i)
                          for i, (a, d) in enumerate(zip(athletes, days))], ignore_index=True)
    official = features["best_effort_10k_s"].to_numpy() * np.exp(rng.normal(0, 0.01, n_races))
    races = pd.DataFrame({"race_date": days, "athlete_id": athletes, "activity_id": range(1000, 1000 + n_races),
                          "distance_bucket": "10k", "distance_m": 10_000.0, "official_time_s": official})
    parts = []
    for version, error, served in ((champion, champion_error, True), (challenger, challenger_error, False)):
        if error is None:
            continue
        rows = mf.inference_log_rows(features, _Version(version))
        miss = np.abs(rng.normal(0, error, n_races)) * rng.choice([-1, 1], n_races)
        for distance, metres in contract.DISTANCES_M.items():
            point, low, high = contract.prediction_columns(distance)
            rows[point] = official * (1 + miss) * (metres / 10_000) ** 1.06
            rows[low], rows[high] = rows[point] * 0.9, rows[point] * 1.1
        rows["served"], rows["model_role"] = served, "champion" if served else "challenger"
        rows["model_alias"] = rows["model_role"]
        parts.append(rows)
    return races, pd.concat(parts, ignore_index=True)


CHAMPION = Candidate("1", CHAMPION_END)
CHALLENGER = Candidate("2", CHALLENGER_END)


# -- the pure policy ----------------------------------------------------------------------------------


def test_only_races_neither_model_trained_on_are_paired():
    races, log = scenario(30, champion_error=0.05, challenger_error=0.02, first=CHALLENGER_END - dt.timedelta(days=10))
    pairs = paired_errors(races, log, CHAMPION, CHALLENGER, max_days_before_race=14)
    assert len(pairs) == 20  # the 10 races before the challenger's cut-off are its training races
    assert pd.to_datetime(pairs["race_date"]).dt.date.min() == CHALLENGER_END
    # The same race, the same inputs: both errors against one official time.
    assert np.allclose(pairs["abs_pct_error_champion"],
                       (pairs["predicted_s_champion"] - pairs["official_time_s"]).abs() / pairs["official_time_s"] * 100)


def test_paired_tests_are_one_sided():
    champion = np.array([5.0, 6.0, 4.0, 7.0, 5.5, 6.5, 4.5, 5.0, 6.0, 7.0, 5.0, 4.0])
    better, worse = champion - 2.0, champion + 2.0
    for test in ("wilcoxon", "sign"):
        assert paired_test(champion, better, test)["p_value"] < 0.01
        assert paired_test(champion, worse, test)["p_value"] > 0.99
    assert paired_test(champion, champion, "wilcoxon")["p_value"] == 1.0  # all ties: no evidence


@pytest.mark.parametrize("test", ["wilcoxon", "sign"])
def test_a_better_challenger_is_promoted_only_after_enough_unseen_races(test):
    params = PromotionParams(min_unseen_races=20, test=test)
    races, log = scenario(40, champion_error=0.06, challenger_error=0.015)
    early = races[races["race_date"] < FIRST_RACE + dt.timedelta(days=12)]
    assert decide(early, log, CHAMPION, CHALLENGER, params).action == KEEP  # 12 races: too few to judge
    decision = decide(races, log, CHAMPION, CHALLENGER, params)
    assert decision.action == PROMOTE, decision.reason
    assert decision.numbers["paired_unseen_races"] == 40
    assert decision.numbers["p_value"] < params.alpha
    assert decision.numbers["challenger_mape_pct"] < decision.numbers["champion_mape_pct"]


def test_a_worse_or_equal_challenger_is_never_promoted():
    params = PromotionParams(min_unseen_races=20)
    for seed in range(5):
        races, log = scenario(120, champion_error=0.02, challenger_error=0.05, seed=seed)
        assert decide(races, log, CHAMPION, CHALLENGER, params).action == KEEP
    races, log = scenario(120, champion_error=0.03, challenger_error=0.03, seed=7)  # same errors, other draws
    decision = decide(races, log, CHAMPION, CHALLENGER, params)
    assert decision.action == KEEP and "not significantly better" in decision.reason


def test_a_champion_over_the_error_threshold_is_demoted_to_the_better_formula():
    params = PromotionParams(min_unseen_races=20)
    races, log = scenario(30, champion_error=0.25, challenger_error=None)  # no challenger scored
    decision = decide(races, log, CHAMPION, None, params)
    assert decision.action == DEMOTE, decision.reason
    assert decision.numbers["champion_unseen_mape_pct"] > MAPE_ERROR_PCT
    assert decision.numbers["baseline_method"] in ("riegel", "vdot")
    assert decision.numbers["baseline_mape_pct"] < decision.numbers["champion_unseen_mape_pct"]
    few = races.head(10)
    assert decide(few, log, CHAMPION, None, params).action == KEEP  # not judged on 10 races
    formula = Candidate("1", CHAMPION_END, is_baseline=True)
    assert decide(races, log, formula, None, params).action == KEEP  # nothing below a formula


def test_a_kept_champion_says_how_it_did_on_unseen_races_or_that_there_are_none_yet():
    races, log = scenario(12, champion_error=0.02, challenger_error=None)
    judged = decide(races, log, CHAMPION, None, PromotionParams(min_unseen_races=20))
    assert judged.action == KEEP
    assert judged.reason.endswith(f"its realized MAPE {judged.numbers['champion_unseen_mape_pct']:.2f} % on 12 unseen races")
    none_yet = decide(races.head(0), log, CHAMPION, None, PromotionParams(min_unseen_races=20))
    assert none_yet.action == KEEP and none_yet.numbers["champion_unseen_races"] == 0
    assert none_yet.reason.endswith("no race after its training window yet") and "nan" not in none_yet.reason


def test_a_new_decision_replaces_the_last_one_and_keeps_the_rest_of_the_description():
    first = with_decision("Gradient boosting trained on 290 races.", "2025-04-01 (champion): keep. too few races")
    second = with_decision(first, "2025-04-02 (champion): promote. better")
    assert second.startswith("Gradient boosting trained on 290 races.")
    assert "too few races" not in second and second.endswith("promote. better")
    assert with_decision(None, "x") == with_decision("", "x")


# -- the asset: real Delta tables, real MLflow registry -------------------------------------------------


@pytest.fixture()
def registry(tmp_path):
    resource = mf.mlflow_resource(tmp_path)
    v1 = mf.register_version(resource, data_window_end=CHAMPION_END, aliases=(contract.CHAMPION_ALIAS,), seed=1)
    v2 = mf.register_version(resource, data_window_end=CHALLENGER_END, aliases=(contract.CHALLENGER_ALIAS,), seed=2)
    return resource, str(v1.version), str(v2.version)


def run_decision(root, resource, day: dt.date):
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()), "mlflow": resource,
                 "pyspark_step_launcher": ResourceDefinition.none_resource()}
    result = materialize([*SPECS, champion_decision], partition_key=day.isoformat(), resources=resources,
                         selection=[CHAMPION_DECISION])
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == CHAMPION_DECISION]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def write_tables(root, races, log):
    mf.write_table(root, RACE_RESULTS.path, races, mode="overwrite")
    mf.write_table(root, INFERENCE_LOG.path, log, mode="overwrite")


def aliases(resource) -> dict[str, str]:
    return {alias: str(v) for alias, v in resource.client().get_registered_model(mf.MODEL_NAME).aliases.items()}


def test_asset_promotes_a_better_challenger_after_enough_unseen_races_and_records_why(tmp_path, registry):
    resource, v1, v2 = registry
    root = tmp_path / "delta"
    races, log = scenario(40, champion_error=0.06, challenger_error=0.015)
    log["model_version"] = np.where(log["served"], v1, v2)
    write_tables(root, races, log)
    resource.client().update_model_version(mf.MODEL_NAME, v1, description="Trained on the races before 2025-01-06.")

    early = run_decision(root, resource, FIRST_RACE + dt.timedelta(days=9))  # 10 races so far
    assert early["action"] == KEEP and "< 20 needed" in early["reason"]
    assert aliases(resource)[contract.CHAMPION_ALIAS] == v1

    metadata = run_decision(root, resource, FIRST_RACE + dt.timedelta(days=39))
    assert metadata["action"] == PROMOTE, metadata["reason"]
    assert (metadata["champion_before"], metadata["champion_after"]) == (v1, v2)
    assert metadata["paired_unseen_races"] == 40 and metadata["p_value"] < 0.05
    assert aliases(resource)[contract.CHAMPION_ALIAS] == v2
    client = resource.client()
    for version in (v1, v2):  # the decision is on both versions, tags and description
        model_version = client.get_model_version(mf.MODEL_NAME, version)
        assert model_version.tags["champion_decision"] == PROMOTE
        assert model_version.tags["champion_decision_reason"] == metadata["reason"]
        assert '"paired_unseen_races": 40' in model_version.tags["champion_decision_numbers"]
        assert metadata["reason"] in model_version.description and "< 20 needed" not in model_version.description
    assert client.get_model_version(mf.MODEL_NAME, v1).description.startswith("Trained on the races before 2025-01-06.")
    table = DeltaTable(str(root.joinpath(*CHAMPION_DECISION.path))).to_pandas()
    assert list(table["action"].sort_values()) == [KEEP, PROMOTE]


def test_asset_never_promotes_a_worse_challenger(tmp_path, registry):
    resource, v1, v2 = registry
    root = tmp_path / "delta"
    races, log = scenario(80, champion_error=0.02, challenger_error=0.06)
    log["model_version"] = np.where(log["served"], v1, v2)
    write_tables(root, races, log)
    metadata = run_decision(root, resource, FIRST_RACE + dt.timedelta(days=79))
    assert metadata["action"] == KEEP and metadata["paired_unseen_races"] == 80
    assert aliases(resource) == {contract.CHAMPION_ALIAS: v1, contract.CHALLENGER_ALIAS: v2}


def test_asset_demotes_a_champion_over_the_error_threshold_to_a_registered_formula(tmp_path, registry):
    import mlflow

    resource, v1, v2 = registry
    root = tmp_path / "delta"
    races, log = scenario(30, champion_error=0.25, challenger_error=0.25)  # the challenger is no better
    log["model_version"] = np.where(log["served"], v1, v2)
    write_tables(root, races, log)
    day = FIRST_RACE + dt.timedelta(days=29)
    metadata = run_decision(root, resource, day)
    assert metadata["action"] == DEMOTE, metadata["reason"]
    new = metadata["champion_after"]
    assert new not in (v1, v2) and aliases(resource)[contract.CHAMPION_ALIAS] == new
    client = resource.client()
    formula = client.get_model_version(mf.MODEL_NAME, new)
    assert formula.tags["model_kind"] == "baseline"
    assert formula.tags["data_window_end"] == (day + dt.timedelta(days=1)).isoformat()  # it saw these races
    assert client.get_model_version(mf.MODEL_NAME, v1).tags["champion_decision"] == DEMOTE
    # The new champion serves through the contract: the formula on the same feature rows, with intervals.
    resource.configure_process()
    model = mlflow.pyfunc.load_model(f"models:/{mf.MODEL_NAME}@{contract.CHAMPION_ALIAS}")
    served = log[log["served"]].reset_index(drop=True)
    predicted = model.predict(contract.model_input(served))
    assert (predicted["lo80_10k_s"] < predicted["pred_10k_s"]).all() and (predicted["pred_10k_s"] < predicted["hi80_10k_s"]).all()
    mape = float((predicted["pred_10k_s"] - races["official_time_s"]).abs().div(races["official_time_s"]).mean() * 100)
    assert mape < MAPE_ERROR_PCT
    # The next day nothing is unseen by the new champion yet: it is kept, not demoted again.
    again = run_decision(root, resource, day + dt.timedelta(days=1))
    assert again["action"] == KEEP and aliases(resource)[contract.CHAMPION_ALIAS] == new
