"""Shared by the model tests: simulated tables written as real Delta tables, and the resources to run on them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from dagster import ResourceDefinition
from deltalake import write_deltalake

from athlete_platform.labels.assets import RACE_RESULTS_SCHEMA
from athlete_platform.model.simulated_data import SimulatedTables, build_tables
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.resources.spark import SparkResource
from athlete_platform.simulation.config import SimulatorParams

#: Small population for tests: 12 athletes from 2023-01-01, ~300 races by October 2024.
TEST_SIMULATOR = SimulatorParams(seed=7, n_athletes=12, history_start=dt.date(2023, 1, 1))


def simulated_tables(end: dt.date, config: SimulatorParams = TEST_SIMULATOR) -> SimulatedTables:
    return build_tables(config, end)


def write_table(root: Path, key_path: list[str], frame: pd.DataFrame, schema: pa.Schema | None = None) -> Path:
    """Write a pandas frame where the Delta IO manager reads the asset ``key_path``."""
    path = root.joinpath(*key_path)
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), pa.Table.from_pandas(frame, schema=schema, preserve_index=False), mode="overwrite")
    return path


def write_upstream(root: Path, tables: SimulatedTables) -> None:
    """race_results and athlete_rolling_features as the model assets expect to find them."""
    write_table(root, ["labels", "race_results"], tables.races, RACE_RESULTS_SCHEMA)
    write_table(root, ["features", "athlete_rolling_features"], tables.rolling)


def model_resources(root: Path, *, model_name: str = "time_estimator", ui_url: str | None = None) -> dict[str, Any]:
    """Real Delta IO manager (Spark never started: the model assets read and write pandas/Arrow) and a
    real MLflow sqlite store with registry under ``root`` (``ui_url``: where its UI would be served)."""
    spark = SparkResource(master="local[1]")
    return {
        "spark": spark,
        "io_manager": DeltaTableIOManager(root_uri=str(root / "delta"), spark=spark),
        "pyspark_step_launcher": ResourceDefinition.none_resource(),
        "mlflow": MlflowResource(
            tracking_uri=f"sqlite:///{(root / 'mlflow.db').as_posix()}",
            artifact_location=str(root / "mlflow-artifacts"),
            experiment_name="test/time_estimator",
            model_name=model_name,
            ui_url=ui_url,
        ),
    }


def upstream_spec(assets_def, key=None):
    """An external-asset stand-in for a real upstream asset (same key, partitions and metadata — hence the
    same ``partition_expr`` the IO manager reads with), so a test can run the model assets without the
    Spark feature graph above them."""
    from dagster import AssetSpec

    key = key or assets_def.key
    return AssetSpec(key, partitions_def=assets_def.partitions_def, metadata=dict(assets_def.metadata_by_key[key]))
