"""feature_drift: served features of the trailing window vs the serving version's training rows."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.inference.assets import INFERENCE_LOG
from athlete_platform.model import contract
from athlete_platform.monitoring.assets import (
    DRIFT_WINDOW_DAYS,
    FEATURE_DRIFT,
    TRAINING_SET,
    feature_drift,
    js_distance,
    reference_rows,
    univariate_drift,
)
from athlete_platform.partitions import daily_partitions, weekly_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.support.runs import check_results

DAY = dt.date(2025, 6, 30)
DATA_END = dt.date(2025, 3, 31)  # the serving version was trained on races before this Monday
SPECS = [
    AssetSpec(INFERENCE_LOG, partitions_def=daily_partitions, metadata={"partition_expr": "prediction_date"}),
    AssetSpec(TRAINING_SET, partitions_def=weekly_partitions, metadata={"partition_expr": "training_week"}),
]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    resource = mf.mlflow_resource(tmp_path_factory.mktemp("mlflow"))
    version = mf.register_version(resource, data_window_end=DATA_END, aliases=(contract.CHAMPION_ALIAS,))
    return resource, version


def snapshot(rows: pd.DataFrame, week: dt.date) -> pd.DataFrame:
    return rows.assign(training_week=week)


def write_tables(root, version, *, shift: float) -> None:
    window = [DAY - dt.timedelta(days=DRIFT_WINDOW_DAYS) + dt.timedelta(days=i) for i in range(DRIFT_WINDOW_DAYS)]
    served = mf.rolling_rows(list(range(1, 9)), window, seed=21, shift=shift)  # as_of D−28..D−1 → prediction D−27..D
    mf.write_table(root, INFERENCE_LOG.path, mf.inference_log_rows(served, version))
    # Weekly training_set snapshots: the version's own (week DATA_END, older than the 56 loaded days) and
    # the newest one, which also holds 100 later races with shifted features (not the version's data).
    before = mf.training_set_rows(300, dt.date(2024, 6, 1), DATA_END - dt.timedelta(days=1), seed=22)
    after = mf.training_set_rows(100, DATA_END, dt.date(2025, 6, 1), seed=23, shift=3.0)
    newest = DAY - dt.timedelta(days=DAY.weekday() + 7)
    mf.write_table(root, TRAINING_SET.path, pd.concat([
        snapshot(before, DATA_END), snapshot(pd.concat([before, after], ignore_index=True), newest),
    ], ignore_index=True))


def run(root, registry):
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()), "mlflow": registry[0],
                 "pyspark_step_launcher": ResourceDefinition.none_resource()}
    return materialize([*SPECS, feature_drift], partition_key=DAY.isoformat(), resources=resources)


def drift_table(root) -> pd.DataFrame:
    return DeltaTable(str(root.joinpath(*FEATURE_DRIFT.path))).to_pandas().set_index("feature")


def test_no_drift_when_served_features_look_like_training(tmp_path, registry):
    write_tables(tmp_path, registry[1], shift=0.0)
    result = run(tmp_path, registry)
    table = drift_table(tmp_path)
    assert set(table.index) == set(contract.FEATURE_COLUMNS)
    assert (table["monitoring_date"] == DAY).all() and (table["window_start"] == DAY - dt.timedelta(days=27)).all()
    assert (table["analysis_rows"] == 8 * DRIFT_WINDOW_DAYS).all()
    assert (table["reference_rows"] == 300).all()  # the version's races only, not the later ones
    assert (table["model_version"] == str(registry[1].version)).all()
    assert not table.loc["ctl", "alert"]
    assert check_results(result)["feature_drift"].passed


def test_drift_check_fires_on_shifted_served_features(tmp_path, registry):
    write_tables(tmp_path, registry[1], shift=0.6)  # load features 60 % higher, TSB and ACWR moved
    result = run(tmp_path, registry)
    table = drift_table(tmp_path)
    for feature in ("ctl", "distance_30d_km", "acwr_ewma_7_28"):
        assert table.loc[feature, "alert"] and table.loc[feature, "level"] == "error", table.loc[feature]
        assert table.loc[feature, "ks_p_value"] < 0.01
    assert not table.loc["best_effort_10k_s", "alert"]  # ability features did not move
    check = check_results(result)["feature_drift"]
    assert not check.passed and check.severity.value == "ERROR"
    assert "ctl" in check.metadata["drifted_features"].value


def test_js_distance_is_zero_for_identical_and_large_for_disjoint_samples():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=2000)
    assert js_distance(sample, sample) == pytest.approx(0.0, abs=1e-9)
    assert js_distance(sample, sample + 10) > 0.8
    small = univariate_drift(pd.DataFrame({"ctl": sample}), pd.DataFrame({"ctl": sample[:10]}), features=["ctl"])
    assert small.loc[0, "level"] == "insufficient_data" and not small.loc[0, "alert"]


def test_reference_is_the_versions_own_snapshot_when_loaded():
    week, later = dt.date(2025, 3, 31), dt.date(2025, 4, 7)
    rows = mf.training_set_rows(10, dt.date(2025, 1, 1), dt.date(2025, 3, 30), seed=1)
    extra = mf.training_set_rows(2, dt.date(2025, 3, 31), dt.date(2025, 4, 6), seed=2)
    frame = pd.concat([snapshot(rows, week), snapshot(pd.concat([rows, extra]), later)], ignore_index=True)
    assert len(reference_rows(frame, week, dt.date(2025, 4, 10))) == 10  # exact snapshot
    assert set(reference_rows(frame, week, dt.date(2025, 4, 10))["training_week"]) == {week}
    only_newest = frame[frame["training_week"] == later]  # the version's snapshot is not loaded
    assert len(reference_rows(only_newest, week, dt.date(2025, 4, 10))) == 10  # newest, races before its end
    assert len(reference_rows(frame, None, dt.date(2025, 4, 10))) == 12  # unknown end: newest snapshot
    assert reference_rows(None, week, dt.date(2025, 4, 10)).empty
