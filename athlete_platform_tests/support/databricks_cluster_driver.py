"""Plays the Spark driver JVM of an emulated all-purpose cluster (started by ``databricks_emulator``).

Usage: ``python databricks_cluster_driver.py <gateway file>``, with ``SPARK_CONF_DIR`` holding the
cluster's ``spark-defaults.conf``.

On a Databricks all-purpose cluster, the job runs submitted to it share the cluster's one Spark driver JVM
and its SparkContext; each run brings its own Python process. This process starts that JVM with its
SparkContext, publishes the Py4J gateway (port and secret) in the gateway file for the task processes
(``databricks_task_runner`` attaches to it), and lives until the emulator terminates the cluster — the JVM
exits with it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def main() -> None:
    gateway_file = Path(sys.argv[1])
    from pyspark import SparkConf, SparkContext

    context = SparkContext(conf=SparkConf().setAppName("databricks-emulator-cluster"))
    parameters = context._gateway.gateway_parameters  # noqa: SLF001 - what a task process needs to attach
    staged = gateway_file.with_suffix(".tmp")
    staged.write_text(json.dumps({"port": parameters.port, "secret": parameters.auth_token}))
    os.replace(staged, gateway_file)  # atomically: a reader sees nothing or everything
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    context.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
