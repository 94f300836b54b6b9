"""The real Databricks step launcher end to end, against the local Databricks REST emulator.

What runs for real: dagster-databricks' ``databricks_pyspark_step_launcher`` (configured by
``athlete_platform.resources.databricks``), databricks-sdk's HTTP calls, the launcher's
``databricks_step_main.py`` on the "driver", the code zip, the pickled step, the secret-scope export, and
the Dagster events replayed from DBFS. What is emulated: the REST API and the cluster (a local subprocess
with a local Spark session, where — as on Databricks — the project is not installed: the driver imports it
from the launcher's code zip and the Spark workers from what ``ClusterSparkResource`` ships to them).
``pytest -s`` prints the endpoints called and the remote steps' timing.
"""

import os
import time

import pytest
from dagster import DagsterEventType, DagsterInstance, execute_job, reconstructable
from deltalake import DeltaTable

from athlete_platform.asset_keys import RAW_ACTIVITIES
from athlete_platform.resources.databricks import KNOB_VARS, databricks_resources, step_launcher_config
from athlete_platform.resources.databricks_launcher import clusters_api_spec
from athlete_platform.resources.environments import local_resources
from athlete_platform.resources.unity_catalog_io import UnityCatalogDeltaIOManager
from athlete_platform.settings import load_settings
from athlete_platform_tests.support import databricks_job
from athlete_platform_tests.support.databricks_emulator import DatabricksEmulator

SCOPE = "athlete-platform"


