"""The Databricks step launcher with a cluster per Dagster run (imported only in the databricks environment).

dagster-databricks' ``databricks_pyspark_step_launcher`` submits every step as a one-time run on the cluster
its config names: an existing cluster, or a new job cluster *per step*. A daily run of ~15 steps would then
start ~15 clusters (minutes each). ``shared_cluster_step_launcher`` keeps that launcher — same config, same
upload, submit, poll and event replay — and adds ``cluster_scope``:

* ``"run"`` (with a ``new`` cluster spec): the run's first remote step creates one cluster from that spec
  (Clusters API ``clusters/create``, tagged with the Dagster run id, ``autotermination_minutes`` as a
  backstop), waits until it is RUNNING, and every step of the run is submitted to it as an existing
  cluster; the resource's teardown terminates it when the run ends — success, failure or cancellation.
  A run of a single step gets a job cluster instead: one start either way, and a job cluster bills at the
  Jobs Compute rate, a created (all-purpose) cluster at the All-Purpose rate.
* ``"step"``: the plain launcher (a new job cluster per step, or the existing cluster of the spec).

One cluster per run needs one launcher per run: Dagster initializes resources once per run with the
in-process executor (``environments.executor_for``), once per step process with the multiprocess one — with
which this degrades to one cluster per step, still always terminated.

The remote step re-initializes this resource on the cluster (it is one of the step's resources): only
``launch_step`` creates clusters, and only the process that created a cluster terminates it.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from dagster import Enum, EnumValue, Field, InitResourceContext, resource
from dagster._core.execution.plan.external_step import PICKLED_STEP_RUN_REF_FILE_NAME
from dagster_databricks import databricks_pyspark_step_launcher
from dagster_databricks.databricks_pyspark_step_launcher import (
    CODE_ZIP_NAME,
    PICKLED_CONFIG_FILE_NAME,
    DatabricksPySparkStepLauncher,
)
from dagster_pyspark.utils import DEFAULT_EXCLUDE

RUN_TAG = "dagster_run_id"
#: Access modes the Clusters API accepts only with ``kind = CLASSIC_PREVIEW`` (its ``DataSecurityMode`` docs).
SIMPLE_FORM_MODES = frozenset({"DATA_SECURITY_MODE_AUTO", "DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_STANDARD"})
CLUSTER_START_TIMEOUT = timedelta(minutes=30)
#: Folders at the root of the checkout that are neither zipped nor walked (the virtualenv alone is GBs:
#: dagster_pyspark's walk through it cost ~9 s per step on a dev machine).
PRUNED_ROOT_FOLDERS = frozenset({".venv", "venv", ".git", ".athlete_platform", ".mypy_cache", ".ruff_cache",
                                 ".pytest_cache", "build", "dist"})


def build_code_zip(root: str) -> bytes:
    """The code zip of dagster_pyspark's ``build_pyspark_zip`` (its ``DEFAULT_EXCLUDE`` patterns apply), without
    descending into the root's virtualenv, git data or local platform data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, subfolders, files in os.walk(root):
            if os.path.samefile(folder, root):
                subfolders[:] = [name for name in subfolders
                                 if name not in PRUNED_ROOT_FOLDERS and not name.endswith(".egg-info")]
            subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
            for name in sorted(files):
                path = os.path.join(folder, name)
                if not any(re.search(pattern, path) for pattern in DEFAULT_EXCLUDE):
                    archive.write(path, os.path.relpath(path, root))
    return buffer.getvalue()


def clusters_api_spec(new_cluster: Mapping[str, Any], *, name: str, autotermination_minutes: int,
                      tags: Mapping[str, str]) -> dict[str, Any]:
    """The Clusters API ``create`` body for the launcher's ``run_config.cluster.new`` spec (dagster-databricks'
    nested ``size``/``nodes`` shape, translated as its ``DatabricksJobRunner.submit_run`` does for a job
    cluster), named, tagged and with auto-termination."""
    spec = {key: value for key, value in new_cluster.items() if key not in ("size", "nodes")}
    nodes = new_cluster["nodes"]
    if "instance_pool_id" in nodes:
        spec["instance_pool_id"] = nodes["instance_pool_id"]
        if "driver_instance_pool_id" in nodes:
            spec["driver_instance_pool_id"] = nodes["driver_instance_pool_id"]
    else:
        spec["node_type_id"] = nodes["node_types"]["node_type_id"]
        if "driver_node_type_id" in nodes["node_types"]:
            spec["driver_node_type_id"] = nodes["node_types"]["driver_node_type_id"]
    size = new_cluster["size"]
    if "num_workers" in size:
        spec["num_workers"] = size["num_workers"]
    else:
        spec["autoscale"] = size["autoscale"]
    custom_tags = spec.get("custom_tags") or {}
    if isinstance(custom_tags, list):
        custom_tags = {tag["key"]: tag["value"] for tag in custom_tags}
    spec["custom_tags"] = {**custom_tags, **tags}
    if spec.get("data_security_mode") in SIMPLE_FORM_MODES:
        spec["kind"] = "CLASSIC_PREVIEW"
    spec["cluster_name"] = name
    spec["autotermination_minutes"] = autotermination_minutes
    return spec


