"""model/tracking.py: grouped metric names and their readers, links, descriptions, the experiment's kind — on a
real MLflow sqlite store."""

import math

import pandas as pd
import pytest

from athlete_platform.model import tracking
from athlete_platform.model.training import CrossValidation
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.runner import mlflow_cv_metrics


def small_cv() -> CrossValidation:
    """A CV result with 10K and 5K races in the test folds (5K has no latest-fold race and no coverage)."""
    rows = []
    for method, offset in (("model", 0.0), ("riegel", 20.0), ("vdot", 30.0)):
        rows += [{"method": method, "distance": "10k", "n": 40, "mae_s": 100.0 + offset, "rmse_s": 130.0 + offset, "mape_pct": 3.0},
                 {"method": method, "distance": "5k", "n": 10, "mae_s": 50.0 + offset, "rmse_s": 60.0 + offset, "mape_pct": 2.5},
                 {"method": method, "distance": "all", "n": 50, "mae_s": 90.0 + offset, "rmse_s": 120.0 + offset, "mape_pct": 2.9}]
    metrics = pd.DataFrame(rows)
    latest = metrics[metrics["distance"] != "5k"].assign(n=12, mae_s=lambda f: f["mae_s"] + 5.0)
    coverage = pd.DataFrame({"distance": ["10k", "all"], "coverage": [0.8, 0.78], "n": [40, 50]})
    halfwidths = {"5k": 0.05, "10k": 0.06, "21k": float("nan"), "42k": float("nan")}
    return CrossValidation(folds=[], oof=pd.DataFrame(), metrics=metrics, latest_fold_metrics=latest,
                           coverage=coverage, halfwidths=halfwidths)


@pytest.fixture()
def store(tmp_path):
    resource = MlflowResource(tracking_uri=f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}",
                              artifact_location=str(tmp_path / "artifacts"), experiment_name="test/tracking")
    return resource, resource.client(), resource.experiment_id()


def test_metrics_are_grouped_by_prefix_and_only_finite():
    metrics = tracking.cv_metrics(small_cv())
    assert metrics["cv/10k/model_mae_s"] == 100.0 and metrics["cv/10k/riegel_mae_s"] == 120.0
    assert metrics["latest_fold/10k/model_mae_s"] == 105.0 and metrics["latest_fold/all/model_n"] == 12
    assert metrics["intervals/10k/coverage80"] == 0.8 and metrics["intervals/5k/log_halfwidth"] == 0.05
    assert "intervals/21k/log_halfwidth" not in metrics and "latest_fold/5k/model_mae_s" not in metrics
    assert {name.split("/")[0] for name in metrics} == {"cv", "latest_fold", "intervals"}


def test_readers_find_grouped_and_legacy_names(store):
    resource, client, experiment_id = store
    new = client.create_run(experiment_id)
    for name, value in tracking.cv_metrics(small_cv()).items():
        client.log_metric(new.info.run_id, name, value)
    old = client.create_run(experiment_id)  # a run logged before the grouped names
    for name, value in {"model_mae_s_10k": 100.0, "riegel_mae_s_10k": 120.0, "model_n_10k": 40.0,
                        "coverage80_10k": 0.8}.items():
        client.log_metric(old.info.run_id, name, value)
    for run in (new, old):
        table = mlflow_cv_metrics(resource.tracking_uri, run.info.run_id).set_index("distance")
        assert (table.loc["10k", "races"], table.loc["10k", "model_mae_s"], table.loc["10k", "riegel_mae_s"],
                table.loc["10k", "coverage80"]) == (40, 100.0, 120.0, 0.8)
        assert table.loc["42k"].drop("races").isna().all()

    from athlete_platform.inference.lineage import reference_mae

    assert reference_mae(client, new.info.run_id) == {"5k": 50.0, "10k": 100.0}
    assert reference_mae(client, old.info.run_id) == {"10k": 100.0}


