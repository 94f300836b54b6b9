"""SparkSession as a resource, started lazily (never at import time).

A local session is quiet by default: no console progress bars (``spark.ui.showConsoleProgress``), bound to
the loopback interface (``SPARK_LOCAL_IP``/``spark.driver.host`` 127.0.0.1: one machine needs no other, and
Spark no longer warns that the hostname "resolves to a loopback address"), and a log4j2 configuration
(:data:`LOG4J2_PROPERTIES`) that prints warnings and errors only, without the lines nobody can act on. Its driver
JVM is tuned for short local runs: a 2 GiB heap that G1 hands back when idle (:data:`HEAP_RETURN_OPTIONS`) and the
JIT's quick tier only (:data:`JIT_OPTIONS`); steps drop what they cached when they end (:func:`cached`).
"""


import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


#: Log4j2 configuration of local sessions: Spark's defaults (``org/apache/spark/log4j2-defaults.properties``)
#: at WARN — which also drops the "Using Spark's default log4j profile" and "Setting default log level" lines —
#: and two warnings raised to ERROR that no user can act on: no native Hadoop library on a laptop (Spark uses its
#: Java fallback) and long query plans truncated in log messages. Actionable warnings (e.g. TaskSetManager's
#: "task of very large size") stay.
LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.jetty2.name = org.sparkproject.jetty.util.component.AbstractLifeCycle
logger.jetty2.level = error
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.truncatedplan.name = org.apache.spark.util.SparkStringUtils
logger.truncatedplan.level = error
"""
LOCAL_IP = "127.0.0.1"
#: G1 hands unused heap back to the OS: after a heavy step (or a range run), a long-lived process (``dagster dev``'s
#: in-process runs, the runners) would otherwise keep the JVM at its peak size. A periodic collection when idle
#: (JEP 346, https://openjdk.org/jeps/346) and a lower bound on free heap after a collection let the heap shrink.
HEAP_RETURN_OPTIONS = "-XX:+UseG1GC -XX:G1PeriodicGCInterval=10000 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30"
#: The JIT's quick tier only (C1): a local session's JVM lives for one run or a few, too short for the optimizing
#: compiler (C2) to pay back the CPU it burns on a 2-core laptop. Measured with the scale benchmark (1,000 simulated
#: athletes): a daily run in a new process 91-119 -> 59-82 CPU seconds, a 92-day ingest range 83 -> 58.
JIT_OPTIONS = "-XX:TieredStopAtLevel=1"


def log4j2_config_file() -> Path:
    """:data:`LOG4J2_PROPERTIES` as a file the driver JVM can read (written once, named by its content)."""
    digest = hashlib.sha256(LOG4J2_PROPERTIES.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"athlete-platform-log4j2-{digest}.properties"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(LOG4J2_PROPERTIES)
        partial.replace(path)  # atomic: concurrent step processes never read half a file
    return path


class SparkResource(ConfigurableResource):
    """One SparkSession per process.

    Locally it builds a small ``local[*]`` session (UI off, few shuffle partitions: the data fits one
    machine and the default 200 partitions only adds scheduling overhead). On Databricks (or in a step
    launched there) ``master`` is ``None`` and the cluster's existing session is reused.
    """

    master: str | None = "local[*]"
    app_name: str = "athlete-platform"
    shuffle_partitions: int = 4
    #: Heap cap of the local driver JVM (the whole local "cluster"): 2 GiB holds a 10,000-athlete day and a
    #: 92-day range of 1,000 athletes; Spark spills to disk beyond it. Raise it for larger single range runs.
    driver_memory: str = "2g"
    #: Spark's console progress bars ([Stage 3:====>  (1 + 3) / 4]); off: the runs print one line per step.
    console_progress: bool = False

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
            # Read by the JVM at start-up (before any conf): bind to loopback instead of guessing an interface.
            os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_IP)
            java_options = (
                f"-Duser.timezone=UTC -Dlog4j.configurationFile={log4j2_config_file().as_uri()} {HEAP_RETURN_OPTIONS} "
                f"{JIT_OPTIONS}"
            )
            builder = (
                builder.master(self.master)
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", str(self.console_progress).lower())
                .config("spark.driver.host", os.environ["SPARK_LOCAL_IP"])
                .config("spark.driver.bindAddress", os.environ["SPARK_LOCAL_IP"])
                .config("spark.sql.shuffle.partitions", str(self.shuffle_partitions))
                .config("spark.default.parallelism", str(self.shuffle_partitions))
                .config("spark.driver.memory", self.driver_memory)
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
                .config("spark.driver.extraJavaOptions", java_options)
                .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
            )
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("WARN")
        return session


@contextmanager
def cached(frame: "DataFrame") -> Iterator["DataFrame"]:
    """``frame`` cached while the block runs (a step's checks and its write read its output again), then dropped
    from Spark's memory: a long-lived process (``dagster dev``'s in-process runs, a runner's successive range
    runs) otherwise kept every step's output in the driver's heap until evicted, and a rerun of the same plan
    drew Spark's "Asked to cache already cached data" warning."""
    frame = frame.cache()
    try:
        yield frame
    finally:
        frame.unpersist()
