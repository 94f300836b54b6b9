"""Plays the Databricks driver for one emulated ``spark_python_task`` (started by ``databricks_emulator``).

Usage: ``python databricks_task_runner.py <local python_file> [parameters...]``.

Defines the globals a Databricks Python task finds — ``dbutils`` (fs, secrets, library), ``sc`` and
``spark`` — and executes the task file as ``__main__`` with ``sys.argv`` set like spark-submit would.
On a created (all-purpose) cluster the process first attaches to the cluster's running driver JVM and its
SparkContext, as a job run on such a cluster does: every SparkSession the step builds is the cluster's.
On a new job cluster ``sc``/``spark`` are lazy (a step that never touches Spark does not pay for a JVM):
when touched they start a local session from ``$SPARK_CONF_DIR/spark-defaults.conf`` (the emulated
cluster's configuration), which is then also the session ``SparkSession.builder.getOrCreate()`` returns
to the step's code.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

DBFS_ROOT = Path(os.environ["DATABRICKS_EMULATOR_DBFS_ROOT"])


def _local(path: str) -> Path:
    for prefix in ("dbfs:", "/dbfs"):
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path {path!r} may not contain '..'")
    return DBFS_ROOT.joinpath(*parts)


@dataclass(frozen=True)
class FileInfo:  # the shape dbutils.fs.ls returns
    path: str
    name: str
    size: int
    modificationTime: int  # noqa: N815 - Databricks' field name


class SecretNotFound(Exception):
    pass


class _Secrets:
    def __init__(self, scopes: dict[str, dict[str, str]]):
        self._scopes = scopes

    def get(self, scope: str, key: str) -> str:
        if scope not in self._scopes or key not in self._scopes[scope]:
            # Databricks raises IllegalArgumentException with this text.
            raise SecretNotFound(f"Secret does not exist with scope: {scope} and key: {key}")
        return self._scopes[scope][key]

    def listScopes(self):  # noqa: N802 - dbutils' API
        return sorted(self._scopes)

    def list(self, scope: str):
        return sorted(self._scopes.get(scope, {}))


class _Fs:
    def ls(self, path: str) -> list[FileInfo]:
        local = _local(path)
        entries = sorted(local.iterdir()) if local.is_dir() else [local]
        return [
            FileInfo(
                path="dbfs:/" + entry.relative_to(DBFS_ROOT).as_posix() + ("/" if entry.is_dir() else ""),
                name=entry.name + ("/" if entry.is_dir() else ""),
                size=0 if entry.is_dir() else entry.stat().st_size,
                modificationTime=int(entry.stat().st_mtime * 1000),
            )
            for entry in entries
        ]

    def mkdirs(self, path: str) -> bool:
        _local(path).mkdir(parents=True, exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        local = _local(path)
        if local.exists() and not overwrite:
            raise FileExistsError(f"{path} already exists")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(contents)
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:  # noqa: N803 - dbutils' API
        with _local(path).open("rb") as stream:
            return stream.read(maxBytes).decode(errors="replace")

    def cp(self, source: str, target: str, recurse: bool = False) -> bool:
        src, dst = _local(source), _local(target)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{source} is a directory; use recurse=True")
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        local = _local(path)
        if local.is_dir():
            if not recurse and any(local.iterdir()):
                raise IsADirectoryError(f"{path} is a non-empty directory; use recurse=True")
            shutil.rmtree(local)
            return True
        if local.exists():
            local.unlink()
            return True
        return False


class _Library:
    def list(self) -> list[str]:
        return []

    def restartPython(self) -> None:  # noqa: N802 - dbutils' API
        raise NotImplementedError("the emulated driver cannot restart Python; install libraries on the cluster spec")


class DBUtils:
    def __init__(self, scopes: dict[str, dict[str, str]]):
        self.secrets = _Secrets(scopes)
        self.fs = _Fs()
        self.library = _Library()


class _Lazy:
    """Resolves the wrapped object on first attribute access (so only Spark steps start a JVM)."""

    def __init__(self, factory):
        object.__setattr__(self, "_factory", factory)
        object.__setattr__(self, "_value", None)

    def _get(self):
        if object.__getattribute__(self, "_value") is None:
            object.__setattr__(self, "_value", object.__getattribute__(self, "_factory")())
        return object.__getattribute__(self, "_value")

    def __getattr__(self, name):
        return getattr(self._get(), name)


def _attach_to_cluster_driver(gateway_file: Path) -> None:
    """This process's SparkContext wraps the cluster driver's (``databricks_cluster_driver.py``): the Py4J
    gateway of that JVM (pyspark connects to ``PYSPARK_GATEWAY_PORT`` instead of launching Spark) and its
    running SparkContext, as every run on an all-purpose cluster shares one."""
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway

    gateway = json.loads(gateway_file.read_text())
    os.environ["PYSPARK_GATEWAY_PORT"] = str(gateway["port"])
    os.environ["PYSPARK_GATEWAY_SECRET"] = gateway["secret"]
    connection = launch_gateway()
    jvm = connection.jvm
    running = jvm.org.apache.spark.SparkContext.getOrCreate()
    SparkContext(master=running.master(), appName="databricks-emulator-task", gateway=connection,
                 jsc=jvm.org.apache.spark.api.java.JavaSparkContext(running))


def _spark_session():
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName("databricks-emulator-task").getOrCreate()


def main() -> None:
    python_file, parameters = sys.argv[1], sys.argv[2:]
    secrets_file = Path(os.environ.pop("DATABRICKS_EMULATOR_SECRETS_FILE"))
    scopes = json.loads(secrets_file.read_text())
    gateway_file = os.environ.pop("DATABRICKS_EMULATOR_GATEWAY_FILE", None)
    if gateway_file:  # eagerly: any SparkSession the step builds must be the cluster's, not a new local one
        _attach_to_cluster_driver(Path(gateway_file))
    spark = _Lazy(_spark_session)
    task_globals = {
        "dbutils": DBUtils(scopes),
        "spark": spark,
        "sc": _Lazy(lambda: spark.sparkContext),
    }
    # As `python <python_file> <parameters>`: the task's own folder first on sys.path, not this runner's.
    sys.path[0] = str(Path(python_file).parent)
    sys.argv = [python_file, *parameters]
    runpy.run_path(python_file, init_globals=task_globals, run_name="__main__")


if __name__ == "__main__":
    main()
