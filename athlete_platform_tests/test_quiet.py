"""Warnings nobody can act on are filtered in every process that imports the platform; others still show."""

import subprocess
import sys

SCRIPT = """
import warnings
import athlete_platform.definitions  # every asset decorated: backfill_policy on each daily asset
from dagster import TimeWindowPartitionMapping
from dagster._core.definitions.step_launcher import StepLauncher
from dagster_shared.utils.warnings import BetaWarning

TimeWindowPartitionMapping(start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True)

class Launcher(StepLauncher):
    def launch_step(self, step_context):
        return iter(())

Launcher()
warnings.warn("Parameter `some_new_thing` of function `asset` is currently in beta", BetaWarning)
warnings.warn("something else", FutureWarning)
"""


def test_unactionable_dagster_warnings_are_gone_and_others_still_show():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True)
    assert "backfill_policy" not in done.stderr
    assert "allow_nonexistent_upstream_partitions" not in done.stderr
    assert "SupersessionWarning" not in done.stderr
    assert "some_new_thing" in done.stderr and "something else" in done.stderr


MLFLOW_SCRIPT = """
import logging, sys
import mlflow
from athlete_platform.quiet import without_mlflow_prints
from athlete_platform.resources.mlflow_resource import MlflowResource

home = sys.argv[1]
store = MlflowResource(tracking_uri=f"sqlite:///{home}/mlflow.db", artifact_location=f"{home}/artifacts")
with mlflow.start_run(experiment_id=store.experiment_id()) as run:  # creates the store's tables
    mlflow.log_text("flavors: {}", "model/MLmodel")
with without_mlflow_prints():
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", store.model_name)
    logging.getLogger("mlflow.tracking").warning("a warning MLflow gives while the prints are off")
print("registered", version.version)
logging.getLogger("mlflow.tracking").warning("a warning MLflow gives")
"""


def run_mlflow_script(tmp_path, **env):
    import os

    environment = {key: value for key, value in os.environ.items() if key != "MLFLOW_LOGGING_LEVEL"}
    return subprocess.run([sys.executable, "-c", MLFLOW_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=True, env={**environment, **env})


def test_mlflow_progress_lines_are_off_its_warnings_show_and_its_own_variable_brings_them_back(tmp_path):
    quiet = run_mlflow_script(tmp_path / "quiet")
    assert "registered 1" in quiet.stdout
    for line in ("Creating initial MLflow database tables", "Successfully registered model", "Created version"):
        assert line not in quiet.stderr
    assert "a warning MLflow gives\n" in quiet.stderr
    assert "a warning MLflow gives while the prints are off" in quiet.stderr
    verbose = run_mlflow_script(tmp_path / "verbose", MLFLOW_LOGGING_LEVEL="INFO")
    for line in ("Creating initial MLflow database tables", "Successfully registered model", "Created version"):
        assert line in verbose.stderr
