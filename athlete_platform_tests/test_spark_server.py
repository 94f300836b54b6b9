"""A Spark Connect server that outlives runs (``athlete_platform.spark_server``): loopback only, the graph's tables
through it equal to a local session's, refused once the code has changed, a clear error when it is not there."""

import socket
import subprocess
import sys

import pandas as pd
import pytest
from deltalake import DeltaTable

from athlete_platform import spark_server
from athlete_platform.resources.spark import (
    CODE_VERSION_CONF,
    JIT_OPTIONS,
    SparkResource,
    SparkServerError,
    code_version,
    port_open,
)
from athlete_platform_tests.support.daily_graph import DAILY_GRAPH, FIRST, two_athletes
from athlete_platform_tests.support.runs import local_test_resources, materialize_window
from athlete_platform_tests.support.static_source import StaticSource


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_server_listens_on_loopback_with_the_local_conf_and_names_its_code():
    command = spark_server.server_command(15099, driver_memory="1g")
    conf = dict(arg.split("=", 1) for arg in command[command.index("--conf"):] if "=" in arg)
    assert conf["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert conf["spark.connect.grpc.binding.port"] == "15099"
    assert conf[CODE_VERSION_CONF] == code_version()
    assert conf["spark.sql.session.timeZone"] == "UTC" and conf["spark.driver.memory"] == "1g"
    assert JIT_OPTIONS in conf["spark.driver.extraJavaOptions"]  # a day's run is too small for the optimizing JIT


def test_no_server_fails_at_once_naming_the_command():
    with pytest.raises(SparkServerError, match="python -m athlete_platform.spark_server start"):
        SparkResource(remote=f"sc://127.0.0.1:{free_port()}").get_session()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("spark-connect")
    state = spark_server.start(state_dir, port=free_port())
    yield state_dir, state
    spark_server.stop(state_dir)


def delta(root, *path) -> pd.DataFrame:
    frame = DeltaTable(str(root.joinpath(*path))).to_pandas()
    return frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)


@pytest.mark.spark
def test_the_daily_graph_through_the_server_writes_the_tables_a_local_session_writes(server, tmp_path, spark_resource):
    _, state = server
    remote_root, local_root = tmp_path / "remote", tmp_path / "local"
    last = "2025-01-24"  # both athletes active (the second from 2025-01-20)
    client = subprocess.run([sys.executable, "-m", "athlete_platform_tests.support.connect_client", state.url,
                             str(remote_root), last], capture_output=True, text=True, timeout=600)
    assert client.returncode == 0, client.stderr[-3000:]
    assert "pyspark.sql.connect.session.SparkSession" in client.stdout
    resources = local_test_resources(local_root, spark_resource, activity_source=StaticSource(records=two_athletes()))
    materialize_window(DAILY_GRAPH, resources, FIRST.isoformat(), last)
    for path in [("silver", "activities"), ("silver", "quarantine"), ("features", "activity_features"),
                 ("features", "athlete_daily_features"), ("features", "athlete_rolling_features")]:
        remote, local = delta(remote_root, *path), delta(local_root, *path)
        assert len(local) > 0 or path[1] == "quarantine"
        pd.testing.assert_frame_equal(remote.drop(columns=["ingested_at"], errors="ignore"),
                                      local.drop(columns=["ingested_at"], errors="ignore"), obj="/".join(path))


def test_a_server_of_other_code_is_refused_and_start_returns_the_running_one(server):
    state_dir, state = server
    assert spark_server.start(state_dir, port=state.port).pid == state.pid  # already running: the same server
    # A process whose code changed after the server started (its own process: pytest's holds a classic session).
    script = ("import sys; from athlete_platform.resources import spark as s; s.code_version = lambda: 'edited-since'; "
              "s.SparkResource(remote=sys.argv[1]).get_session()")
    refused = subprocess.run([sys.executable, "-c", script, state.url], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert f"runs code version {state.code_version}, this process edited-since" in refused.stderr
    assert "python -m athlete_platform.spark_server restart" in refused.stderr


def test_stop_ends_the_server(tmp_path):
    port = free_port()
    state = spark_server.start(tmp_path, port=port, driver_memory="512m")
    assert port_open("127.0.0.1", port) and spark_server.read_state(tmp_path) == state
    assert spark_server.stop(tmp_path) == state
    assert not port_open("127.0.0.1", port)
    assert not spark_server.running(state.pid)
    assert spark_server.read_state(tmp_path) is None and spark_server.stop(tmp_path) is None


def test_start_on_a_port_in_use_says_so_and_starts_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATHLETE_PLATFORM_HOME", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert spark_server.main(["start", "--port", str(port)]) == 1
    assert f"port {port} is in use by another process" in capsys.readouterr().err
    assert spark_server.read_state(spark_server.state_dir_of_home(tmp_path)) is None
