"""The whole graph through the real Databricks step launcher, against the local Databricks REST emulator.

The project's jobs, as scheduled, each a real Dagster run (``execute_job`` of a reconstructable job) in
which every step is a Databricks run on the emulated cluster (see ``test_databricks_step_launcher.py`` for
what is real and what is emulated), with the default cluster scope — one cluster per Dagster run:

1. ``ingest_job`` over 2024-01-01..2024-09-29 as one run (a single-run backfill: the history the model needs);
2. ``weekly_features_job`` for the week of 2024-09-23;
3. ``weekly_training_job`` for the week of 2024-09-30: the model is logged, gated and registered with its
   aliases in the MLflow store the remote steps use (a sqlite store stands in for Databricks MLflow);
4. ``daily_job`` for 2024-09-30: ingestion through predictions, monitoring and reports; predictions name
   the registered version;
5. ``weekly_training_job`` again with a trivial model: its blocking gates fail on the remote side, the step
   fails, nothing is registered — and the run's cluster is still terminated;
6. ``maintenance_job``: OPTIMIZE and VACUUM of every table, on the cluster too.

Every asset of a job materializes from the remote process of its own Databricks run, and every check
evaluation comes back. ``pytest -s`` prints per job the Databricks runs, cluster starts, wall time and
endpoints called (the numbers quoted in docs/databricks.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, execute_job, reconstructable
from deltalake import DeltaTable

from athlete_platform import jobs
from athlete_platform.asset_keys import ALL_ASSET_KEYS, ATHLETE_REPORTS, PREDICTIONS
from athlete_platform.model import contract
from athlete_platform.resources.databricks import KNOB_VARS, PLATFORM_HOME_VAR
from athlete_platform_tests.support import databricks_graph
from athlete_platform_tests.support.databricks_emulator import DatabricksEmulator

SCOPE = "athlete-platform"
HISTORY = ("2024-01-01", "2024-09-29")
WEEK = "2024-09-30"
PREVIOUS_WEEK = "2024-09-23"
DAY = "2024-09-30"
# Small data: time-ordered folds need fewer races and days than the production defaults; the Riegel formula
# as the model passes its gates (it ties Riegel), the constant model fails both.
TRAINING = {"model_kind": "baseline", "min_train_races": 15, "min_train_days": 90, "n_folds": 2,
            "prior_athletes": 0, "dle_min_reference_rows": 10, "dle_chunk_size": 5}
FAILING_TRAINING = {**TRAINING, "model_kind": "constant", "fit_dle": False}


def step_key_of(run) -> str:
    """The Dagster step a Databricks run executed: its staged files live under <prefix>/<run id>/<step key>/."""
    return run.task["spark_python_task"]["python_file"].rstrip("/").split("/")[-2]


def expected_checks(selection) -> set:
    keys = set(selection)
    return {check for assets_def in databricks_graph.graph_assets() for check in assets_def.check_keys
            if check.asset_key in keys}


class Scenario:
    def __init__(self, emulator: DatabricksEmulator, root: Path):
        self.emulator, self.root = emulator, root
        self.instance = DagsterInstance.ephemeral()
        self.jobs: dict[str, dict] = {}

    def run(self, label: str, job_fn, *, tags: dict, run_config: dict | None = None, asset_selection=None):
        since = self.emulator.mark()
        started = time.perf_counter()
        result = execute_job(reconstructable(job_fn), instance=self.instance, tags=tags, run_config=run_config,
                             asset_selection=asset_selection, raise_on_error=False)
        seconds = time.perf_counter() - started
        self.emulator.wait_for_runs()
        self.jobs[label] = {"result": result, "seconds": seconds, "runs": self.emulator.runs_since(since),
                            "starts": self.emulator.starts_since(since),
                            "endpoints": self.emulator.endpoints_called(since)}
        return self.jobs[label]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("databricks_graph")
    with pytest.MonkeyPatch.context() as patch, DatabricksEmulator(root / "databricks") as emulator:
        emulator.secrets[SCOPE] = {"databricks-host": emulator.url, "databricks-token": emulator.token}
        for name in (*KNOB_VARS, "ATHLETE_PLATFORM_SOURCE", "ATHLETE_PLATFORM_PARTITIONS_START"):
            patch.delenv(name, raising=False)  # defaults: one new cluster per run, scope "athlete-platform"
        patch.setenv("DATABRICKS_HOST", emulator.url)
        patch.setenv("DATABRICKS_TOKEN", emulator.token)
        patch.setenv(databricks_graph.ROOT_VAR, str(root))
        patch.setenv(PLATFORM_HOME_VAR, str(root / "volume"))  # stands in for /Volumes/<catalog>/monitoring/files
        scenario = Scenario(emulator, root)
        scenario.run("ingest_job (history range)", databricks_graph.ingest_job,
                     tags={"dagster/asset_partition_range_start": HISTORY[0],
                           "dagster/asset_partition_range_end": HISTORY[1]})
        scenario.run("weekly_features_job", databricks_graph.weekly_features_job,
                     tags={"dagster/partition": PREVIOUS_WEEK})
        scenario.run("weekly_training_job", databricks_graph.weekly_training_job, tags={"dagster/partition": WEEK},
                     run_config={"ops": {"model__time_estimator": {"config": TRAINING}}})
        scenario.run("daily_job", databricks_graph.daily_job, tags={"dagster/partition": DAY})
        scenario.run("weekly_training_job (failing gate)", databricks_graph.weekly_training_job,
                     tags={"dagster/partition": WEEK},
                     run_config={"ops": {"model__time_estimator": {"config": FAILING_TRAINING}}},
                     asset_selection=[jobs.TIME_ESTIMATOR, jobs.REGISTERED_TIME_ESTIMATOR])
        scenario.run("maintenance_job", databricks_graph.maintenance_job, tags={})
        yield scenario
    assert emulator.unknown_calls == [], f"the launcher called endpoints the emulator lacks: {emulator.unknown_calls}"
    assert emulator.server_errors == []
    print_cost_report(scenario)


def print_cost_report(scenario: Scenario) -> None:
    lines = ["", "[databricks emulator] job | Databricks runs | cluster starts | wall s | endpoints"]
    for label, job in scenario.jobs.items():
        kinds = ", ".join(start.kind for start in job["starts"])
        lines.append(f"[databricks emulator] {label} | {len(job['runs'])} | {len(job['starts'])} ({kinds}) | "
                     f"{job['seconds']:.0f} | {', '.join(job['endpoints'])}")
    for label, job in scenario.jobs.items():
        steps = ", ".join(f"{step_key_of(run)} {run.wall_seconds:.0f}s" for run in job["runs"])
        lines.append(f"[databricks emulator] {label} remote steps (submit→terminated): {steps}")
    print("\n".join(lines))


def assert_every_step_ran_remotely_on_one_cluster(scenario, job) -> dict[str, object]:
    """One Databricks run per step, all on the one cluster the Dagster run created and terminated (a run of one
    step: on its job cluster)."""
    result, runs, starts = job["result"], job["runs"], job["starts"]
    step_keys = {event.step_key for event in result.all_events if event.event_type == DagsterEventType.STEP_START}
    by_step = {step_key_of(run): run for run in runs}
    assert len(by_step) == len(runs) and set(by_step) == step_keys  # each step once, nothing else
    assert len(starts) == 1  # one cluster start for the whole run
    cluster_id = starts[0].cluster_id
    assert {run.cluster_id for run in runs} == {cluster_id}
    if len(runs) == 1:
        assert starts[0].kind == "job cluster" and runs[0].new_cluster is not None
    else:
        assert starts[0].kind == "created" and scenario.emulator.clusters[cluster_id].state == "TERMINATED"
        assert all(run.new_cluster is None and run.task["existing_cluster_id"] == cluster_id for run in runs)
    for event in result.all_events:
        if event.event_type in (DagsterEventType.STEP_START, DagsterEventType.ASSET_MATERIALIZATION,
                                DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.STEP_SUCCESS):
            assert event.pid == by_step[event.step_key].pid, f"{event.event_type} of {event.step_key} was not remote"
    return by_step


def materialized(result) -> dict[AssetKey, list]:
    out: dict[AssetKey, list] = {}
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            out.setdefault(event.asset_key, []).append(event.step_materialization_data.materialization)
    return out


def checks_of(result) -> dict:
    return {(e.event_specific_data.asset_key, e.event_specific_data.check_name): e.event_specific_data
            for e in result.all_events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION}


@pytest.mark.integration
@pytest.mark.spark
@pytest.mark.parametrize("label, selection", [
    ("ingest_job (history range)", jobs.INGEST_KEYS),
    ("weekly_features_job", (jobs.WEEKLY_FEATURES,)),
    ("weekly_training_job", jobs.WEEKLY_TRAINING_KEYS),
    ("daily_job", jobs.DAILY_KEYS),
    ("maintenance_job", (jobs.DELTA_MAINTENANCE,)),
])
def test_every_asset_and_check_of_the_job_comes_back_from_its_own_databricks_run(scenario, label, selection):
    job = scenario.jobs[label]
    result = job["result"]
    assert result.success, [e.message for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert_every_step_ran_remotely_on_one_cluster(scenario, job)
    assert set(materialized(result)) == set(selection)
    for key in selection:  # in the orchestrating instance's event log too
        assert scenario.instance.get_latest_materialization_event(key) is not None
    assert {(check.asset_key, check.name) for check in expected_checks(selection)} == set(checks_of(result))


@pytest.mark.integration
@pytest.mark.spark
def test_every_one_of_the_graph_assets_ran_remotely(scenario):
    ran = set()
    for label in ("ingest_job (history range)", "weekly_features_job", "weekly_training_job", "daily_job",
                  "maintenance_job"):
        ran |= set(materialized(scenario.jobs[label]["result"]))
    # the 19 tables and the Delta maintenance asset: each from its own remote step (asserted per job above)
    assert ran == {key for assets_def in databricks_graph.graph_assets() for key in assets_def.keys}
    assert ran == set(ALL_ASSET_KEYS)  # every asset of the platform, the champion decision included


@pytest.mark.integration
@pytest.mark.spark
def test_the_model_is_registered_with_aliases_where_the_remote_side_logs_and_predictions_name_it(scenario):
    training, daily = scenario.jobs["weekly_training_job"]["result"], scenario.jobs["daily_job"]["result"]
    resource = databricks_graph.mlflow_resource(scenario.root)
    client = resource.client()
    versions = client.search_model_versions(f"name='{resource.model_name}'")
    assert [str(v.version) for v in versions] == ["1"]
    version = versions[0]
    model = client.get_registered_model(resource.model_name)
    assert {alias: str(v) for alias, v in model.aliases.items()} == {contract.CHAMPION_ALIAS: "1",
                                                                      contract.CHALLENGER_ALIAS: "1"}
    # logged by the remote training step of this Dagster run, in the store the remote steps share
    assert client.get_run(version.run_id).data.tags["dagster_run_id"] == training.run_id
    registered = materialized(training)[jobs.REGISTERED_TIME_ESTIMATOR][0]
    assert registered.metadata["version"].value == "1"
    assert registered.metadata["aliases"].value == f"{contract.CHALLENGER_ALIAS},{contract.CHAMPION_ALIAS}"

    predictions = DeltaTable(str(scenario.root.joinpath("delta", *PREDICTIONS.path))).to_pandas()
    assert len(predictions) > 0 and set(predictions["prediction_date"].astype(str)) == {DAY}
    assert set(predictions["model_name"]) == {resource.model_name}
    assert set(predictions["model_version"]) == {"1"} and set(predictions["mlflow_run_id"]) == {version.run_id}
    assert materialized(daily)[jobs.INFERENCE_KEYS[0]][0].partition == DAY

    # the report PNGs are files on the volume the remote steps were given, not on the emulated driver's disk
    reports = DeltaTable(str(scenario.root.joinpath("delta", *ATHLETE_REPORTS.path))).to_pandas()
    assert len(reports) > 0
    for path in reports["png_path"]:
        assert Path(path).is_relative_to(scenario.root / "volume" / "reports") and Path(path).stat().st_size > 0


@pytest.mark.integration
@pytest.mark.spark
def test_a_failing_blocking_gate_on_the_remote_side_fails_the_step_and_registers_nothing(scenario):
    job = scenario.jobs["weekly_training_job (failing gate)"]
    result = job["result"]
    assert not result.success
    by_step = {step_key_of(run): run for run in job["runs"]}
    assert set(by_step) == {"model__time_estimator"}  # registration never launched
    estimator_run = by_step["model__time_estimator"]
    checks = checks_of(result)
    assert not checks[(jobs.TIME_ESTIMATOR, "beats_riegel")].passed
    assert not checks[(jobs.TIME_ESTIMATOR, "mae_10k_gate")].passed
    failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert [e.step_key for e in failures] == ["model__time_estimator"] and failures[0].pid == estimator_run.pid
    assert jobs.REGISTERED_TIME_ESTIMATOR not in materialized(result)
    resource = databricks_graph.mlflow_resource(scenario.root)
    assert [str(v.version) for v in resource.client().search_model_versions(f"name='{resource.model_name}'")] == ["1"]
    # its MLflow run is logged for diagnosis (with the failed gates) and ended, not left RUNNING
    client = resource.client()
    experiment = client.get_experiment_by_name(resource.experiment_name)
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.dagster_run_id = '{result.run_id}'")
    assert [(run.info.status, run.data.tags["gate_beats_riegel_passed"]) for run in runs] == [("FINISHED", "False")]
    # the run's cluster (two steps planned: one shared cluster) is terminated although the run failed
    assert [start.kind for start in job["starts"]] == ["created"]
    assert scenario.emulator.clusters[job["starts"][0].cluster_id].state == "TERMINATED"
