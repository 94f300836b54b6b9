"""The weekly training chain end to end (training set → gated estimator → registration), shared by
``test_time_estimator.py`` and ``test_registered_time_estimator.py`` through the package fixture ``trained_weeks``
(``conftest.py``): real Delta tables, real MLflow sqlite store + registry, real sklearn/NannyML.

One scenario on a small simulated population (12 athletes, ~290 races), five runs sharing one instance
and one MLflow store:

A. week 2024-09-30, ``model_kind=riegel`` (the formula as a model: passes both gates) → v1, first champion.
B. week 2024-10-07, default gradient boosting (with the DLE artifact) → v2, the challenger: registration does
   not promote (model/champion_decision does, on unseen races: test_champion_decision.py).
C. week 2024-10-07, ``riegel`` again → v3 is the challenger, the champion stays v1.
D. week 2024-10-07, ``constant`` (trivial model) → both gates fail: run FAILED, nothing registered.
E. week 2024-10-07, good model but a 1-second 10K gate → ``mae_10k_gate`` alone fails: nothing registered.
"""

import datetime as dt
import logging
from pathlib import Path

from dagster import DagsterInstance, materialize

from athlete_platform.features.assets import athlete_rolling_features
from athlete_platform.labels.assets import race_results
from athlete_platform.model import tracking
from athlete_platform.model.assets import time_estimator, training_set
from athlete_platform.model.registration_asset import registered_time_estimator
from athlete_platform_tests.model.helpers import model_resources, simulated_tables, upstream_spec, write_upstream

W1, W2 = "2024-09-30", "2024-10-07"
BASE_CONFIG = {"min_train_races": 80, "n_folds": 4, "gap_days": 43}
UI_URL = "http://mlflow.test:5000"  # where the store's UI would be: the metadata links to it


def run_week(root: Path, instance, partition: str, **config):
    assets = [upstream_spec(race_results), upstream_spec(athlete_rolling_features),
              training_set, time_estimator, registered_time_estimator]
    return materialize(
        assets,
        partition_key=partition,
        resources=model_resources(root, ui_url=UI_URL),
        instance=instance,
        run_config={"ops": {"model__time_estimator": {"config": {**BASE_CONFIG, **config}}}},
        raise_on_error=False,
    )


def trained_run_id(result) -> str:
    events = result.asset_materializations_for_node("model__time_estimator")
    return events[0].metadata["mlflow_run_id"].value


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def train_weeks(root: Path) -> dict:
    """Runs A-E in ``root``: their results, the tables, the MLflow resource and client, and what MLflow's pyfunc
    logger said while the models were logged."""
    tables = simulated_tables(dt.date(2024, 10, 14))
    write_upstream(root / "delta", tables)
    instance = DagsterInstance.ephemeral()
    pyfunc_logs = RecordingHandler()
    logging.getLogger(tracking.PYFUNC_LOGGER).addHandler(pyfunc_logs)
    try:
        results = {
            "A": run_week(root, instance, W1, model_kind="baseline", fit_dle=False),
            "B": run_week(root, instance, W2),
            "C": run_week(root, instance, W2, model_kind="baseline", fit_dle=False),
            "D": run_week(root, instance, W2, model_kind="constant", fit_dle=False),
            "E": run_week(root, instance, W2, max_10k_mae_s=1.0, fit_dle=False),
        }
    finally:
        logging.getLogger(tracking.PYFUNC_LOGGER).removeHandler(pyfunc_logs)
    mlflow_resource = model_resources(root)["mlflow"]
    return {"root": root, "tables": tables, "results": results, "mlflow": mlflow_resource,
            "client": mlflow_resource.client(), "pyfunc_logs": [r.getMessage() for r in pyfunc_logs.records]}