def test_databricks_resources_bind_the_local_keys_without_resolving_secrets(monkeypatch):
    for name in (*KNOB_VARS, "DATABRICKS_HOST", "DATABRICKS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings({"ATHLETE_PLATFORM_ENV": "databricks", "ATHLETE_PLATFORM_SOURCE": "strava_api"})
    resources = databricks_resources(settings)
    # The keys the Spark assets use, bound in both environments ("mlflow" is bound by the model work from
    # the MLFLOW_* constants of athlete_platform.resources.databricks).
    shared = {"spark", "io_manager", "activity_source", "pyspark_step_launcher"}
    assert shared <= set(resources) and shared <= set(local_resources(settings))
    assert resources["spark"].master is None  # the cluster's session
    io_manager = resources["io_manager"]
    assert isinstance(io_manager, UnityCatalogDeltaIOManager)
    assert io_manager.table_name(["silver", "activities"]) == "`uc_athlete_data`.`silver`.`activities`"
    with pytest.raises(ValueError, match="no prefix"):
        io_manager.table_parts(["activities"])

    config = step_launcher_config(settings)
    assert config["databricks_host"] == {"env": "DATABRICKS_HOST"}  # references, resolved at run time
    assert config["databricks_token"] == {"env": "DATABRICKS_TOKEN"}
    assert {s["name"] for s in config["secrets_to_env_variables"]} == {
        "DATABRICKS_HOST", "DATABRICKS_TOKEN", "STRAVA_CLIENT_ID", "STRAVA_CLIENT_SECRET", "STRAVA_REFRESH_TOKEN"}
    assert config["env_variables"]["ATHLETE_PLATFORM_ENV"] == "databricks"
    # the remote step re-imports the definitions: same source and first partition there
    assert config["env_variables"]["ATHLETE_PLATFORM_PARTITIONS_START"] == settings.partitions_start.isoformat()
    assert config["env_variables"]["ATHLETE_PLATFORM_SOURCE"] == "strava_api"
    assert config["run_config"]["cluster"]["new"]["size"] == {"num_workers": 0}  # single node
    assert config["cluster_scope"] == "run"  # by default the steps of a run share one new cluster
    assert config["env_variables"]["ATHLETE_PLATFORM_HOME"] == "/Volumes/uc_athlete_data/monitoring/files"  # report PNGs

    monkeypatch.setenv("DATABRICKS_INSTANCE_POOL_ID", "pool-1")
    monkeypatch.setenv("DATABRICKS_CLUSTER_SCOPE", "step")
    config = step_launcher_config(settings)
    assert config["cluster_scope"] == "step"
    assert config["run_config"]["cluster"]["new"]["nodes"] == {"instance_pool_id": "pool-1", "driver_instance_pool_id": "pool-1"}
    spec = clusters_api_spec(config["run_config"]["cluster"]["new"], name="run x", autotermination_minutes=15,
                             tags={"dagster_run_id": "x"})
    assert spec["instance_pool_id"] == spec["driver_instance_pool_id"] == "pool-1" and "node_type_id" not in spec
    assert spec["num_workers"] == 0 and spec["autotermination_minutes"] == 15
    assert spec["data_security_mode"] == "DATA_SECURITY_MODE_AUTO" and spec["kind"] == "CLASSIC_PREVIEW"
    assert spec["custom_tags"] == {"project": "athlete-platform", "ResourceClass": "SingleNode", "dagster_run_id": "x"}
    monkeypatch.setenv("DATABRICKS_CLUSTER_SCOPE", "job")
    with pytest.raises(ValueError, match="DATABRICKS_CLUSTER_SCOPE"):
        step_launcher_config(settings)
    monkeypatch.delenv("DATABRICKS_CLUSTER_SCOPE")
    monkeypatch.setenv("DATABRICKS_AUTOTERMINATION_MINUTES", "5")
    with pytest.raises(ValueError, match="10..43200"):
        step_launcher_config(settings)
    monkeypatch.delenv("DATABRICKS_AUTOTERMINATION_MINUTES")

    monkeypatch.setenv("DATABRICKS_CLUSTER_ID", "0123-456789-abcdefgh")
    monkeypatch.setenv("DATABRICKS_CATALOG", "uc_athlete_dev")
    config = step_launcher_config(settings)
    assert config["run_config"]["cluster"] == {"existing": "0123-456789-abcdefgh"}
    assert config["env_variables"]["DATABRICKS_CLUSTER_ID"] == "0123-456789-abcdefgh"  # the remote step agrees
    assert databricks_resources(settings)["io_manager"].catalog == "uc_athlete_dev"


@pytest.fixture()
def emulator(tmp_path, monkeypatch):
    with DatabricksEmulator(tmp_path / "databricks") as emulator:
        emulator.secrets[SCOPE] = {"databricks-host": emulator.url, "databricks-token": emulator.token}
        monkeypatch.setenv("DATABRICKS_HOST", emulator.url)
        monkeypatch.setenv("DATABRICKS_TOKEN", emulator.token)
        monkeypatch.setenv(databricks_job.DELTA_ROOT_VAR, str(tmp_path / "delta"))
        for name in (*KNOB_VARS, "ATHLETE_PLATFORM_SOURCE"):
            monkeypatch.delenv(name, raising=False)  # defaults: a new cluster per run, scope "athlete-platform"
        yield emulator
        emulator.wait_for_runs()
    assert emulator.unknown_calls == [], f"the launcher called endpoints the emulator lacks: {emulator.unknown_calls}"
    assert emulator.server_errors == []


def run_job(job_fn, **kwargs):
    instance = DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = execute_job(reconstructable(job_fn), instance=instance, **kwargs)
    return instance, result, time.perf_counter() - started


def events_of(result, step_key, event_type):
    return [event for event in result.all_events if event.step_key == step_key and event.event_type == event_type]


@pytest.mark.integration
@pytest.mark.spark
def test_bronze_and_silver_day_through_the_databricks_step_launcher(emulator, tmp_path):
    instance, result, run_seconds = run_job(databricks_job.silver_day_job, tags={"dagster/partition": databricks_job.DAY})
    assert result.success

    # One Databricks run per step (both assets declare pyspark_step_launcher): bronze, then silver, on the one
    # cluster the Dagster run created (default cluster scope "run") and terminated at its end.
    assert len(emulator.runs) == 2
    bronze_run, run = emulator.runs.values()
    assert bronze_run.result_state == run.result_state == "SUCCESS"
    (cluster,) = emulator.clusters.values()
    assert [start.kind for start in emulator.cluster_starts] == ["created"]
    assert bronze_run.cluster_id == run.cluster_id == cluster.cluster_id and cluster.state == "TERMINATED"
    assert cluster.spec["spark_conf"]["spark.sql.session.timeZone"] == "UTC"  # a single-node cluster
    assert cluster.spec["custom_tags"]["dagster_run_id"] == result.run_id
    task = run.task
    assert task["spark_python_task"]["python_file"].endswith("/databricks_step_main.py")
    assert all(p.startswith("/dbfs/") for p in task["spark_python_task"]["parameters"])
    packages = {lib["pypi"]["package"].split("=")[0].split("<")[0].split(">")[0] for lib in run.libraries if "pypi" in lib}
    assert {"dagster", "dagster-databricks", "dagster-pyspark", "databricks-sdk", "deltalake", "mlflow"} <= packages
    assert "pyspark" not in packages  # the cluster brings its own Spark

    # Endpoints the real launcher used (databricks-sdk 0.60 paths).
    called = emulator.endpoints_called()
    for endpoint in ["POST /api/2.1/clusters/create", "GET /api/2.1/clusters/get", "POST /api/2.1/clusters/delete",
                     "POST /api/2.0/dbfs/create", "POST /api/2.0/dbfs/add-block", "POST /api/2.0/dbfs/close",
                     "POST /api/2.2/jobs/runs/submit", "GET /api/2.2/jobs/runs/get", "GET /api/2.0/dbfs/read"]:
        assert endpoint in called

    # The Delta tables written by the remote step, with the day's rows.
    delta = tmp_path / "delta"
    activities = DeltaTable(str(delta / "silver" / "activities")).to_pandas().sort_values("activity_id")
    assert activities["activity_id"].tolist() == [201, 202]
    assert activities.set_index("activity_id").loc[202, "name"] == "Renamed after upload"
    assert DeltaTable(str(delta / "silver" / "quarantine")).to_pandas()["activity_id"].tolist() == [203]
    assert len(DeltaTable(str(delta.joinpath(*RAW_ACTIVITIES.path))).to_pandas()) == 4

    # Events that came back from the remote step: emitted by the emulated driver's process, replayed locally.
    remote = [event for event in result.all_events if event.pid == run.pid]
    remote_types = {event.event_type for event in remote}
    assert {DagsterEventType.STEP_START, DagsterEventType.LOADED_INPUT, DagsterEventType.ASSET_MATERIALIZATION,
            DagsterEventType.ASSET_CHECK_EVALUATION, DagsterEventType.STEP_SUCCESS} <= remote_types
    materialized = {event.asset_key.to_user_string(): event for event in remote if event.is_step_materialization}
    assert set(materialized) == {"silver/activities", "silver/activity_hr_profiles", "silver/quarantine"}
    silver = materialized["silver/activities"].step_materialization_data.materialization
    assert silver.partition == databricks_job.DAY
    assert silver.metadata["accepted"].value == 2 and silver.metadata["dagster/row_count"].value == 2
    checks = {e.event_specific_data.check_name: e.event_specific_data.passed
              for e in remote if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION}
    assert checks == {"unique_activity_id": True, "positive_duration_and_distance": True,
                      "plausible_pace_and_hr": True, "rows_in_own_partition": True, "every_record_accounted_for": True,
                      "quarantine_rate": False}
    bronze = events_of(result, "ingest__raw_activities", DagsterEventType.ASSET_MATERIALIZATION)
    assert [event.pid for event in bronze] == [bronze_run.pid]  # bronze's own remote step
    assert bronze[0].step_materialization_data.materialization.metadata["records"].value == 4
    # The materializations are in the local instance's event log too (the launcher hands them over).
    assert instance.get_latest_materialization_event(materialized["silver/activities"].asset_key) is not None

    # Logs: the launcher's own, and the remote driver's stdout shipped back through DBFS.
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("Waiting for Databricks run" in message for message in messages)
    assert any("Running dagster job" in message for message in messages)  # printed by the remote main script

    # The token reached the remote step only through the secret scope: not in anything staged or logged.
    staged = [path for path in emulator.dbfs_root.rglob("*") if path.is_file() and path.suffix != ".zip"]
    assert staged and not any(emulator.token.encode() in path.read_bytes() for path in staged)
    assert not any(emulator.token in message for message in messages)

    lines = [f"\n[databricks emulator] endpoints: {', '.join(called)}",
             f"[databricks emulator] remote events: {sorted(t.value for t in remote_types)}"]
    for step_key, emulated in [("ingest__raw_activities", bronze_run), ("silver_activities", run)]:
        step = events_of(result, step_key, DagsterEventType.STEP_SUCCESS)[0]
        lines.append(
            f"[databricks emulator] remote step {step_key}: submit→terminated {emulated.wall_seconds:.1f}s "
            f"(driver process {emulated.execution_seconds:.1f}s, Dagster step {step.event_specific_data.duration_ms / 1000:.1f}s)"
        )
    lines.append(f"[databricks emulator] whole run (2 remote steps, launched one after the other) {run_seconds:.1f}s")
    print("\n".join(lines))


@pytest.mark.integration
@pytest.mark.spark
def test_an_exception_in_the_remote_step_fails_the_step_with_the_remote_error(emulator, monkeypatch):
    monkeypatch.setenv("DATABRICKS_CLUSTER_SCOPE", "step")  # dagster-databricks' own way: a job cluster per step
    _, result, _ = run_job(databricks_job.remote_failure_job)
    assert not result.success
    run = next(iter(emulator.runs.values()))
    assert run.new_cluster["spark_conf"]["spark.sql.session.timeZone"] == "UTC" and emulator.clusters == {}
    assert [start.kind for start in emulator.cluster_starts] == ["job cluster"]
    failures = events_of(result, "test__remote_failure", DagsterEventType.STEP_FAILURE)
    assert len(failures) == 1
    failure = failures[0]
    assert failure.pid == run.pid  # raised and reported by the remote process
    error = failure.step_failure_data.error
    text = error.message + "".join(error.stack) + (error.cause.message if error.cause else "")
    assert databricks_job.REMOTE_ERROR_TEXT in text
    assert "RuntimeError" in text


@pytest.mark.integration
@pytest.mark.spark
def test_a_crashed_databricks_run_fails_the_step_with_the_run_state_message(emulator):
    # The driver dies before Dagster starts: the scope lacks the token secret the launcher exports.
    del emulator.secrets[SCOPE]["databricks-token"]
    _, result, _ = run_job(databricks_job.remote_failure_job)
    assert not result.success
    run = next(iter(emulator.runs.values()))
    assert run.result_state == "FAILED"
    failure = events_of(result, "test__remote_failure", DagsterEventType.STEP_FAILURE)[0]
    assert failure.pid != run.pid  # the launcher (local) reports it from runs/get
    message = failure.step_failure_data.error.message
    assert "FAILED" in message
    assert f"Secret does not exist with scope: {SCOPE} and key: databricks-token" in message


@pytest.mark.integration
def test_a_driver_dying_inside_an_mlflow_run_leaves_no_run_running(emulator, monkeypatch):
    # The remote step opens an MLflow run and its process dies: the failure hook, on the Dagster side, ends it.
    monkeypatch.setenv("DATABRICKS_CLUSTER_SCOPE", "step")  # no Spark needed: a job cluster starts none
    _, result, _ = run_job(databricks_job.remote_crash_job)
    assert not result.success
    run = next(iter(emulator.runs.values()))
    assert run.result_state == "FAILED" and run.returncode == 3
    client = databricks_job.mlflow_resource(os.environ[databricks_job.DELTA_ROOT_VAR]).client()
    (experiment,) = [e for e in client.search_experiments() if e.name == "emulator/crash"]
    (mlflow_run,) = client.search_runs([experiment.experiment_id])
    assert mlflow_run.data.tags["dagster_run_id"] == result.run_id  # opened on the "cluster" for this run
    assert mlflow_run.info.status == "FAILED"  # ended by fail_unfinished_mlflow_runs, not left RUNNING
    hooks = [e for e in result.all_events if e.event_type == DagsterEventType.HOOK_COMPLETED]
    assert any("fail_unfinished_mlflow_runs" in e.message for e in hooks)


def test_every_asset_declares_the_step_launcher_and_databricks_runs_in_process():
    from athlete_platform.definitions import defs
    from athlete_platform.resources.environments import executor_for

    for assets_def in defs.assets:
        assert "pyspark_step_launcher" in assets_def.required_resource_keys, assets_def.keys
    assert executor_for(load_settings({"ATHLETE_PLATFORM_ENV": "databricks"})).name == "in_process"
    assert executor_for(load_settings({"ATHLETE_PLATFORM_ENV": "local"})) is None  # Dagster's default locally