class SharedClusterStepLauncher(DatabricksPySparkStepLauncher):
    """``DatabricksPySparkStepLauncher`` whose steps share one cluster per Dagster run (``cluster_scope="run"``)."""

    def __init__(self, *, cluster_scope: str, autotermination_minutes: int, **launcher_config: Any):
        super().__init__(**launcher_config)
        self.cluster_scope = cluster_scope
        self.autotermination_minutes = autotermination_minutes
        self.new_cluster = self.run_config["cluster"].get("new")
        self.created_clusters: dict[str, str] = {}  # Dagster run id -> cluster id created by this process
        self.code_zips: dict[str, bytes] = {}  # Dagster run id -> the code zip every step of the run gets
        self._lock = threading.Lock()

    @property
    def shares_a_cluster_per_run(self) -> bool:
        return self.cluster_scope == "run" and self.new_cluster is not None

    def launch_step(self, step_context) -> Iterator[Any]:
        if self.shares_a_cluster_per_run and len(step_context.execution_plan.step_keys_to_execute) > 1:
            cluster_id = self.run_cluster(step_context)
            # submit_run reads self.run_config: the steps of this run go to the run's cluster.
            self.run_config = {**self.run_config, "cluster": {"existing": cluster_id}}
        yield from super().launch_step(step_context)

    def _upload_artifacts(self, log, step_run_ref, run_id: str, step_key: str) -> None:
        """The files dagster-databricks stages for a step (main script, code zip, pickled step, remote config),
        except that the code zip is built once per Dagster run: its steps run the same code even if the
        checkout changes meanwhile, and the checkout is zipped once, not per step."""
        client = self.databricks_runner.client
        if run_id not in self.code_zips:
            self.code_zips[run_id] = build_code_zip(self.local_dagster_job_package_path)
        with open(self._main_file_local_path(), "rb") as main:
            client.put_file(main, self._dbfs_path(run_id, step_key, self._main_file_name()), overwrite=True)
        for name, payload in (
            (CODE_ZIP_NAME, self.code_zips[run_id]),
            (PICKLED_STEP_RUN_REF_FILE_NAME, pickle.dumps(step_run_ref)),
            (PICKLED_CONFIG_FILE_NAME, pickle.dumps(self.create_remote_config())),
        ):
            client.put_file(io.BytesIO(payload), self._dbfs_path(run_id, step_key, name), overwrite=True)
        log.info(f"Staged {step_key}'s main file, code zip ({len(self.code_zips[run_id]) // 1024} KB), step and "
                 "configuration on DBFS")

    def run_cluster(self, step_context) -> str:
        """The run's cluster: created (and waited for) by the first step, reused by the others."""
        run_id = step_context.dagster_run.run_id
        with self._lock:
            if run_id in self.created_clusters:
                return self.created_clusters[run_id]
            workspace = self.databricks_runner.client.workspace_client
            spec = clusters_api_spec(
                self.new_cluster,
                name=f"athlete-platform run {run_id}",
                autotermination_minutes=self.autotermination_minutes,
                tags={RUN_TAG: run_id, "dagster_job": step_context.dagster_run.job_name},
            )
            # The raw REST body: the launcher's spec is already in the API's JSON shape.
            cluster_id = workspace.api_client.do("POST", "/api/2.1/clusters/create", body=spec)["cluster_id"]
            self.created_clusters[run_id] = cluster_id  # registered before waiting: teardown terminates it
            step_context.log.info(
                f"Created cluster {cluster_id} for the steps of run {run_id} (terminated when the run ends; "
                f"auto-termination after {self.autotermination_minutes} idle minutes as a backstop)"
            )
            workspace.clusters.wait_get_cluster_running(cluster_id, timeout=CLUSTER_START_TIMEOUT)
            step_context.log.info(f"Cluster {cluster_id} is running")
            return cluster_id

    def terminate_clusters(self, log) -> None:
        """Terminate every cluster this process created (the resource's teardown: runs even when the run failed)."""
        workspace = self.databricks_runner.client.workspace_client
        for run_id, cluster_id in list(self.created_clusters.items()):
            workspace.clusters.delete(cluster_id)  # "delete" terminates; the cluster stays listed, stopped
            del self.created_clusters[run_id]
            self.code_zips.pop(run_id, None)
            log.info(f"Terminated cluster {cluster_id} of run {run_id}")


def _launcher_config_fields() -> dict[str, Field]:
    """dagster-databricks' own config fields, so this resource accepts exactly its config plus ours."""
    return dict(databricks_pyspark_step_launcher.config_schema.config_type.fields)


@resource(
    config_schema={
        **_launcher_config_fields(),
        "cluster_scope": Field(
            Enum("ClusterScope", [EnumValue("run"), EnumValue("step")]),
            default_value="run",
            description="run: one cluster per Dagster run from run_config.cluster.new, always terminated at the "
            "end of the run; step: as dagster-databricks (a new job cluster per step, or the existing cluster).",
        ),
        "autotermination_minutes": Field(
            int, default_value=15,
            description="Auto-termination of the run's cluster after this many idle minutes (a backstop if the "
            "Dagster run worker dies before its teardown).",
        ),
    },
    description="databricks_pyspark_step_launcher whose steps share one cluster per run (cluster_scope=run).",
)
def shared_cluster_step_launcher(context: InitResourceContext):
    config = dict(context.resource_config)
    launcher = SharedClusterStepLauncher(
        cluster_scope=config.pop("cluster_scope"),
        autotermination_minutes=config.pop("autotermination_minutes"),
        **config,
    )
    try:
        yield launcher
    finally:
        launcher.terminate_clusters(context.log)
