"""A local Spark Connect server that outlives runs.

Every process that runs Spark steps (a scheduled run, each step process of ``dagster dev``'s default
executor) otherwise starts a JVM of its own and warms it: Spark's start, the JIT and the first start of its Python
workers (about a fifth of the 1,000-athlete daily run, a quarter of the demo's daily run with a process per step:
``benchmarks/README.md``). A Spark Connect server (https://spark.apache.org/docs/latest/spark-connect-overview.html)
keeps one warm driver JVM and its Python worker daemon for every run::

    python -m athlete_platform.spark_server start      # prints the URL to export
    export ATHLETE_PLATFORM_SPARK_REMOTE=sc://127.0.0.1:15002
    dagster dev
    python -m athlete_platform.spark_server stop

The server runs the local session's configuration (:func:`athlete_platform.resources.spark.local_conf`) with
the JIT's quick tier only, as local sessions do: a day's run is too small for the optimizing compiler to pay back
its CPU even in a JVM that lives for many (measured: the server's CPU per daily run of 1,000 athletes 15.5–21.6 s
with it, 11.6–15.4 s without; its first run 28.9 → 24.2–26.4 s). It listens on the loopback interface only and
keeps its pid, log and state in ``$ATHLETE_PLATFORM_HOME/spark-connect/``. Its Python workers import this package once
and keep it: the server names the code it was started with (:func:`athlete_platform.resources.spark.code_version`)
and sessions refuse it once the code has changed — ``restart`` then. Like ``dagster dev``'s web server, it has
no authentication: any user of this machine can reach a loopback port.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from athlete_platform.resources.spark import (
    CODE_VERSION_CONF,
    LOCAL_IP,
    PACKAGE_DIR,
    code_version,
    jvm_options,
    local_conf,
    port_open,
    process_alive,
)

DEFAULT_PORT = 15002
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: How long ``start`` waits for the port to answer (a cold JVM on a 2-core laptop takes 10-20 s).
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ServerState:
    pid: int
    port: int
    code_version: str
    log: str

    @property
    def url(self) -> str:
        return f"sc://{LOCAL_IP}:{self.port}"


def state_dir_of_home(home: Path) -> Path:
    return home / "spark-connect"


def server_command(port: int, driver_memory: str = "2g", shuffle_partitions: int = 4,
                   version: str | None = None) -> list[str]:
    """``spark-submit`` of the Connect server with the local session's conf, bound to loopback on ``port``, naming
    ``version`` (default: :func:`code_version` now) as the code it runs."""
    import pyspark

    spark_home = Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)
    conf = local_conf(shuffle_partitions, driver_memory, console_progress=False, java_options=jvm_options())
    conf.update({
        "spark.connect.grpc.binding.address": LOCAL_IP,
        "spark.connect.grpc.binding.port": str(port),
        CODE_VERSION_CONF: version or code_version(),
    })
    command = [str(spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "athlete-platform Spark Connect",
               "--master", "local[*]", "--driver-memory", driver_memory]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return command


def read_state(state_dir: Path) -> ServerState | None:
    """The recorded server, if its process is alive (a stale record is removed)."""
    path = state_dir / "server.json"
    if not path.exists():
        return None
    state = ServerState(**json.loads(path.read_text()))
    if running(state.pid):
        return state
    path.unlink(missing_ok=True)
    return None


def start(state_dir: Path, port: int = DEFAULT_PORT, driver_memory: str = "2g",
          timeout_s: float = START_TIMEOUT_S) -> ServerState:
    """Start the server in its own session (it outlives this process) and wait until it answers; a server
    already recorded in ``state_dir`` is returned as it is (compare its ``code_version`` to restart it)."""
    recorded = read_state(state_dir)
    if recorded is not None:
        return recorded
    if port_open(LOCAL_IP, port, timeout_s=0.5):
        raise RuntimeError(f"port {port} is in use by another process: choose another with --port")
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "server.log"
    env = dict(os.environ)
    # The workers must run this interpreter and import this checkout of the package.
    env.update(PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP=LOCAL_IP,
               PYTHONPATH=os.pathsep.join(p for p in [str(PACKAGE_DIR.parent), env.get("PYTHONPATH", "")] if p))
    version = code_version()  # once: the state and the server's conf name the same sources
    with log.open("ab") as out:
        process = subprocess.Popen(server_command(port, driver_memory, version=version), stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=state_dir, env=env,
                                   start_new_session=True)
    state = ServerState(pid=process.pid, port=port, code_version=version, log=str(log))
    deadline = time.monotonic() + timeout_s
    while not port_open(LOCAL_IP, port, timeout_s=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"the Spark Connect server did not start (exit {process.poll()}); {log}:\n{tail}")
        time.sleep(0.25)
    (state_dir / "server.json").write_text(json.dumps(asdict(state)))
    return state


def stop(state_dir: Path, timeout_s: float = 30.0) -> ServerState | None:
    """Stop the recorded server (its whole process group: the JVM and its Python workers)."""
    state = read_state(state_dir)
    if state is None:
        return None
    os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while running(state.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running(state.pid):
        os.killpg(state.pid, signal.SIGKILL)
        while running(state.pid):
            time.sleep(0.1)
    (state_dir / "server.json").unlink(missing_ok=True)
    return state


def running(pid: int) -> bool:
    """Whether ``pid`` still runs; reaps it when this process started it (a benchmark's or a test's server),
    since an exited child stays a zombie until then."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not our child: the CLI's server, reparented when ``start`` exited
        pass
    return process_alive(pid)


def main(argv: list[str] | None = None) -> int:
    from athlete_platform.settings import SPARK_REMOTE_VAR, load_settings

    parser = argparse.ArgumentParser(prog="python -m athlete_platform.spark_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "restart", "status"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--driver-memory", default="2g", help="heap of the server's JVM (default 2g)")
    args = parser.parse_args(argv)
    state_dir = state_dir_of_home(load_settings().home)
    if args.command in ("stop", "restart"):
        stopped = stop(state_dir)
        print(f"stopped the server at {stopped.url} (pid {stopped.pid})" if stopped else "no server was running")
        if args.command == "stop":
            return 0
    recorded = read_state(state_dir)
    if args.command == "status":
        if recorded is None:
            print("no server is running")
            return 1
        current = "" if recorded.code_version == code_version() else " — the code changed since: restart it"
        print(f"running at {recorded.url} (pid {recorded.pid}, code {recorded.code_version}{current}); log {recorded.log}")
        return 0
    if recorded is not None and recorded.code_version != code_version():
        print(f"a server of older code runs at {recorded.url} (pid {recorded.pid}): restart it", file=sys.stderr)
        return 1
    try:
        state = recorded or start(state_dir, args.port, args.driver_memory)
    except RuntimeError as error:  # port taken, or the JVM did not start (its log's tail is in the message)
        print(error, file=sys.stderr)
        return 1
    print(f"{'already running' if recorded else 'started'} at {state.url} (pid {state.pid}); log {state.log}\n"
          f"export {SPARK_REMOTE_VAR}={state.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
