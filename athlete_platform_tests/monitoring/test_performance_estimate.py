"""performance_estimate: NannyML DLE of the serving version (real MLflow artifact) on the day's predictions."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import DAILY_FEATURES, INFERENCE_LOG, PERFORMANCE_ESTIMATE, ROLLING_FEATURES
from athlete_platform.inference.assets import athlete_predictions
from athlete_platform.model import contract
from athlete_platform.monitoring.performance_estimate import performance_estimate
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.support.runs import check_results

DAY = dt.date(2025, 7, 1)
ATHLETES = list(range(1, 41))
SPECS = [
    AssetSpec(ROLLING_FEATURES, partitions_def=daily_partitions, metadata={"partition_expr": "as_of_date"}),
    AssetSpec(DAILY_FEATURES, partitions_def=daily_partitions, metadata={"partition_expr": "date"}),
]
LOG_SPEC = AssetSpec(INFERENCE_LOG, partitions_def=daily_partitions, metadata={"partition_expr": "prediction_date"})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A champion with a DLE artifact, and one day of real predictions + inference log."""
    resource = mf.mlflow_resource(tmp_path_factory.mktemp("mlflow"))
    version = mf.register_version(resource, data_window_end=dt.date(2025, 6, 2),
                                  aliases=(contract.CHAMPION_ALIAS,), with_dle=True)
    root = tmp_path_factory.mktemp("delta")
    mf.write_table(root, ROLLING_FEATURES.path, mf.rolling_rows(ATHLETES, [DAY - dt.timedelta(days=1)], seed=31))
    mf.write_table(root, DAILY_FEATURES.path, mf.daily_rows({a: [DAY - dt.timedelta(days=3)] for a in ATHLETES}))
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()), "mlflow": resource,
                 "pyspark_step_launcher": ResourceDefinition.none_resource()}
    result = materialize([*SPECS, athlete_predictions, performance_estimate], partition_key=DAY.isoformat(),
                         resources=resources)
    return resource, version, root, resources, result


def estimates(root) -> pd.DataFrame:
    return DeltaTable(str(root.joinpath(*PERFORMANCE_ESTIMATE.path))).to_pandas().set_index("distance")


def test_dle_estimate_per_distance_for_the_version_that_predicted(served):
    resource, version, root, _, result = served
    table = estimates(root)
    assert sorted(table.index) == sorted(contract.DISTANCES_M)
    assert (table["prediction_date"] == DAY).all()
    assert (table["model_version"] == str(version.version)).all()
    assert (table["n_predictions"] == len(ATHLETES)).all()
    assert (table["reference_source"] == "mlflow_metric").all()
    logged = resource.client().get_run(version.run_id).data.metrics
    assert table.loc["10k", "reference_mae_s"] == pytest.approx(logged["model_mae_s_10k"])
    assert np.isfinite(table["estimated_mae_s"]).all() and (table["estimated_mae_s"] > 0).all()
    assert (table["estimated_mae_lower_s"] <= table["estimated_mae_s"]).all()
    assert (table["estimated_mae_s"] <= table["estimated_mae_upper_s"]).all()
    expected_ratio = table["estimated_mae_s"] / table["reference_mae_s"]
    np.testing.assert_allclose(table["ratio_to_reference"], expected_ratio)
    assert "estimated_mae_within_reference" in check_results(result)


def set_reference(served, column: str, ratio: float):
    """Log a newer reference MAE per distance so that ``column`` / reference == ``ratio``; re-materialize."""
    resource, version, root, resources, _ = served
    estimated = estimates(root)[column]
    client = resource.client()
    step = max(m.step for m in client.get_metric_history(version.run_id, "model_mae_s_10k")) + 1
    for distance, value in estimated.items():
        client.log_metric(version.run_id, f"model_mae_s_{distance}", float(value) / ratio, step=step)
    result = materialize([LOG_SPEC, performance_estimate], partition_key=DAY.isoformat(), resources=resources)
    return check_results(result)["estimated_mae_within_reference"], estimates(root)


@pytest.mark.parametrize("ratio, passed, severity", [(1.0, True, None), (1.3, False, "WARN"), (2.0, False, "ERROR")])
def test_check_warns_above_1_25_and_errors_above_1_5_times_the_reference(served, ratio, passed, severity):
    """Judged on the estimate's lower confidence bound: even the optimistic end of the band is that far above."""
    check, table = set_reference(served, "estimated_mae_lower_s", ratio)
    assert check.passed is passed
    if severity:
        assert check.severity.value == severity
    np.testing.assert_allclose(table["estimated_mae_lower_s"] / table["reference_mae_s"], ratio, rtol=1e-9)


def test_an_excess_inside_the_estimates_confidence_band_is_not_an_alert(served):
    """Point estimate 1.3 x the reference, but the band reaches below 1.25 x: noise of one day's rows, no WARN."""
    check, table = set_reference(served, "estimated_mae_s", 1.3)
    np.testing.assert_allclose(table["ratio_to_reference"], 1.3, rtol=1e-9)
    assert (table["estimated_mae_lower_s"] / table["reference_mae_s"] < 1.25).all()
    assert check.passed is True


def test_the_mae_only_view_estimates_the_full_estimators_mae():
    """The asset estimates with :func:`mae_only` (no RMSE, no stored result): the same MAE rows, to the bit,
    and the fitted estimator untouched."""
    import copy
    import warnings

    from athlete_platform.monitoring.performance_estimate import estimate_mae, mae_only

    model = mf.fit_model(mf.training_frame(seed=3))
    estimator = mf.fit_dle_artifact(model, mf.training_frame(seed=4))["estimators"]["10k"]
    served_rows = mf.training_frame(seed=5, n_athletes=90)  # 90 rows: several 20-row chunks
    served_rows["pred_10k_s"] = model.predict(None, contract.model_input(served_rows))["pred_10k_s"].to_numpy()
    served_rows["prediction_date"] = DAY
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = estimate_mae(copy.deepcopy(estimator), served_rows, "10k")
    view = mae_only(estimator)
    assert [m.column_name for m in view.metrics] == ["mae"] and view.result is None
    assert estimate_mae(view, served_rows, "10k") == full
    assert [m.column_name for m in estimator.metrics] == ["mae", "rmse"] and estimator.result is not None
