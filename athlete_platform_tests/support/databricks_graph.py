"""Reconstructable whole-graph jobs for the emulator test: the project's assets and jobs, Databricks bindings.

The same assets and the same jobs as ``athlete_platform.definitions`` (imported from there), bound as in
``ATHLETE_PLATFORM_ENV=databricks`` — the project's step launcher (one cluster per run unless the knobs say
otherwise), ``ClusterSparkResource``, the in-process executor of ``executor_for`` — except what has no local
stand-in for Unity Catalog and Databricks MLflow:

* tables: the local ``DeltaTableIOManager`` under ``$ATHLETE_TEST_PLATFORM_ROOT/delta``;
* MLflow: a sqlite tracking store and registry ``$ATHLETE_TEST_PLATFORM_ROOT/mlflow.db`` (artifacts beside
  it) — the store the remote steps log, register and load models in;
* activities: a small simulated population (``SIMULATOR``).

The remote step re-imports this module from the launcher's code zip and rebuilds these definitions from the
environment the launcher forwards (``ATHLETE_TEST_PLATFORM_ROOT`` and the platform settings).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from dagster import Definitions

from athlete_platform.jobs import JOBS
from athlete_platform.resources.databricks import ClusterSparkResource, DatabricksKnobs, databricks_step_launcher
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.environments import executor_for
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.resources.simulator_source import SimulatorSource
from athlete_platform.settings import load_settings

ROOT_VAR = "ATHLETE_TEST_PLATFORM_ROOT"
MODEL_NAME = "time_estimator"
#: The smallest population that still gives the model time-ordered folds and the DLE enough rows:
#: 4 athletes from 2024-01-01 hold ~40 races by the end of September 2024.
SIMULATOR = {"seed": 7, "n_athletes": 4, "history_start": "2024-01-01"}


def graph_assets() -> list:
    from athlete_platform.definitions import defs

    return list(defs.assets)


def mlflow_resource(root: Path) -> MlflowResource:
    return MlflowResource(
        tracking_uri=f"sqlite:///{(root / 'mlflow.db').as_posix()}",
        artifact_location=str(root / "mlflow-artifacts"),
        experiment_name="emulator/time_estimator",
        model_name=MODEL_NAME,
    )


def definitions() -> Definitions:
    root = Path(os.environ[ROOT_VAR])
    settings = load_settings()
    spark = ClusterSparkResource()
    launcher = databricks_step_launcher(
        settings,
        DatabricksKnobs.from_env(),
        poll_interval_sec=0.5,
        extra_env={ROOT_VAR: str(root)},
        run_name="athlete-platform emulator graph",
    )
    return Definitions(
        assets=graph_assets(),
        jobs=JOBS,
        resources={
            "spark": spark,
            "io_manager": DeltaTableIOManager(root_uri=str(root / "delta"), spark=spark),
            "activity_source": SimulatorSource(**SIMULATOR),
            "mlflow": mlflow_resource(root),
            "pyspark_step_launcher": launcher,
        },
        executor=executor_for(dataclasses.replace(settings, environment="databricks")),
    )


def ingest_job():
    return definitions().resolve_job_def("ingest_job")


def weekly_features_job():
    return definitions().resolve_job_def("weekly_features_job")


def weekly_training_job():
    return definitions().resolve_job_def("weekly_training_job")


def daily_job():
    return definitions().resolve_job_def("daily_job")


def maintenance_job():
    return definitions().resolve_job_def("maintenance_job")
