"""realized_error: each race against the latest prediction made before it, on real Delta tables."""

import datetime as dt

import pandas as pd
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import PREDICTIONS, RACE_RESULTS, REALIZED_ERROR
from athlete_platform.inference.assets import PREDICTIONS_SCHEMA
from athlete_platform.monitoring.realized_error import realized_error, realized_errors
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.monitoring.builders import RACE_DAY, prediction, race
from athlete_platform_tests.support.runs import check_results

SPECS = [
    AssetSpec(RACE_RESULTS, partitions_def=daily_partitions, metadata={"partition_expr": "race_date"}),
    AssetSpec(PREDICTIONS, partitions_def=daily_partitions, metadata={"partition_expr": "prediction_date"}),
]


def write(root, races: list[dict], predictions: list[dict]) -> None:
    mf.write_table(root, RACE_RESULTS.path, pd.DataFrame(races))
    frame = pd.DataFrame(predictions)[PREDICTIONS_SCHEMA.names]
    mf.write_table(root, PREDICTIONS.path, frame)


def run(root):
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()), "pyspark_step_launcher": ResourceDefinition.none_resource()}
    return materialize([*SPECS, realized_error], partition_key=RACE_DAY.isoformat(), resources=resources)


def test_race_is_scored_against_the_latest_prediction_made_before_it(tmp_path):
    day = RACE_DAY
    write(
        tmp_path,
        races=[race(1, 101, "10k", 2500.0), race(2, 201, "5k", 1300.0), race(3, 301, "42k", 12000.0)],
        predictions=[
            prediction(1, day - dt.timedelta(days=3), 2600.0, version="1"),
            prediction(1, day, 2450.0, version="2"),  # made for race day: features of the day before
            prediction(1, day + dt.timedelta(days=1), 1000.0),  # after the race: must never be used
            prediction(2, day - dt.timedelta(days=2), 2700.0),  # latest earlier one (no prediction on D−1, D)
            prediction(3, day + dt.timedelta(days=1), 2600.0),  # only after the race: no row
        ],
    )
    result = run(tmp_path)
    table = DeltaTable(str(tmp_path.joinpath(*REALIZED_ERROR.path))).to_pandas().sort_values("athlete_id")
    assert list(table["athlete_id"]) == [1, 2]
    first, second = table.iloc[0], table.iloc[1]
    assert first["prediction_date"] == day and first["model_version"] == "2"
    assert first["predicted_s"] == 2450.0 and first["error_s"] == -50.0
    assert abs(first["abs_pct_error"] - 2.0) < 1e-9 and first["within_80_interval"]
    assert second["prediction_date"] == day - dt.timedelta(days=2) and second["days_before_race"] == 2
    assert second["predicted_s"] == 2700.0 * 0.5 ** 1.06
    assert (table["prediction_date"] <= table["race_date"]).all()
    assert (table["feature_as_of_date"] < table["race_date"]).all()
    assert mf.materialization_metadata(result, REALIZED_ERROR)["races_without_prediction"].value == 1
    checks = check_results(result)
    assert checks["predictions_made_before_race"].passed
    assert checks["realized_mape"].passed  # 2 % and ~0.3 %


def test_realized_mape_warns_and_errors_at_its_thresholds(tmp_path):
    write(tmp_path, races=[race(1, 101, "10k", 2500.0)], predictions=[prediction(1, RACE_DAY, 2500.0 * 1.10)])
    checks = check_results(run(tmp_path))
    assert not checks["realized_mape"].passed and checks["realized_mape"].severity.value == "WARN"  # 10 %

    other = tmp_path / "error"
    write(other, races=[race(1, 101, "10k", 2500.0)], predictions=[prediction(1, RACE_DAY, 2500.0 * 1.15)])
    checks = check_results(run(other))
    assert not checks["realized_mape"].passed and checks["realized_mape"].severity.value == "ERROR"  # 15 %


def test_a_prediction_dated_after_the_race_is_never_matched():
    races = pd.DataFrame([race(1, 1, "10k", 2500.0)])
    later = pd.DataFrame([prediction(1, RACE_DAY + dt.timedelta(days=1), 2400.0)])
    table, unmatched = realized_errors(races, later)
    assert table.empty and unmatched == 1
