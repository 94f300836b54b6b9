"""athlete_predictions + inference_log on real Delta tables and a real MLflow sqlite registry (no Spark)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetSpec, DagsterInstance, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import DAILY_FEATURES, INFERENCE_LOG, PREDICTIONS, ROLLING_FEATURES
from athlete_platform.inference import lineage
from athlete_platform.inference.assets import (
    athlete_predictions,
    evaluate_inference_checks,
    served_rows,
)
from athlete_platform.model import contract
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.support.runs import check_results

FIRST_FEATURE_DAY, LAST_FEATURE_DAY = dt.date(2025, 3, 1), dt.date(2025, 3, 14)
D1, D2 = dt.date(2025, 3, 10), dt.date(2025, 3, 11)
ACTIVE = [1, 2, 3]
LAPSED = 4  # last activity 2025-01-05: more than 42 days before every prediction date
LATE_STARTER = 5  # first rolling row on D1: no features as of D1−1

ROLLING_SPEC = AssetSpec(ROLLING_FEATURES, partitions_def=daily_partitions, metadata={"partition_expr": "as_of_date"})
DAILY_SPEC = AssetSpec(DAILY_FEATURES, partitions_def=daily_partitions, metadata={"partition_expr": "date"})


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """v1 champion (data before 03-06), v2 challenger (data before 03-11), v3 broken (no data end, alias 'broken')."""
    path = tmp_path_factory.mktemp("mlflow")
    resource = mf.mlflow_resource(path)
    v1 = mf.register_version(resource, data_window_end=dt.date(2025, 3, 6), aliases=(contract.CHAMPION_ALIAS,), seed=1)
    v2 = mf.register_version(resource, data_window_end=dt.date(2025, 3, 11), aliases=(contract.CHALLENGER_ALIAS,), seed=2)
    v3 = mf.register_version(resource, data_window_end=None, aliases=("broken",), broken=True, seed=3)
    # The platform's own estimator class (model/pyfunc.py), to prove the contract end to end; no data end.
    mf.register_version(resource, data_window_end=None, aliases=("platform",), python_model=mf.platform_time_model())
    return resource, v1, v2, v3


@pytest.fixture()
def delta_root(tmp_path):
    root = tmp_path / "delta"
    days = mf.days_between(FIRST_FEATURE_DAY, LAST_FEATURE_DAY)
    rolling = pd.concat([
        mf.rolling_rows([*ACTIVE, LAPSED], days, seed=11),
        mf.rolling_rows([LATE_STARTER], [d for d in days if d >= D1], seed=12),
    ])
    mf.write_table(root, ROLLING_FEATURES.path, rolling)
    activity = {
        1: [dt.date(2025, 2, 1), dt.date(2025, 3, 8)],
        2: [dt.date(2025, 1, 28)],  # 41 days before D1−1 = 03-09 → active on D1 (window D−42..D−1), lapsed on D2+1
        3: [dt.date(2025, 3, 9), dt.date(2025, 3, 10)],
        LAPSED: [dt.date(2025, 1, 5)],
        LATE_STARTER: [dt.date(2025, 3, 10)],
    }
    mf.write_table(root, DAILY_FEATURES.path, mf.daily_rows(activity))
    return root


def resources(delta_root, registry):
    return {"io_manager": DeltaTableIOManager(root_uri=str(delta_root), spark=SparkResource()), "mlflow": registry[0],
            "pyspark_step_launcher": ResourceDefinition.none_resource()}


def run(delta_root, registry, first, last=None, *, instance=None, raise_on_error=True, **config):
    assets = [ROLLING_SPEC, DAILY_SPEC, athlete_predictions]
    run_config = {"ops": {"athlete_predictions": {"config": config}}} if config else None
    if last is None:
        return materialize(assets, partition_key=first.isoformat(), resources=resources(delta_root, registry),
                           run_config=run_config, instance=instance, raise_on_error=raise_on_error)
    tags = {"dagster/asset_partition_range_start": first.isoformat(), "dagster/asset_partition_range_end": last.isoformat()}
    return materialize(assets, tags=tags, resources=resources(delta_root, registry), run_config=run_config,
                       instance=instance, raise_on_error=raise_on_error)


def table(root, key) -> pd.DataFrame:
    frame = DeltaTable(str(root.joinpath(*key.path))).to_pandas()
    return frame.sort_values(["prediction_date", "athlete_id"]).reset_index(drop=True)


def test_daily_runs_keep_history_and_rerun_replaces_only_that_day(delta_root, registry):
    _, v1, v2, _ = registry
    run(delta_root, registry, D1)
    run(delta_root, registry, D2)
    predictions = table(delta_root, PREDICTIONS)
    assert sorted(predictions["prediction_date"].unique()) == [D1, D2]
    day2_before = predictions[predictions["prediction_date"] == D2].reset_index(drop=True)

    run(delta_root, registry, D1, model_alias=contract.CHALLENGER_ALIAS)  # re-run D1 with another version
    after = table(delta_root, PREDICTIONS)
    assert set(after.loc[after["prediction_date"] == D1, "model_version"]) == {str(v2.version)}
    pd.testing.assert_frame_equal(after[after["prediction_date"] == D2].reset_index(drop=True), day2_before)
    assert set(day2_before["model_version"]) == {str(v1.version)}
    log = table(delta_root, INFERENCE_LOG)
    assert len(served_rows(log)) == len(after)
    # D1 is now served by the challenger itself (no shadow); D2 by the champion with the challenger beside it.
    assert set(log.loc[log["prediction_date"] == D1, "model_role"]) == {contract.CHALLENGER_ALIAS}
    assert log.loc[log["prediction_date"] == D1, "served"].all()
    assert len(log[log["prediction_date"] == D2]) == 2 * len(day2_before)


def test_only_athletes_active_as_of_the_day_with_features_of_the_day_before(delta_root, registry):
    run(delta_root, registry, D1)
    predictions = table(delta_root, PREDICTIONS)
    assert sorted(predictions["athlete_id"]) == ACTIVE  # not the lapsed athlete, not the one without D−1 features
    assert (predictions["feature_as_of_date"] == D1 - dt.timedelta(days=1)).all()
    run(delta_root, registry, D2 + dt.timedelta(days=1))  # 03-12: athlete 2's only activity is now 43 days back
    day3 = table(delta_root, PREDICTIONS)
    assert 2 not in set(day3.loc[day3["prediction_date"] == D2 + dt.timedelta(days=1), "athlete_id"])


def test_inference_log_holds_the_exact_features_predictions_and_run(delta_root, registry):
    resource, v1, _, _ = registry
    result = run(delta_root, registry, D1)
    log = served_rows(table(delta_root, INFERENCE_LOG)).reset_index(drop=True)
    predictions = table(delta_root, PREDICTIONS)
    keys = ["athlete_id", "prediction_date"]
    pd.testing.assert_frame_equal(log[predictions.columns], predictions)
    assert (log["dagster_run_id"] == result.run_id).all()

    rolling = DeltaTable(str(delta_root.joinpath(*ROLLING_FEATURES.path))).to_pandas()
    fed = rolling[rolling["as_of_date"] == D1 - dt.timedelta(days=1)].sort_values("athlete_id")
    fed = fed[fed["athlete_id"].isin(ACTIVE)].reset_index(drop=True)
    pd.testing.assert_frame_equal(log[list(contract.FEATURE_COLUMNS)], contract.feature_matrix(fed))

    model = lineage.load_pyfunc(lineage.resolve_alias(resource.client(), mf.MODEL_NAME, contract.CHAMPION_ALIAS))
    expected = model.predict(contract.model_input(fed))
    pd.testing.assert_frame_equal(log[list(contract.PREDICTION_COLUMNS)], expected[list(contract.PREDICTION_COLUMNS)])
    assert log[keys].equals(predictions[keys])
    checks = check_results(result)
    assert all(checks[name].passed for name in checks), {n: c.passed for n, c in checks.items()}


def test_lineage_names_the_registered_version(delta_root, registry):
    _, v1, _, _ = registry
    result = run(delta_root, registry, D1)
    predictions = table(delta_root, PREDICTIONS)
    assert set(predictions["model_name"]) == {mf.MODEL_NAME}
    assert set(predictions["model_version"]) == {str(v1.version)}
    assert set(predictions["model_alias"]) == {contract.CHAMPION_ALIAS}
    assert set(predictions["mlflow_run_id"]) == {v1.run_id}
    metadata = mf.materialization_metadata(result, PREDICTIONS)
    assert metadata["model_uri"].value == f"models:/{mf.MODEL_NAME}/{v1.version}"
    assert metadata["training_data_end_exclusive"].value == "2025-03-06"


def test_challenger_scores_in_the_shadow_of_the_champion_on_the_same_rows(delta_root, registry):
    resource, v1, v2, _ = registry
    result = run(delta_root, registry, D1, D2)
    log, predictions = table(delta_root, INFERENCE_LOG), table(delta_root, PREDICTIONS)
    keys = ["athlete_id", "prediction_date"]
    champion, shadow = log[log["served"]], log[~log["served"]]
    # Gold predictions stay the champion's; the log holds one champion and one challenger row per key.
    assert set(predictions["model_version"]) == {str(v1.version)}
    assert (set(champion["model_version"]), set(champion["model_role"])) == ({str(v1.version)}, {contract.CHAMPION_ALIAS})
    assert (set(shadow["model_version"]), set(shadow["model_role"])) == ({str(v2.version)}, {contract.CHALLENGER_ALIAS})
    assert set(shadow["mlflow_run_id"]) == {v2.run_id} and set(shadow["model_uri"]) == {f"models:/{mf.MODEL_NAME}/{v2.version}"}
    assert len(log) == len(predictions) + len(shadow) and len(shadow) == len(predictions)
    pair = champion.merge(shadow, on=keys, suffixes=("_champion", "_challenger"))
    assert len(pair) == len(predictions)
    for column in ("feature_as_of_date", *contract.FEATURE_COLUMNS):  # the very same inputs
        pd.testing.assert_series_equal(pair[f"{column}_champion"], pair[f"{column}_challenger"], check_names=False)
    # The shadow rows are the challenger's own predictions of those inputs, not a copy of the champion's.
    challenger = lineage.load_pyfunc(lineage.resolve_alias(resource.client(), mf.MODEL_NAME, contract.CHALLENGER_ALIAS))
    shadow = shadow.sort_values(keys).reset_index(drop=True)
    expected = challenger.predict(contract.model_input(shadow))
    pd.testing.assert_frame_equal(shadow[list(contract.PREDICTION_COLUMNS)], expected[list(contract.PREDICTION_COLUMNS)])
    assert not np.allclose(pair["pred_10k_s_champion"], pair["pred_10k_s_challenger"])
    checks = check_results(result)
    assert all(check.passed for check in checks.values())
    metadata = checks["row_count_matches_predictions"].metadata
    assert (metadata["predictions_rows"].value, metadata["shadow_rows"].value) == (len(predictions), len(predictions))


def test_no_shadow_when_disabled_or_in_point_in_time_mode(delta_root, registry):
    run(delta_root, registry, D1, shadow_alias="")
    assert table(delta_root, INFERENCE_LOG)["served"].all()
    run(delta_root, registry, D2, point_in_time_model=True)
    log = table(delta_root, INFERENCE_LOG)
    day2 = log[log["prediction_date"] == D2]
    assert day2["served"].all() and set(day2["model_role"]) == {"point_in_time"}


def test_row_count_check_fails_on_a_shadow_row_without_a_served_row():
    rows = pd.DataFrame({"athlete_id": [1, 2], "prediction_date": [D1, D1], "feature_as_of_date": [D1 - dt.timedelta(days=1)] * 2})
    for i, column in enumerate(contract.PREDICTION_COLUMNS):
        rows[column] = 1000.0 * (i // 3 + 1)
    log = pd.concat([rows.assign(served=True, model_version="1"), rows.assign(served=False, model_version="2")], ignore_index=True)
    results = {r.check_name: r for r in evaluate_inference_checks(rows, log)}
    assert results["row_count_matches_predictions"].passed is True
    stray = pd.concat([log, rows.assign(athlete_id=3, served=False, model_version="2")], ignore_index=True)
    results = {r.check_name: r for r in evaluate_inference_checks(rows, stray)}
    assert results["row_count_matches_predictions"].passed is False


def test_range_run_is_one_run_and_equals_daily_runs(delta_root, registry, tmp_path):
    instance = DagsterInstance.ephemeral()
    result = run(delta_root, registry, D1, D2 + dt.timedelta(days=1), instance=instance)
    assert result.success
    assert len(instance.get_runs()) == 1
    ranged = table(delta_root, PREDICTIONS)
    assert sorted(ranged["prediction_date"].unique()) == [D1, D2, D2 + dt.timedelta(days=1)]
    assert (ranged["feature_as_of_date"] == ranged["prediction_date"] - dt.timedelta(days=1)).all()

    # The same days one partition at a time (into a copy of the inputs) give the same rows.
    import shutil

    daily_root = tmp_path / "daily_copy"
    shutil.copytree(delta_root / "features", daily_root / "features")
    for day in (D1, D2, D2 + dt.timedelta(days=1)):
        run(daily_root, registry, day)
    daily = table(daily_root, PREDICTIONS)
    pd.testing.assert_frame_equal(ranged, daily)


def test_point_in_time_model_uses_the_newest_version_trained_before_each_day(delta_root, registry):
    _, v1, v2, _ = registry
    first = dt.date(2025, 3, 5)  # v1 was trained on data before 03-06: nothing may serve 03-05
    run(delta_root, registry, first, D2, point_in_time_model=True)
    predictions = table(delta_root, PREDICTIONS)
    by_day = predictions.groupby("prediction_date")["model_version"].agg(set).to_dict()
    assert first not in by_day  # no model trained before it: no predictions rather than leakage
    for day in mf.days_between(dt.date(2025, 3, 6), D1):
        assert by_day[day] == {str(v1.version)}, day  # v2 saw data up to 03-10: not before 03-11
    assert by_day[D2] == {str(v2.version)}
    assert predictions["model_alias"].isna().all()
    # The broken v3 records no training data end: never chosen in point-in-time mode.
    assert not set().union(*by_day.values()) & {str(registry[3].version)}


def test_failing_blocking_check_writes_nothing(delta_root, registry):
    run(delta_root, registry, D1)
    before = table(delta_root, PREDICTIONS)
    result = run(delta_root, registry, D1, model_alias="broken", raise_on_error=False)
    assert not result.success
    checks = check_results(result)
    assert checks["monotone_in_distance"].passed is False
    assert checks["no_feature_leakage"].passed is True
    pd.testing.assert_frame_equal(table(delta_root, PREDICTIONS), before)


def test_leakage_check_fails_on_features_not_strictly_before_the_prediction_date():
    row = {
        "athlete_id": 1, "prediction_date": D1, "feature_as_of_date": D1,  # same day: leakage
        **{c: float(i + 1) * 1000 for i, c in enumerate(contract.PREDICTION_COLUMNS)},
    }
    for distance in contract.DISTANCES_M:
        point, low, high = contract.prediction_columns(distance)
        row[low], row[high] = row[point] * 0.9, row[point] * 1.1
    frame = pd.DataFrame([row])
    results = {r.check_name: r for r in evaluate_inference_checks(frame, frame)}
    assert results["no_feature_leakage"].passed is False
    assert results["monotone_in_distance"].passed is True
    ok = frame.assign(feature_as_of_date=D1 - dt.timedelta(days=1))
    assert {r.check_name: r for r in evaluate_inference_checks(ok, ok)}["no_feature_leakage"].passed is True
    duplicated = pd.concat([ok, ok])
    results = {r.check_name: r for r in evaluate_inference_checks(duplicated, ok)}
    assert results["unique_athlete_prediction_date"].passed is False
    assert results["row_count_matches_predictions"].passed is False


def test_serves_the_platform_time_estimator_through_the_contract(delta_root, registry):
    result = run(delta_root, registry, D1, model_alias="platform")
    predictions = table(delta_root, PREDICTIONS)
    assert sorted(predictions["athlete_id"]) == ACTIVE
    assert set(predictions["model_alias"]) == {"platform"}
    assert all(check.passed for check in check_results(result).values())


def test_missing_alias_fails_with_a_clear_message_and_writes_nothing(delta_root, registry):
    result = run(delta_root, registry, D1, model_alias="nobody", raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "@nobody" in failure.event_specific_data.error.message
    assert not delta_root.joinpath(*PREDICTIONS.path).exists()
