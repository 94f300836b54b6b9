"""A local emulator of the Databricks REST API, enough for the real dagster-databricks step launcher.

It answers what databricks-sdk sends (token auth, JSON bodies, Databricks error shapes) on 127.0.0.1 with an
ephemeral port, in a threaded ``http.server``:

* DBFS 2.0: ``create`` / ``add-block`` / ``close`` (streamed upload), ``put``, ``read`` (a missing file is
  ``404 RESOURCE_DOES_NOT_EXIST``, as the launcher relies on while the remote step has not written its
  events yet), ``get-status``, ``list``, ``mkdirs``, ``delete``;
* Jobs 2.1/2.2: ``runs/submit``, ``runs/get`` (``PENDING`` → ``RUNNING`` → ``TERMINATED`` with
  ``SUCCESS``/``FAILED``/``CANCELED``, ``state_message``, ``run_page_url``,
  ``tasks[0].cluster_instance.cluster_id``), ``runs/cancel``;
* Clusters 2.0/2.1: ``clusters/create`` (``PENDING`` until the cluster's Spark driver is up, then
  ``RUNNING``), ``clusters/get``, ``clusters/delete`` (terminate: ``TERMINATED``, its running tasks and its
  driver killed, as on Databricks); a run submitted to a terminated cluster starts it again. Ids the
  emulator did not create (``existing_cluster_id`` of a configured all-purpose cluster) answer ``RUNNING``;
* ``libraries/cluster-status`` and ``permissions`` updates, in case a configuration makes the launcher call them.

Accounting for cost reports: ``runs`` (every submitted run, its cluster), ``cluster_starts`` (a new job
cluster per submitted run, a created cluster, or a restart), ``calls`` in order; ``mark()`` and the
``since=`` arguments slice them per Dagster run.

Anything else is answered ``404 ENDPOINT_NOT_FOUND`` and reported loudly on stderr and in
``unknown_calls``, so a gap shows up instead of passing silently.

A created cluster is like an all-purpose one: one Spark driver JVM (``databricks_cluster_driver.py``, with
the SparkContext) for its lifetime, which the runs submitted to it share — each run is its own Python
process attached to that JVM, so a run pays no Spark start and Python workers are reused, as on Databricks.
A new job cluster (``new_cluster`` of a run) is that run's alone: its process starts its own Spark.

DBFS (``/x``, ``dbfs:/x``, ``/dbfs/x``) lives under ``<root>/dbfs``. A submitted ``spark_python_task`` runs
as a local subprocess of the venv's Python through ``databricks_task_runner.py``, which plays the Databricks
driver: it defines ``dbutils`` (fs, secrets, library) and ``sc``/``spark`` (lazy, a local Spark session
configured from the "cluster" spec) and executes the task's file as ``__main__``, with every ``/dbfs/`` or
``dbfs:/`` parameter rewritten to the local folder.

Like a Databricks cluster, the emulated one has the libraries but not the project: the driver and its
Spark Python workers run ``python -S`` with the venv's site-packages on ``PYTHONPATH``, so ``.pth`` files
(the editable install of athlete_platform) are not processed. The driver imports the project from the
launcher's code zip; workers only see what the step ships to them (``sc.addPyFile``). The subprocess also
gets a clean environment: only basics (PATH, HOME, JAVA_HOME, ...), the cluster's ``spark_env_vars``, and
``DATABRICKS_EMULATOR_DBFS_ROOT`` (where ``/dbfs`` maps), so nothing from the test process leaks in — what
the remote step needs must come through the launcher (env_variables, secret scope), as on Databricks.
A non-zero exit becomes ``result_state=FAILED`` with the end of the driver's stderr as ``state_message``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

RUNNER = Path(__file__).with_name("databricks_task_runner.py")
CLUSTER_DRIVER = Path(__file__).with_name("databricks_cluster_driver.py")
GATEWAY_FILE_VAR = "DATABRICKS_EMULATOR_GATEWAY_FILE"
CLUSTER_START_TIMEOUT = 180.0  # seconds for the driver JVM of a created cluster to come up
DBFS_ROOT_VAR = "DATABRICKS_EMULATOR_DBFS_ROOT"
SECRETS_FILE_VAR = "DATABRICKS_EMULATOR_SECRETS_FILE"
MAX_BLOCK = 1024 * 1024  # DBFS add-block / read limit (1 MB)
PASSED_THROUGH_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "SPARK_LOCAL_IP")

# The emulated "cluster": a small local Spark; the cluster spec's spark_conf is layered on top, except the
# master (the emulator decides its capacity).
EMULATED_SPARK_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.driver.memory": "1g",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
}


class ApiError(Exception):
    def __init__(self, status: int, error_code: str, message: str):
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


@dataclass
class EmulatedCluster:
    cluster_id: str
    spec: dict[str, Any]
    state: str = "PENDING"
    state_message: str = ""
    created_at: float = field(default_factory=time.time)
    terminated_at: float | None = None
    directory: Path | None = None
    driver: subprocess.Popen | None = None  # the Spark driver JVM's holder process

    @property
    def conf_dir(self) -> Path:
        return self.directory / "conf"

    @property
    def gateway_file(self) -> Path:
        return self.directory / "gateway.json"


@dataclass
class ClusterStart:
    cluster_id: str
    kind: str  # "job cluster" (new_cluster of a run), "created" (clusters/create), "restart"
    at: float = field(default_factory=time.time)


@dataclass
class EmulatedRun:
    run_id: int
    run_name: str | None
    task: dict[str, Any]
    cluster_id: str
    new_cluster: dict[str, Any] | None
    libraries: list[dict[str, Any]]
    submitted_at: float = field(default_factory=time.time)
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None
    returncode: int | None = None
    cancel_requested: bool = False
    process: subprocess.Popen | None = None
    run_dir: Path | None = None

    @property
    def wall_seconds(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.submitted_at

    @property
    def execution_seconds(self) -> float | None:
        return None if self.ended_at is None or self.started_at is None else self.ended_at - self.started_at


class DatabricksEmulator:
    """Start with ``with DatabricksEmulator(tmp_path, secrets=...) as emulator:``; ``emulator.url`` is the host."""

    def __init__(self, root: Path, *, token: str = "emulator-token", secrets: dict[str, dict[str, str]] | None = None,
                 python: str = sys.executable, master: str = "local[2]", pending_seconds: float = 0.3):
        self.root = Path(root)
        self.dbfs_root = self.root / "dbfs"
        self.dbfs_root.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.secrets = secrets or {}
        self.python = python
        self.master = master
        self.pending_seconds = pending_seconds
        # The cluster's Python: the venv's interpreter and libraries, without site processing (no .pth files,
        # hence no editable install of the project); also used for Spark's Python workers.
        self.site_packages = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        self.cluster_python = self.root / "cluster-python"
        self.cluster_python.write_text(f'#!/bin/sh\nexec "{python}" -S "$@"\n')
        self.cluster_python.chmod(0o755)
        self.calls: list[tuple[str, str]] = []
        self.unknown_calls: list[tuple[str, str]] = []
        self.server_errors: list[str] = []
        self.runs: dict[int, EmulatedRun] = {}
        self.clusters: dict[str, EmulatedCluster] = {}
        self.cluster_starts: list[ClusterStart] = []
        self._handles: dict[int, tuple[Path, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "DatabricksEmulator":
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                emulator._handle(self, "GET")

            def do_POST(self):
                emulator._handle(self, "POST")

            def do_PATCH(self):
                emulator._handle(self, "PATCH")

            def do_PUT(self):
                emulator._handle(self, "PUT")

            def log_message(self, format, *args):  # noqa: A002 - http.server's signature
                pass  # calls are recorded in emulator.calls

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="databricks-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for run in list(self.runs.values()):
            if run.process is not None and run.process.poll() is None:
                run.process.kill()
                run.process.wait()
        for cluster in list(self.clusters.values()):
            self._stop_cluster_driver(cluster)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "DatabricksEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def mark(self) -> dict[str, int]:
        """Positions in the records now, for ``since=``: what happened after this point."""
        with self._lock:
            return {"calls": len(self.calls), "runs": len(self.runs), "starts": len(self.cluster_starts)}

    def endpoints_called(self, since: dict[str, int] | None = None) -> list[str]:
        """Distinct ``METHOD path`` in first-call order."""
        calls = self.calls[(since or {}).get("calls", 0):]
        return list(dict.fromkeys(f"{method} {path}" for method, path in calls))

    def runs_since(self, since: dict[str, int] | None = None) -> list[EmulatedRun]:
        return list(self.runs.values())[(since or {}).get("runs", 0):]

    def starts_since(self, since: dict[str, int] | None = None) -> list[ClusterStart]:
        return self.cluster_starts[(since or {}).get("starts", 0):]

    def wait_for_runs(self, timeout: float = 60.0) -> None:
        """Wait until every run has terminated (the launcher may return before a cancelled run ends)."""
        deadline = time.time() + timeout
        while any(run.life_cycle_state not in ("TERMINATED", "INTERNAL_ERROR") for run in self.runs.values()):
            if time.time() > deadline:
                raise TimeoutError("emulated runs did not terminate")
            time.sleep(0.1)

    # -- paths -----------------------------------------------------------------------------------
    def local_path(self, path: str) -> Path:
        """``/x``, ``dbfs:/x``, ``dbfs:///x`` or ``/dbfs/x`` → ``<root>/dbfs/x`` (never outside it)."""
        if path.startswith("dbfs:"):
            path = path[len("dbfs:"):]
        elif path == "/dbfs" or path.startswith("/dbfs/"):
            path = path[len("/dbfs"):]
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"path {path!r} may not contain '..'")
        return self.dbfs_root.joinpath(*parts)

    def rewrite_parameter(self, value: str) -> str:
        if value.startswith(("dbfs:/", "/dbfs/")):
            return str(self.local_path(value))
        return value

    # -- HTTP plumbing ---------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(request.path)
        path = parsed.path.rstrip("/")
        with self._lock:
            self.calls.append((method, path))
        try:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                raise ApiError(401, "UNAUTHENTICATED", "missing or invalid bearer token")
            length = int(request.headers.get("Content-Length") or 0)
            raw = request.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
            route = self._route(method, path)
            if route is None:
                with self._lock:
                    self.unknown_calls.append((method, path))
                print(f"DATABRICKS EMULATOR: unknown endpoint {method} {path} (body keys {sorted(body)})", file=sys.stderr)
                raise ApiError(404, "ENDPOINT_NOT_FOUND", f"the Databricks emulator does not implement {method} {path}")
            status, payload = 200, route(body=body, query=query)
        except ApiError as error:
            status, payload = error.status, {"error_code": error.error_code, "message": error.message}
        except Exception as error:  # an emulator bug: answer 500 (the SDK does not retry it) and keep it visible
            with self._lock:
                self.server_errors.append(f"{method} {path}: {error!r}")
            print(f"DATABRICKS EMULATOR: internal error on {method} {path}: {error!r}", file=sys.stderr)
            status, payload = 500, {"error_code": "INTERNAL_ERROR", "message": repr(error)}
        data = json.dumps(payload if payload is not None else {}).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _route(self, method: str, path: str):
        for version in ("2.1", "2.2"):
            jobs = {
                ("POST", f"/api/{version}/jobs/runs/submit"): self.runs_submit,
                ("GET", f"/api/{version}/jobs/runs/get"): self.runs_get,
                ("POST", f"/api/{version}/jobs/runs/cancel"): self.runs_cancel,
            }
            if (method, path) in jobs:
                return jobs[(method, path)]
        routes = {
            ("POST", "/api/2.0/dbfs/create"): self.dbfs_create,
            ("POST", "/api/2.0/dbfs/add-block"): self.dbfs_add_block,
            ("POST", "/api/2.0/dbfs/close"): self.dbfs_close,
            ("POST", "/api/2.0/dbfs/put"): self.dbfs_put,
            ("GET", "/api/2.0/dbfs/read"): self.dbfs_read,
            ("GET", "/api/2.0/dbfs/get-status"): self.dbfs_get_status,
            ("GET", "/api/2.0/dbfs/list"): self.dbfs_list,
            ("POST", "/api/2.0/dbfs/mkdirs"): self.dbfs_mkdirs,
            ("POST", "/api/2.0/dbfs/delete"): self.dbfs_delete,
            ("GET", "/api/2.0/clusters/get"): self.clusters_get,
            ("GET", "/api/2.1/clusters/get"): self.clusters_get,
            ("POST", "/api/2.1/clusters/create"): self.clusters_create,
            ("POST", "/api/2.1/clusters/delete"): self.clusters_delete,
            ("GET", "/api/2.0/libraries/cluster-status"): self.libraries_status,
        }
        if (method, path) in routes:
            return routes[(method, path)]
        if method in ("PATCH", "PUT") and path.startswith("/api/2.0/permissions/"):
            return self.permissions_update
        return None

    # -- DBFS ------------------------------------------------------------------------------------
    def _require(self, body: dict, key: str) -> Any:
        if key not in body or body[key] in (None, ""):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"missing required field {key!r}")
        return body[key]

    def dbfs_create(self, body, query):
        target = self.local_path(self._require(body, "path"))
        if target.is_dir():
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"{body['path']} is a directory")
        if target.exists() and not body.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"A file or directory already exists at the input path {body['path']}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = next(self._ids)
        with self._lock:
            self._handles[handle] = (target, target.open("wb"))
        return {"handle": handle}

    def dbfs_add_block(self, body, query):
        handle = self._require(body, "handle")
        data = base64.b64decode(body.get("data", ""))
        if len(data) > MAX_BLOCK:
            raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED", "The block size exceeds 1 MB.")
        with self._lock:
            if handle not in self._handles:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"no open handle {handle}")
            self._handles[handle][1].write(data)
        return {}

    def dbfs_close(self, body, query):
        handle = self._require(body, "handle")
        with self._lock:
            if handle not in self._handles:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"no open handle {handle}")
            _, stream = self._handles.pop(handle)
        stream.close()
        return {}

    def dbfs_put(self, body, query):
        target = self.local_path(self._require(body, "path"))
        if target.exists() and not body.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"A file or directory already exists at the input path {body['path']}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(body.get("contents", "")))
        return {}

    def dbfs_read(self, body, query):
        source = self.local_path(self._require(query, "path"))
        if not source.exists():
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {query['path']}.")
        if source.is_dir():
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{query['path']} is a directory")
        offset, length = int(query.get("offset", 0)), int(query.get("length", 512 * 1024))
        if length > MAX_BLOCK:
            raise ApiError(400, "MAX_READ_SIZE_EXCEEDED", "Cannot read more than 1 MB at a time.")
        with source.open("rb") as stream:
            stream.seek(offset)
            chunk = stream.read(length)
        return {"bytes_read": len(chunk), "data": base64.b64encode(chunk).decode()}

    def _status(self, local: Path) -> dict[str, Any]:
        stat = local.stat()
        return {
            "path": "/" + local.relative_to(self.dbfs_root).as_posix(),
            "is_dir": local.is_dir(),
            "file_size": 0 if local.is_dir() else stat.st_size,
            "modification_time": int(stat.st_mtime * 1000),
        }

    def dbfs_get_status(self, body, query):
        local = self.local_path(self._require(query, "path"))
        if not local.exists():
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {query['path']}.")
        return self._status(local)

    def dbfs_list(self, body, query):
        local = self.local_path(self._require(query, "path"))
        if not local.exists():
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {query['path']}.")
        entries = sorted(local.iterdir()) if local.is_dir() else [local]
        return {"files": [self._status(entry) for entry in entries]}

    def dbfs_mkdirs(self, body, query):
        self.local_path(self._require(body, "path")).mkdir(parents=True, exist_ok=True)
        return {}

    def dbfs_delete(self, body, query):
        local = self.local_path(self._require(body, "path"))
        if local.is_dir():
            if any(local.iterdir()) and not body.get("recursive"):
                raise ApiError(400, "IO_ERROR", f"{body['path']} is a non-empty directory; use recursive")
            shutil.rmtree(local)
        elif local.exists():
            local.unlink()
        return {}

    # -- clusters, libraries, permissions --------------------------------------------------------
    def clusters_create(self, body, query):
        for key in ("spark_version", "cluster_name"):
            self._require(body, key)
        if not (body.get("node_type_id") or body.get("instance_pool_id")):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "node_type_id or instance_pool_id is required")
        if "num_workers" not in body and "autoscale" not in body:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "num_workers or autoscale is required")
        if str(body.get("data_security_mode", "")).startswith("DATA_SECURITY_MODE_") and body.get("kind") != "CLASSIC_PREVIEW":
            # As documented for the Clusters API: the simple-form access modes need kind = CLASSIC_PREVIEW.
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           f"data_security_mode {body['data_security_mode']} requires kind CLASSIC_PREVIEW")
        cluster = EmulatedCluster(cluster_id=f"0000-000000-run{next(self._ids):05d}", spec=body)
        cluster.directory = self.root / "clusters" / cluster.cluster_id
        cluster.conf_dir.mkdir(parents=True)
        (cluster.conf_dir / "spark-defaults.conf").write_text(
            "".join(f"{key} {value}\n" for key, value in self._spark_defaults(body.get("spark_conf")).items())
        )
        with self._lock:
            self.clusters[cluster.cluster_id] = cluster
            self.cluster_starts.append(ClusterStart(cluster.cluster_id, "created"))
        self._start_cluster(cluster)
        return {"cluster_id": cluster.cluster_id}

    def _start_cluster(self, cluster: EmulatedCluster) -> None:
        """Start the cluster's Spark driver in the background; RUNNING once it published its gateway."""
        cluster.gateway_file.unlink(missing_ok=True)
        env = self._base_environment((cluster.spec.get("spark_env_vars") or {}), cluster.conf_dir)
        with (cluster.directory / "driver.log").open("ab") as log:
            cluster.driver = subprocess.Popen(
                [str(self.cluster_python), str(CLUSTER_DRIVER), str(cluster.gateway_file)],
                cwd=cluster.directory, env=env, stdout=log, stderr=log, start_new_session=True,
            )
        threading.Thread(target=self._await_cluster, args=(cluster, cluster.driver), daemon=True).start()

    def _await_cluster(self, cluster: EmulatedCluster, driver: subprocess.Popen) -> None:
        deadline = time.time() + CLUSTER_START_TIMEOUT
        while not cluster.gateway_file.exists():
            if driver.poll() is not None or time.time() > deadline:
                tail = (cluster.directory / "driver.log").read_text(errors="replace").splitlines()[-10:]
                with self._lock:
                    if cluster.state == "PENDING":
                        cluster.state, cluster.state_message = "ERROR", "Spark driver failed to start: " + " | ".join(tail)
                return
            time.sleep(0.1)
        with self._lock:
            if cluster.state == "PENDING":
                cluster.state = "RUNNING"

    def _stop_cluster_driver(self, cluster: EmulatedCluster) -> None:
        driver = cluster.driver
        if driver is None or driver.poll() is not None:
            return
        os.killpg(driver.pid, signal.SIGTERM)  # the holder and the JVM it started
        try:
            driver.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()

    def clusters_get(self, body, query):
        cluster_id = self._require(query, "cluster_id")
        cluster = self.clusters.get(cluster_id)
        if cluster is None:  # a configured all-purpose cluster: up
            return {"cluster_id": cluster_id, "cluster_name": f"emulated-{cluster_id}", "state": "RUNNING",
                    "spark_version": "emulated", "num_workers": 0}
        payload = {key: value for key, value in cluster.spec.items()}
        payload.update({"cluster_id": cluster_id, "state": cluster.state,
                        "state_message": cluster.state_message or ("Starting Spark" if cluster.state == "PENDING" else "")})
        return payload

    def clusters_delete(self, body, query):
        cluster_id = self._require(body, "cluster_id")
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cluster_id} does not exist")
        with self._lock:
            cluster.state, cluster.terminated_at = "TERMINATED", time.time()
            running = [run for run in self.runs.values() if run.cluster_id == cluster_id and run.process is not None]
        for run in running:  # terminating a cluster ends what runs on it
            if run.process.poll() is None:
                run.process.kill()
        self._stop_cluster_driver(cluster)
        return {}

    def libraries_status(self, body, query):
        return {"cluster_id": self._require(query, "cluster_id"), "library_statuses": []}

    def permissions_update(self, body, query):
        return {"access_control_list": body.get("access_control_list", [])}

    # -- Jobs ------------------------------------------------------------------------------------
    def runs_submit(self, body, query):
        tasks = self._require(body, "tasks")
        if len(tasks) != 1:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "the emulator runs exactly one task per submitted run")
        task = tasks[0]
        python_task = task.get("spark_python_task")
        if not python_task or not python_task.get("python_file"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "the emulator only runs spark_python_task")
        new_cluster, existing = task.get("new_cluster"), task.get("existing_cluster_id")
        if bool(new_cluster) == bool(existing):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "exactly one of new_cluster and existing_cluster_id")
        if existing and existing in self.clusters:
            cluster = self.clusters[existing]
            with self._lock:
                restart = cluster.state == "TERMINATED"  # a job run on a terminated all-purpose cluster starts it
                if restart:
                    cluster.state, cluster.terminated_at = "PENDING", None
                    self.cluster_starts.append(ClusterStart(existing, "restart"))
            if restart:
                self._start_cluster(cluster)
        run_id = next(self._ids)
        run = EmulatedRun(
            run_id=run_id,
            run_name=body.get("run_name"),
            task=task,
            cluster_id=existing or f"0000-000000-job{run_id:05d}",
            new_cluster=new_cluster,
            libraries=task.get("libraries", []),
        )
        with self._lock:
            self.runs[run_id] = run
            if new_cluster:
                self.cluster_starts.append(ClusterStart(run.cluster_id, "job cluster"))
        threading.Thread(target=self._execute, args=(run,), name=f"emulated-run-{run_id}", daemon=True).start()
        return {"run_id": run_id}

    def _run_payload(self, run: EmulatedRun) -> dict[str, Any]:
        state = {"life_cycle_state": run.life_cycle_state, "state_message": run.state_message}
        if run.result_state is not None:
            state["result_state"] = run.result_state
        task = {"task_key": run.task.get("task_key", "task"), "run_id": run.run_id * 10, "state": state,
                "spark_python_task": run.task["spark_python_task"]}
        payload: dict[str, Any] = {
            "job_id": 1000 + run.run_id,
            "run_id": run.run_id,
            "run_name": run.run_name,
            "state": state,
            "run_page_url": f"{self.url}/#job/{1000 + run.run_id}/run/{run.run_id}",
            "start_time": int(run.submitted_at * 1000),
            "tasks": [task],
        }
        if run.life_cycle_state != "PENDING":  # a new job cluster has no id until it is up
            instance = {"cluster_id": run.cluster_id, "spark_context_id": str(run.run_id)}
            task["cluster_instance"] = instance
            payload["cluster_instance"] = instance
        if run.ended_at is not None:
            payload["end_time"] = int(run.ended_at * 1000)
        return payload

    def runs_get(self, body, query):
        run_id = int(self._require(query, "run_id"))
        if run_id not in self.runs:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {run_id} does not exist.")
        return self._run_payload(self.runs[run_id])

    def runs_cancel(self, body, query):
        run_id = int(self._require(body, "run_id"))
        if run_id not in self.runs:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {run_id} does not exist.")
        run = self.runs[run_id]
        run.cancel_requested = True
        if run.process is not None and run.process.poll() is None:
            run.process.terminate()
        return {}

    # -- running a task --------------------------------------------------------------------------
    def _spark_defaults(self, spark_conf: dict[str, Any] | None) -> dict[str, str]:
        conf = dict(EMULATED_SPARK_DEFAULTS)
        conf.update({key: str(value) for key, value in (spark_conf or {}).items()})
        conf["spark.master"] = self.master
        return conf

    def _base_environment(self, spark_env_vars: dict[str, Any], conf_dir: Path) -> dict[str, str]:
        """What a process of the "cluster" sees: basics, the cluster's spark_env_vars, its Spark conf dir and
        the cluster Python (libraries without the project)."""
        env = {name: os.environ[name] for name in PASSED_THROUGH_ENV if name in os.environ}
        env.update({key: str(value) for key, value in spark_env_vars.items()})
        local_disk = self.root / "local_disk"  # the "cluster's" own disk: temp files stay in the emulator's root
        local_disk.mkdir(exist_ok=True)
        env.update(
            {
                "TMPDIR": str(local_disk),
                "SPARK_CONF_DIR": str(conf_dir),
                "PYTHONPATH": self.site_packages,
                "PYSPARK_PYTHON": str(self.cluster_python),
                "PYSPARK_DRIVER_PYTHON": str(self.cluster_python),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _environment(self, run: EmulatedRun, conf_dir: Path, secrets_file: Path) -> dict[str, str]:
        cluster = self.clusters.get(run.cluster_id)
        spark_env_vars = (cluster.spec if cluster else (run.new_cluster or {})).get("spark_env_vars") or {}
        env = self._base_environment(spark_env_vars, cluster.conf_dir if cluster else conf_dir)
        env.update({DBFS_ROOT_VAR: str(self.dbfs_root), SECRETS_FILE_VAR: str(secrets_file)})
        if cluster is not None:  # attach to the cluster's driver JVM instead of starting Spark
            env[GATEWAY_FILE_VAR] = str(cluster.gateway_file)
        return env

    def _execute(self, run: EmulatedRun) -> None:
        run_dir = self.root / "runs" / str(run.run_id)
        conf_dir, driver_dir = run_dir / "conf", run_dir / "driver"
        conf_dir.mkdir(parents=True)
        driver_dir.mkdir()
        run.run_dir = run_dir
        (conf_dir / "spark-defaults.conf").write_text(
            "".join(f"{key} {value}\n" for key, value in self._spark_defaults((run.new_cluster or {}).get("spark_conf")).items())
        )
        secrets_file = run_dir / "secrets.json"
        secrets_file.touch(mode=0o600)
        secrets_file.write_text(json.dumps(self.secrets))

        python_task = run.task["spark_python_task"]
        command = [str(self.cluster_python), str(RUNNER), str(self.local_path(python_task["python_file"]))]
        command += [self.rewrite_parameter(str(value)) for value in python_task.get("parameters", [])]

        time.sleep(self.pending_seconds)  # "cluster starting" (a new job cluster) or scheduling
        cluster = self.clusters.get(run.cluster_id)
        while cluster is not None and cluster.state == "PENDING" and not run.cancel_requested:
            time.sleep(0.05)  # the run waits for its all-purpose cluster to be up
        if cluster is not None and cluster.state != "RUNNING":
            run.life_cycle_state, run.result_state, run.ended_at = "INTERNAL_ERROR", "FAILED", time.time()
            run.state_message = f"Cluster {cluster.cluster_id} is {cluster.state}: {cluster.state_message}"
            return
        if run.cancel_requested:
            run.life_cycle_state, run.result_state, run.ended_at = "TERMINATED", "CANCELED", time.time()
            return
        run.started_at = time.time()
        run.life_cycle_state = "RUNNING"
        with (run_dir / "stdout").open("wb") as stdout, (run_dir / "stderr").open("wb") as stderr:
            run.process = subprocess.Popen(
                command, cwd=driver_dir, env=self._environment(run, conf_dir, secrets_file), stdout=stdout, stderr=stderr
            )
            run.pid = run.process.pid
            run.returncode = run.process.wait()
        run.ended_at = time.time()
        if run.cancel_requested:
            run.result_state, run.state_message = "CANCELED", "Run cancelled."
        elif run.returncode == 0:
            run.result_state = "SUCCESS"
        else:
            run.result_state = "FAILED"
            run.state_message = self._failure_message(run_dir / "stderr", run.returncode)
        run.life_cycle_state = "TERMINATED"

    @staticmethod
    def _failure_message(stderr_path: Path, returncode: int) -> str:
        lines = [line for line in stderr_path.read_text(errors="replace").splitlines() if line.strip()]
        tail = "\n".join(lines[-15:])
        return f"spark_python_task exited with code {returncode}:\n{tail}"
