"""SparkSession as a resource, started lazily (never at import time)."""


import os
import sys
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkResource(ConfigurableResource):
    """One SparkSession per process.

    Locally it builds a small ``local[*]`` session (UI off, few shuffle partitions: the data fits one
    machine and the default 200 partitions only adds scheduling overhead). On Databricks (or in a step
    launched there) ``master`` is ``None`` and the cluster's existing session is reused.
    """

    master: str | None = "local[*]"
    app_name: str = "athlete-platform"
    shuffle_partitions: int = 4
    driver_memory: str = "4g"

    def get_session(self) -> "SparkSession":
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = SparkSession.builder.appName(self.app_name)
        if self.master is not None:
            # Python workers must run this interpreter (the venv), not whatever python3 is first on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
            builder = (
                builder.master(self.master)
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", str(self.shuffle_partitions))
                .config("spark.default.parallelism", str(self.shuffle_partitions))
                .config("spark.driver.memory", self.driver_memory)
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
                .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
                .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
            )
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("WARN")
        return session