def test_per_distance_table_and_its_dagster_metadata():
    frame = tracking.per_distance_table(small_cv())
    assert list(frame["distance"]) == ["5k", "10k", "all"]  # distances without races are left out
    ten = frame.set_index("distance").loc["10k"]
    assert (ten["races"], ten["model_mae_s"], ten["vdot_mae_s"], ten["latest_fold_model_mae_s"], ten["coverage80"]) == \
        (40, 100.0, 130.0, 105.0, 0.8)
    assert math.isnan(frame.set_index("distance").loc["5k", "coverage80"])
    table = tracking.dagster_table(frame)
    assert [c.name for c in table.schema.columns] == list(frame.columns)
    assert {c.name: c.type for c in table.schema.columns}["races"] == "int"
    five = table.records[0].data
    assert five["distance"] == "5k" and five["coverage80"] is None and five["model_mae_s"] == 50.0


def test_links_for_a_tracking_server_a_local_ui_and_databricks():
    assert tracking.links_for("sqlite:////tmp/mlflow.db") is None  # no UI known: no links
    local = tracking.links_for("sqlite:////tmp/mlflow.db", ui_url="http://localhost:5000/")
    assert local.run("3", "abc") == "http://localhost:5000/#/experiments/3/runs/abc"
    assert local.model_version("time_estimator", 2) == "http://localhost:5000/#/models/time_estimator/versions/2"
    server = tracking.links_for("https://mlflow.example.org")
    assert server.experiment("7") == "https://mlflow.example.org/#/experiments/7"
    assert tracking.links_for("databricks") is None  # no workspace host known
    workspace = tracking.links_for("databricks", databricks_host="adb-1.2.azuredatabricks.net")
    assert workspace.run("42", "r1") == "https://adb-1.2.azuredatabricks.net/ml/experiments/42/runs/r1"
    assert workspace.model_version("uc_athlete_data.model.time_estimator", 3) == \
        "https://adb-1.2.azuredatabricks.net/explore/data/models/uc_athlete_data/model/time_estimator/version/3"


def test_the_resource_links_to_its_ui_when_configured(tmp_path, monkeypatch):
    sqlite = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    assert MlflowResource(tracking_uri=sqlite).links() is None
    assert MlflowResource(tracking_uri=sqlite, ui_url="http://localhost:5000").links().base == "http://localhost:5000"
    monkeypatch.setenv("DATABRICKS_HOST", "https://dbc-1.cloud.databricks.com/")
    assert MlflowResource(tracking_uri="databricks").links() == \
        tracking.MlflowLinks("https://dbc-1.cloud.databricks.com", databricks=True)


def test_experiment_opens_on_runs_and_versions_are_described(store):
    resource, client, experiment_id = store
    tracking.mark_experiment_for_runs(client, experiment_id)
    assert client.get_experiment(experiment_id).tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"

    tags = {"dagster_partition_key": "2025-11-03", "data_window_start": "2024-01-06", "data_window_end": "2025-11-03",
            "model_kind": "gbm_pooled", "offset": "riegel", "not_enough_races": "", "dagster_run_id": "d-1",
            "code_version": "0.1+asset2", "code_fingerprint": "abcdef123456"}
    run = client.create_run(experiment_id, tags=tags)
    for name, value in tracking.cv_metrics(small_cv()).items():
        client.log_metric(run.info.run_id, name, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("time_estimator")
    version = client.create_model_version("time_estimator", f"runs:/{run.info.run_id}/model", run.info.run_id)
    text = tracking.describe_model_version(client, "time_estimator", version.version)
    assert client.get_registered_model("time_estimator").description == tracking.REGISTERED_MODEL_DESCRIPTION
    assert client.get_model_version("time_estimator", version.version).description == text
    assert "week 2025-11-03" in text and "2024-01-06 up to (not including) 2025-11-03" in text
    assert "gbm_pooled model with riegel offset" in text
    assert "50 races: MAE 90 s (Riegel 110 s), 10K MAE 100 s (Riegel 120 s)" in text
    assert "covered 78%" in text and "d-1" in text
