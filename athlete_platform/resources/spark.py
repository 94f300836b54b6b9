"""SparkSession as a resource, started lazily (never at import time).

A local session is quiet by default: no console progress bars (``spark.ui.showConsoleProgress``), bound to
the loopback interface (``SPARK_LOCAL_IP``/``spark.driver.host`` 127.0.0.1: one machine needs no other, and
Spark no longer warns that the hostname "resolves to a loopback address"), and a log4j2 configuration
(:data:`LOG4J2_PROPERTIES`) that prints warnings and errors only, without the lines nobody can act on; the JDK's
warning about Spark's incubator module is taken out of the driver JVM's stderr (:func:`launch_driver_jvm`). Its driver
JVM is tuned for short local runs: a 2 GiB heap that G1 hands back when idle (:data:`HEAP_RETURN_OPTIONS`) and the
JIT's quick tier only (:data:`JIT_OPTIONS`), started from a class-data archive of Spark's classes that the first
session writes (:class:`ClassDataArchive`); steps drop what they cached when they end (:func:`cached`).
"""


import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: The package whose modules Spark's Python workers import (a UDF is pickled by reference to its module).
PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: The Spark conf in which a Spark Connect server started by :mod:`athlete_platform.spark_server` names the code
#: its Python workers import (:func:`code_version`).
CODE_VERSION_CONF = "spark.athlete_platform.codeVersion"


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
#: Within 2-4 s of idling, not 10-20: the steps without Spark (a training, the pandas and NannyML steps) start right
#: after Spark steps, and with 10 s they ran beside the Spark steps' whole peak heap. The scale benchmark's 3-year
#: backfill peaked at 4.3 GiB with 10 s (a training beside a 2.1 GiB JVM) and 3.4 GiB with 2 s, its silver a few
#: percent slower; the 10,000-athlete daily run took the same time (benchmarks/README.md, eighth round).
HEAP_RETURN_OPTIONS = "-XX:+UseG1GC -XX:G1PeriodicGCInterval=2000 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30"
#: The JIT's quick tier only (C1): a local session's JVM lives for one run or a few, too short for the optimizing
#: compiler (C2) to pay back the CPU it burns on a 2-core laptop. Measured with the scale benchmark (1,000 simulated
#: athletes): a daily run in a new process 91-119 -> 59-82 CPU seconds, a 92-day ingest range 83 -> 58.
JIT_OPTIONS = "-XX:TieredStopAtLevel=1"
#: CDS messages off: a dynamic archive skips some classes with a warning per class when it is written ("Signed JAR",
#: "Pre JDK 6 class"), and an archive the JVM cannot use (another JDK or Spark) is ignored with one; neither needs a
#: user's action, the JVM then loads those classes the usual way.
CDS_LOG_OPTIONS = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def java_executable() -> Path | None:
    """The ``java`` Spark's launcher runs (``$JAVA_HOME/bin/java``, else the first on ``PATH``), resolved."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


class ClassDataArchive:
    """An application class-data archive of the local driver JVM (dynamic CDS, JEP 350:
    https://openjdk.org/jeps/350), so a new process maps the classes Spark loads instead of parsing and verifying
    them again: measured on this project's 2-core machine, a new session started in 3.5-4.2 s instead of 6.8 s
    and its first job ran in 2.1-2.4 s instead of 5.0 s.

    The first JVM writes the archive when it exits (``-XX:ArchiveClassesAtExit``): to a file of its own
    (``<key>.<token>.jsa``) next to the JVM's pid (``<key>.<token>.pid``), because the write happens after the
    Python process is gone and a second process must not map half a file. A later session promotes it to
    ``<key>.jsa`` (an atomic rename) once that JVM has exited, and every session after that starts with
    ``-XX:SharedArchiveFile``. While an archive is being written, other sessions start without one. The key
    names the JDK and Spark's jars: another JDK or Spark version writes its own archive.
    """

    #: An archive left without its pid file (the process died between starting the JVM and writing it) is
    #: removed once this old: it cannot be told apart from one still being written.
    ORPHAN_AGE_S = 24 * 3600

    def __init__(self, directory: Path, key: str):
        self.directory = directory
        self.key = key

    @classmethod
    def for_this_installation(cls, directory: Path | None = None) -> "ClassDataArchive | None":
        """The archive of this JDK and Spark (``None`` without a ``java`` to key it by, or when the class path has
        a directory CDS cannot archive: :func:`classpath_directories_with_files`)."""
        import pyspark

        java = java_executable()
        spark_home = Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)
        if java is None or classpath_directories_with_files(os.environ, spark_home):
            return None
        jars = spark_home / "jars"
        stat = java.stat()
        parts = [str(java), str(stat.st_size), str(stat.st_mtime_ns), pyspark.__version__, str(jars),
                 *sorted(p.name for p in jars.glob("*.jar")), HEAP_RETURN_OPTIONS, JIT_OPTIONS]
        key = "spark-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        return cls(directory or Path(tempfile.gettempdir()) / "athlete-platform-spark-cds", key)

    @property
    def archive(self) -> Path:
        return self.directory / f"{self.key}.jsa"

    def java_option(self) -> tuple[str, Path | None]:
        """The JVM option of a new session and, when that JVM is to write the archive, the pid file to record
        its pid in (:meth:`record_writer`)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        writing = False
        # Another process may promote or remove the same files at the same moment: a file gone is its work done.
        for pid_file in sorted(self.directory.glob(f"{self.key}.*.pid")):
            try:
                if process_alive(int(pid_file.read_text() or 0)):
                    writing = True
                    continue
                if pid_file.with_suffix(".jsa").exists():
                    pid_file.with_suffix(".jsa").replace(self.archive)  # that JVM has exited: the file is complete
                pid_file.unlink(missing_ok=True)  # (no archive: the JVM was killed before writing it)
            except FileNotFoundError:
                continue
        for partial in self.directory.glob(f"{self.key}.*.jsa"):
            try:
                if not partial.with_suffix(".pid").exists() and time.time() - partial.stat().st_mtime > self.ORPHAN_AGE_S:
                    partial.unlink(missing_ok=True)
            except FileNotFoundError:
                continue
        if self.archive.exists():
            return f"-XX:SharedArchiveFile={self.archive}", None
        if writing:
            return "", None
        token = uuid.uuid4().hex[:12]
        return (f"-XX:ArchiveClassesAtExit={self.directory / f'{self.key}.{token}.jsa'}",
                self.directory / f"{self.key}.{token}.pid")

    @staticmethod
    def record_writer(pid_file: Path, jvm_pid: int) -> None:
        partial = pid_file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(str(jvm_pid))
        partial.replace(pid_file)


def classpath_directories_with_files(environ: Mapping[str, str], spark_home: Path) -> list[Path]:
    """The non-empty directories Spark's launcher puts on the driver JVM's class path: the conf directory
    (``SPARK_CONF_DIR``, else ``$SPARK_HOME/conf``), ``HADOOP_CONF_DIR`` and ``YARN_CONF_DIR`` (Spark's
    ``AbstractCommandBuilder.buildClassPath``). CDS cannot archive a class path with one: the JVM that writes the
    archive fails as it exits ("Error occurred during initialization of VM: Cannot have non-empty directory in
    paths"), run after run, so a session with such a class path starts without an archive."""
    candidates = [environ.get("SPARK_CONF_DIR") or str(spark_home / "conf"),
                  environ.get("HADOOP_CONF_DIR"), environ.get("YARN_CONF_DIR")]
    found = []
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if path.is_dir() and any(path.iterdir()):
            found.append(path)
    return found


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def log4j2_config_file() -> Path:
    """:data:`LOG4J2_PROPERTIES` as a file the driver JVM can read (written once, named by its content)."""
    digest = hashlib.sha256(LOG4J2_PROPERTIES.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"athlete-platform-log4j2-{digest}.properties"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(LOG4J2_PROPERTIES)
        partial.replace(path)  # atomic: concurrent step processes never read half a file
    return path


def code_version() -> str:
    """A digest of the package's Python sources. A Spark Connect server's Python workers import the package
    once and keep it, so a server started before the code changed would run the old code's UDFs: sessions
    refuse a server that names another version (:func:`connect_session`)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def jvm_options() -> str:
    """Options of every local driver JVM (a session's or a Spark Connect server's): UTC, the quiet log4j2
    configuration, a heap that shrinks when idle and the JIT's quick tier."""
    return (f"-Duser.timezone=UTC -Dlog4j.configurationFile={log4j2_config_file().as_uri()} {HEAP_RETURN_OPTIONS} "
            f"{JIT_OPTIONS}")


def local_conf(shuffle_partitions: int, driver_memory: str, console_progress: bool, java_options: str) -> dict[str, str]:
    """The Spark conf of a local driver, a session's or a Spark Connect server's (UI off, loopback, few shuffle
    partitions: the data fits one machine and the default 200 partitions only add scheduling overhead)."""
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": str(console_progress).lower(),
        "spark.driver.host": LOCAL_IP,
        "spark.driver.bindAddress": LOCAL_IP,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.driver.memory": driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.driver.extraJavaOptions": java_options,
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }


#: The one line a local driver JVM writes that nobody can act on. Spark's launcher always adds
#: ``--add-modules=jdk.incubator.vector`` (``org.apache.spark.launcher.JavaModuleOptions``), and the JDK warns on
#: stderr whenever an incubator module is resolved, with no option to turn that off (JEP 11,
#: https://openjdk.org/jeps/11).
INCUBATOR_WARNING = b"WARNING: Using incubator modules: jdk.incubator.vector"


def launch_driver_jvm(conf: Mapping[str, str]) -> None:
    """Start this process's driver JVM as ``SparkSession.builder.getOrCreate()`` would with ``conf``, but with its
    stderr passed on to ours by a thread, line by line, without :data:`INCUBATOR_WARNING`. Its other lines (Spark's
    warnings and errors, the Python workers' output, which they write to the JVM's stderr) still show."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    gateway = launch_gateway(SparkConf(loadDefaults=False).setAll(conf.items()), popen_kwargs={"stderr": subprocess.PIPE})
    SparkContext._gateway, SparkContext._jvm = gateway, gateway.jvm  # what SparkContext._ensure_initialized sets
    threading.Thread(target=pass_on_stderr, args=(gateway.proc.stderr,), name="spark-driver-stderr", daemon=True).start()


def pass_on_stderr(stream, fd: int = 2) -> None:
    """Copy ``stream``'s lines to file descriptor ``fd`` (where the JVM's stderr went before), all but
    :data:`INCUBATOR_WARNING`; read to the end even if ``fd`` is closed, so the JVM never blocks on a full pipe."""
    for line in iter(stream.readline, b""):
        if line.rstrip(b"\r\n") != INCUBATOR_WARNING:
            try:
                os.write(fd, line)
            except OSError:
                pass


class SparkServerError(RuntimeError):
    """The configured Spark Connect server cannot serve this process; the message says what to do."""


def port_open(host: str, port: int, timeout_s: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


#: Connect URLs whose server was found to run this process's code (checked once per process and URL).
_CHECKED_SERVERS: set[str] = set()


def connect_session(url: str) -> "SparkSession":
    """A Spark Connect session of the server at ``url`` (``sc://host:port``), once that server is known to answer
    and to run this code (:data:`CODE_VERSION_CONF`). Fails fast with what to do, instead of the client's
    minutes of retries against a closed port."""
    from urllib.parse import urlparse

    from pyspark.sql import SparkSession

    if url in _CHECKED_SERVERS:
        return SparkSession.builder.remote(url).getOrCreate()
    parsed = urlparse(url)
    if not port_open(parsed.hostname or "localhost", parsed.port or 15002):
        raise SparkServerError(
            f"no Spark Connect server answers at {url}: start one with `python -m athlete_platform.spark_server "
            f"start`, or unset ATHLETE_PLATFORM_SPARK_REMOTE to run Spark in this process")
    session = SparkSession.builder.remote(url).getOrCreate()
    served, ours = session.conf.get(CODE_VERSION_CONF, None), code_version()
    if served != ours:
        raise SparkServerError(
            f"the Spark Connect server at {url} runs {'code version ' + served if served else 'code of unknown version'}"
            f", this process {ours}: its Python workers would run the old code. Restart it with "
            f"`python -m athlete_platform.spark_server restart`")
    _CHECKED_SERVERS.add(url)
    return session


class SparkResource(ConfigurableResource):
    """One SparkSession per process.

    Locally it builds a small ``local[*]`` session (:func:`local_conf`), or, with ``remote`` set, connects to a
    Spark Connect server (:func:`connect_session`). On Databricks (or in a step launched there) ``master`` is
    ``None`` and the cluster's existing session is reused.
    """

    master: str | None = "local[*]"
    app_name: str = "athlete-platform"
    shuffle_partitions: int = 4
    #: Heap cap of the local driver JVM (the whole local "cluster"): 2 GiB holds a 10,000-athlete day and a
    #: 92-day range of 1,000 athletes; Spark spills to disk beyond it. Raise it for larger single range runs.
    driver_memory: str = "2g"
    #: Spark's console progress bars ([Stage 3:====>  (1 + 3) / 4]); off: the runs print one line per step.
    console_progress: bool = False
    #: Start local sessions from a class-data archive of Spark's classes, written by the first one
    #: (:class:`ClassDataArchive`): a new process's JVM starts and runs its first jobs seconds sooner.
    class_data_sharing: bool = True
    #: A Spark Connect server's URL (``sc://127.0.0.1:15002``) to run on instead of a JVM of this process's own: a
    #: server that outlives runs (``python -m athlete_platform.spark_server start``) spares each run Spark's start
    #: and the warm-up of its first queries. None: a session in this process (``master``).
    remote: str | None = None

    def get_session(self) -> "SparkSession":
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        if self.remote is not None:
            return connect_session(self.remote)
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        writer_pid_file: Path | None = None
        builder = SparkSession.builder.appName(self.app_name)
        if self.master is not None:
            # Python workers must run this interpreter (the venv), not whatever python3 is first on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
            # Read by the JVM at start-up (before any conf): bind to loopback instead of guessing an interface.
            os.environ.setdefault("SPARK_LOCAL_IP", LOCAL_IP)
            java_options = jvm_options()
            # Only a JVM this call launches takes the options (a process's gateway JVM is started once).
            archive = ClassDataArchive.for_this_installation() \
                if self.class_data_sharing and SparkContext._gateway is None else None
            if archive is not None:
                archive_option, writer_pid_file = archive.java_option()
                if archive_option:
                    java_options += f" {archive_option} {CDS_LOG_OPTIONS}"
            conf = local_conf(self.shuffle_partitions, self.driver_memory, self.console_progress, java_options)
            conf["spark.driver.host"] = conf["spark.driver.bindAddress"] = os.environ["SPARK_LOCAL_IP"]
            builder = builder.master(self.master).config(map=conf)
            if SparkContext._gateway is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # else a JVM runs already
                launch_driver_jvm({"spark.app.name": self.app_name, "spark.master": self.master, **conf})
        session = builder.getOrCreate()
        launched = getattr(SparkContext._gateway, "proc", None)  # None when the JVM was not launched from here
        if writer_pid_file is not None and launched is not None:
            ClassDataArchive.record_writer(writer_pid_file, launched.pid)
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
