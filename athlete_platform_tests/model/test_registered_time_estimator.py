"""``model/registered_time_estimator`` on the weekly runs of ``weekly_training.py``: the first version becomes
champion, later ones the challenger (promotion is model/champion_decision's), and a model that failed a gate is
logged but never registered."""

import pytest

from athlete_platform.model import contract
from athlete_platform_tests.model.weekly_training import W2, trained_run_id
from athlete_platform_tests.support.runs import check_results


def registered_row(result) -> dict:
    events = result.asset_materializations_for_node("model__registered_time_estimator")
    assert len(events) == 1
    return {key: value.value for key, value in events[0].metadata.items()}


def test_first_model_becomes_challenger_and_champion(trained_weeks):
    result = trained_weeks["results"]["A"]
    assert result.success
    row = registered_row(result)
    assert (row["version"], row["promoted"], row["aliases"]) == ("1", True, "challenger,champion")
    assert row["reason"].startswith("no champion yet")


def test_registration_sets_the_challenger_and_never_promotes(trained_weeks):
    result = trained_weeks["results"]["B"]
    assert result.success
    checks = check_results(result)
    assert checks["mae_10k_gate"].passed and checks["beats_riegel"].passed and checks["no_future_features"].passed
    row = registered_row(result)
    assert (row["version"], row["promoted"], row["aliases"]) == ("2", False, "challenger")
    assert "model/champion_decision" in row["reason"]
    client, name = trained_weeks["client"], trained_weeks["mlflow"].model_name
    # The training cut-off travels with the version: promotion reads it to know which races it never saw.
    assert client.get_model_version(name, "2").tags["data_window_end"] == W2
    assert row["data_window_end"] == W2


def test_a_new_challenger_replaces_the_old_one_and_the_champion_stays(trained_weeks):
    result = trained_weeks["results"]["C"]
    assert result.success
    row = registered_row(result)
    assert (row["version"], row["promoted"], row["aliases"]) == ("3", False, "challenger")
    assert row["reason"].startswith("@challenger beside champion v1")
    client, name = trained_weeks["client"], trained_weeks["mlflow"].model_name
    assert str(client.get_model_version_by_alias(name, contract.CHAMPION_ALIAS).version) == "1"
    assert str(client.get_model_version_by_alias(name, contract.CHALLENGER_ALIAS).version) == "3"


@pytest.mark.parametrize("run, failing", [("D", {"mae_10k_gate", "beats_riegel"}), ("E", {"mae_10k_gate"})])
def test_bad_model_is_blocked_and_never_registered(trained_weeks, run, failing):
    result = trained_weeks["results"][run]
    assert not result.success
    checks = check_results(result)
    assert {name for name in ("mae_10k_gate", "beats_riegel") if not checks[name].passed} == failing
    assert result.asset_materializations_for_node("model__registered_time_estimator") == []
    client, name = trained_weeks["client"], trained_weeks["mlflow"].model_name
    versions = client.search_model_versions(f"name='{name}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]  # nothing after the good runs
    assert trained_run_id(result) not in {v.run_id for v in versions}
    assert str(client.get_model_version_by_alias(name, contract.CHALLENGER_ALIAS).version) == "3"
    assert str(client.get_model_version_by_alias(name, contract.CHAMPION_ALIAS).version) == "1"
    # logged (for diagnosis) with its gate results, just not registered
    run_tags = client.get_run(trained_run_id(result)).data.tags
    assert run_tags["gate_mae_10k_passed"] == "False"

