"""``model/time_estimator`` on the weekly runs of ``weekly_training.py`` (real Delta tables, MLflow sqlite store and
registry, sklearn/NannyML): the logged model, its lineage, metrics, signature and DLE, the served predictions; and
the pure training and interval functions it calls."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from athlete_platform.model import contract, tracking
from athlete_platform.model.estimator import DISTANCE_KEYS, EstimatorParams
from athlete_platform.model.evaluation import MIN_GAP_DAYS
from athlete_platform.model.training import train_time_estimator
from athlete_platform.model.training_set import point_in_time_join
from athlete_platform_tests.model.weekly_training import UI_URL, W2, trained_run_id


def test_logging_the_model_prints_neither_mlflows_progress_nor_its_advice_against_python_objects(trained_weeks):
    messages = trained_weeks["pyfunc_logs"]
    # MLflow's INFO lines are off (quiet.quiet_mlflow: the step reports the model itself); its advice, a warning,
    # is dropped by its own filter (test_quiet.py shows MLflow's other warnings still get through).
    assert not [m for m in messages if m.startswith("Validating input example")]
    assert not [m for m in messages if m.startswith(tracking.PYFUNC_OBJECT_ADVICE)]




def test_champion_predictions_have_intervals_and_are_monotone(trained_weeks):
    import mlflow

    name = trained_weeks["mlflow"].model_name
    trained_weeks["mlflow"].configure_process()
    champion = mlflow.pyfunc.load_model(f"models:/{name}@{contract.CHAMPION_ALIAS}")
    rolling = trained_weeks["tables"].rolling
    sample = rolling[pd.to_datetime(rolling["as_of_date"]) >= pd.Timestamp("2024-09-01")]
    predictions = champion.predict(contract.model_input(sample))
    assert list(predictions.columns) == list(contract.PREDICTION_COLUMNS)
    assert len(predictions) == len(sample) and np.isfinite(predictions.to_numpy()).all()
    pred = predictions[[contract.prediction_columns(d)[0] for d in DISTANCE_KEYS]].to_numpy()
    assert (np.diff(pred, axis=1) >= 0).all()
    for distance in DISTANCE_KEYS:
        p, lo, hi = contract.prediction_columns(distance)
        assert (predictions[lo] <= predictions[p]).all() and (predictions[p] <= predictions[hi]).all()
        assert (predictions[hi] > predictions[lo]).all()


def test_training_run_is_tracked_with_lineage_metrics_signature_and_dle(trained_weeks):
    import mlflow

    result = trained_weeks["results"]["B"]
    client = trained_weeks["client"]
    run = client.get_run(trained_run_id(result))
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["dagster_run_id"] == result.run_id and tags["dagster_partition_key"] == W2
    assert tags["data_window_end"] == W2 and tags["data_window_start"] < "2023-03-01"
    assert tags["delta_version.training_set"].isdigit()
    assert len(tags["code_fingerprint"]) == 12
    for method in ("model", "riegel", "vdot"):
        for distance in ("5k", "10k", "21k", "all"):
            assert f"cv/{distance}/{method}_mae_s" in metrics and f"cv/{distance}/{method}_mape_pct" in metrics
    assert 0.5 < metrics["intervals/all/coverage80"] <= 1.0
    assert metrics["cv/10k/model_mae_s"] < contract.MAX_10K_MAE_S
    assert metrics["cv/all/model_mae_s"] <= metrics["cv/all/riegel_mae_s"]
    assert {name.split("/")[0] for name in metrics} == {"cv", "latest_fold", "intervals"}
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on its runs
    assert "mae_10k_gate" in tags["mlflow.note.content"] and "| distance |" in tags["mlflow.note.content"]

    estimator_row = result.asset_materializations_for_node("model__time_estimator")[0].metadata
    assert estimator_row["mlflow_run"].value == f"{UI_URL}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    per_distance = {record.data["distance"]: record.data for record in estimator_row["per_distance"].value.records}
    assert per_distance["10k"]["model_mae_s"] == pytest.approx(metrics["cv/10k/model_mae_s"], abs=0.01)
    logged_table = pd.read_csv(client.download_artifacts(run.info.run_id, "metrics/per_distance.csv",
                                                         str(trained_weeks["root"])))
    assert list(logged_table["distance"]) == list(per_distance)

    name = trained_weeks["mlflow"].model_name
    registered = result.asset_materializations_for_node("model__registered_time_estimator")[0].metadata
    assert registered["model_version_url"].value == f"{UI_URL}/#/models/{name}/versions/2"
    assert client.get_registered_model(name).description.startswith("Race-time estimator of athlete-platform")
    description = client.get_model_version(name, "2").description
    assert description.startswith(f"Trained for week {W2} on races") and f"up to (not including) {W2}" in description
    assert f"MAE {metrics['cv/all/model_mae_s']:.0f} s (Riegel {metrics['cv/all/riegel_mae_s']:.0f} s)" in description
    info = mlflow.models.get_model_info(estimator_row["model_uri"].value)
    assert info.signature.inputs.input_names() == [*contract.KEY_COLUMNS, *contract.FEATURE_COLUMNS]
    assert [c.name for c in info.signature.outputs.inputs] == list(contract.PREDICTION_COLUMNS)
    assert info.saved_input_example_info is not None
    assert "| 10k |" in estimator_row["cv_metrics"].value

    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=contract.DLE_ARTIFACT_PATH)
    dle = pickle.loads(Path(local).read_bytes())
    assert {"5k", "10k"} <= set(dle["estimators"])
    assert dle["feature_columns"] == list(contract.FEATURE_COLUMNS)
    assert dle["y_pred_columns"]["10k"] == "pred_10k_s"


def test_pure_training_beats_riegel_with_honest_intervals(trained_weeks):
    """The same training without Dagster: gates hold, coverage near 80 %, out-of-fold rows respect the gap."""
    tables = trained_weeks["tables"]
    races = tables.races[pd.to_datetime(tables.races["race_date"]) < pd.Timestamp(W2)]
    rows = point_in_time_join(races, tables.rolling).rows
    outcome = train_time_estimator(rows, EstimatorParams(), n_folds=4, gap_days=MIN_GAP_DAYS, min_train_races=80)
    cv = outcome.cv
    assert cv.metric("model", "all") < cv.metric("riegel", "all")
    assert cv.metric("model", "10k") < contract.MAX_10K_MAE_S
    coverage = float(cv.coverage.loc[cv.coverage["distance"] == "all", "coverage"].iloc[0])
    assert 0.65 <= coverage <= 0.95
    for fold in cv.folds:
        test_days = pd.to_datetime(cv.oof.loc[cv.oof["fold"] == fold.index, "race_date"])
        train_days = pd.to_datetime(rows.iloc[fold.train]["race_date"])
        assert (test_days.min() - train_days.max()).days >= 43
    assert all(np.isfinite(outcome.model.halfwidths[d]) for d in DISTANCE_KEYS)


# -- pure pieces ------------------------------------------------------------------------------------


def test_monotone_fix_and_interval_order_hold_even_for_a_non_monotone_model():
    from athlete_platform.model.estimator import FittedTimeModel
    from athlete_platform.model.pyfunc import TimeEstimatorModel

    fitted = FittedTimeModel(
        params=EstimatorParams(model_kind="constant"),
        fallback_time_s={"5k": 1500.0, "10k": 1400.0, "21k": 6000.0, "42k": 5000.0},  # deliberately not monotone
        halfwidths={"5k": 0.05, "10k": 0.01, "21k": 0.10, "42k": 0.02},
    )
    features = pd.DataFrame({name: [np.nan, 1.0] for name in contract.FEATURE_COLUMNS})
    out = TimeEstimatorModel(fitted).predict(None, features)
    assert list(out.columns) == list(contract.PREDICTION_COLUMNS)
    assert out["pred_10k_s"].tolist() == [1500.0, 1500.0] and out["pred_42k_s"].tolist() == [6000.0, 6000.0]
    for distance in DISTANCE_KEYS:
        p, lo, hi = contract.prediction_columns(distance)
        assert (out[lo] <= out[p]).all() and (out[p] <= out[hi]).all()
    for bound in ("lo80", "hi80"):
        values = out[[f"{bound}_{d}_s" for d in DISTANCE_KEYS]].to_numpy()
        assert (np.diff(values, axis=1) >= 0).all()


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    from athlete_platform.model.estimator import conformal_quantile

    residuals = np.arange(1, 11, dtype=float)  # n = 10: ceil(11 × 0.8) = 9th smallest
    assert conformal_quantile(residuals, 0.8) == 9.0
    assert conformal_quantile(np.array([1.0, 2.0]), 0.8) == 2.0  # too few rows: the largest
    assert np.isnan(conformal_quantile(np.array([]), 0.8))
