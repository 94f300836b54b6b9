"""The local SparkSession's JVM runs with the options the resource sets (not just a conf entry nobody applied), and
starts from the class-data archive an earlier JVM wrote."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from athlete_platform.resources.spark import (
    HEAP_RETURN_OPTIONS,
    INCUBATOR_WARNING,
    JIT_OPTIONS,
    ClassDataArchive,
    cached,
    classpath_directories_with_files,
    pass_on_stderr,
)


def jvm_arguments(session) -> list[str]:
    bean = session._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    return list(bean.getInputArguments())


def test_driver_jvm_gives_unused_heap_back_uses_the_quick_jit_and_has_the_configured_cap(spark_resource):
    session = spark_resource.get_session()
    arguments = jvm_arguments(session)
    for option in [*HEAP_RETURN_OPTIONS.split(), *JIT_OPTIONS.split()]:
        assert option in arguments
    assert "-Xmx2g" in arguments  # spark.driver.memory of the session (conftest: 2g)
    max_heap = session._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert max_heap <= 2 * 2**30


def test_console_progress_is_off_and_driver_binds_to_loopback(spark_resource):
    conf = spark_resource.get_session().sparkContext.getConf()
    assert conf.get("spark.ui.showConsoleProgress") == "false"
    assert conf.get("spark.driver.host") == "127.0.0.1"


def test_cached_holds_a_frame_for_the_block_only_even_when_it_fails(spark_resource):
    frame = spark_resource.get_session().range(100)
    with cached(frame) as held:
        assert held.count() == 100
        assert held.storageLevel.useMemory
    assert not frame.storageLevel.useMemory
    with pytest.raises(RuntimeError), cached(frame) as held:
        held.count()
        raise RuntimeError("a check failed")
    assert not frame.storageLevel.useMemory


# -- the class-data archive ------------------------------------------------------------------------------------


def exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_first_jvm_writes_the_archive_to_a_file_of_its_own_and_others_wait_for_it(tmp_path):
    archive = ClassDataArchive(tmp_path, "spark-key")
    option, pid_file = archive.java_option()
    assert option.startswith(f"-XX:ArchiveClassesAtExit={tmp_path / 'spark-key.'}") and option.endswith(".jsa")
    assert pid_file is not None and pid_file.with_suffix(".jsa").name == Path(option.split("=", 1)[1]).name
    ClassDataArchive.record_writer(pid_file, os.getpid())  # a JVM still running (this process stands in for it)
    Path(option.split("=", 1)[1]).write_bytes(b"half an archive")
    assert archive.java_option() == ("", None)  # neither maps the half-written file nor writes a second one
    assert not archive.archive.exists()


def test_an_archive_is_promoted_once_its_jvm_has_exited_and_then_shared(tmp_path):
    archive = ClassDataArchive(tmp_path, "spark-key")
    option, pid_file = archive.java_option()
    Path(option.split("=", 1)[1]).write_bytes(b"archive")
    ClassDataArchive.record_writer(pid_file, exited_pid())
    assert archive.java_option() == (f"-XX:SharedArchiveFile={archive.archive}", None)
    assert archive.archive.read_bytes() == b"archive"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spark-key.jsa"]
    other = ClassDataArchive(tmp_path, "spark-other-jdk")  # another JDK or Spark: its own archive
    assert other.java_option()[0].startswith("-XX:ArchiveClassesAtExit=")


def test_a_jvm_that_exited_without_writing_lets_the_next_one_write(tmp_path):
    archive = ClassDataArchive(tmp_path, "spark-key")
    _, pid_file = archive.java_option()
    ClassDataArchive.record_writer(pid_file, exited_pid())  # killed: no archive file
    option, next_pid_file = archive.java_option()
    assert option.startswith("-XX:ArchiveClassesAtExit=") and next_pid_file != pid_file
    assert not pid_file.exists()


def test_an_archive_without_its_pid_file_is_removed_only_when_old(tmp_path):
    archive = ClassDataArchive(tmp_path, "spark-key")
    orphan = tmp_path / "spark-key.0123456789ab.jsa"
    orphan.write_bytes(b"?")
    archive.java_option()
    assert orphan.exists()  # could still be written by a JVM whose pid file is on its way
    old = time.time() - ClassDataArchive.ORPHAN_AGE_S - 60
    os.utime(orphan, (old, old))
    archive.java_option()
    assert not orphan.exists()


SESSION_ARGUMENTS = textwrap.dedent("""
    from athlete_platform.resources.spark import SparkResource
    session = SparkResource(master="local[1]", shuffle_partitions=1).get_session()
    bean = session._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    print([a for a in bean.getInputArguments() if "Archive" in a], bean.getPid())
""")


@pytest.mark.spark
def test_a_new_process_starts_spark_from_the_archive_the_previous_jvm_wrote_when_it_exited(tmp_path):
    """Two real processes: the first JVM writes the archive after its Python process is gone; the next maps it."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the archive directory of this test only
    archive = ClassDataArchive.for_this_installation(tmp_path / "athlete-platform-spark-cds")
    first = subprocess.run([sys.executable, "-c", SESSION_ARGUMENTS], env=env, capture_output=True, text=True,
                           check=True)
    options, jvm_pid = first.stdout.strip().rsplit(" ", 1)
    assert f"ArchiveClassesAtExit={archive.directory / archive.key}." in options
    assert (archive.directory / f"{Path(options.split('=', 1)[1]).stem}.pid").read_text() == jvm_pid
    deadline = time.monotonic() + 180
    while (archive.directory / f"{Path(options.split('=', 1)[1]).stem}.pid").exists() and \
            time.monotonic() < deadline:  # the JVM writes the archive as it exits, after Python has
        archive.java_option()
        time.sleep(1)
    assert archive.archive.stat().st_size > 10 * 2**20  # Spark's classes, promoted under the shared name
    second = subprocess.run([sys.executable, "-c", SESSION_ARGUMENTS], env=env, capture_output=True, text=True,
                            check=True)
    assert f"-XX:SharedArchiveFile={archive.archive}" in second.stdout
    assert "cds" not in second.stderr.lower()  # its CDS messages are off


def test_no_archive_when_the_launcher_puts_a_directory_with_files_on_the_class_path(tmp_path, monkeypatch):
    """A spark-defaults.conf in SPARK_CONF_DIR made every other new process's JVM fail writing the archive as it
    exited ("Error occurred during initialization of VM: Cannot have non-empty directory in paths")."""
    conf = tmp_path / "conf"
    conf.mkdir()
    for variable in ("SPARK_CONF_DIR", "HADOOP_CONF_DIR", "YARN_CONF_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf))
    assert ClassDataArchive.for_this_installation(tmp_path / "cds") is not None  # an empty directory is fine
    (conf / "spark-defaults.conf").write_text("spark.eventLog.enabled true\n")
    assert ClassDataArchive.for_this_installation(tmp_path / "cds") is None
    spark_home = tmp_path / "spark"
    assert classpath_directories_with_files({"SPARK_CONF_DIR": str(conf)}, spark_home) == [conf]
    (spark_home / "conf").mkdir(parents=True)
    (spark_home / "conf" / "log4j2.properties").write_text("")
    assert classpath_directories_with_files({}, spark_home) == [spark_home / "conf"]  # the default conf directory
    hadoop = tmp_path / "hadoop"
    hadoop.mkdir()
    (hadoop / "core-site.xml").write_text("<configuration/>")
    assert classpath_directories_with_files({"HADOOP_CONF_DIR": str(hadoop)}, tmp_path / "pip") == [hadoop]
    assert classpath_directories_with_files({}, tmp_path / "pip") == []  # pip's pyspark has no conf directory


def test_the_driver_jvms_stderr_is_passed_on_without_the_incubator_warning_and_to_its_end():
    jvm_out, jvm_in = os.pipe()
    ours_out, ours_in = os.pipe()
    os.write(jvm_in, INCUBATOR_WARNING + b"\n26/11/30 WARN TaskSetManager: a warning to act on\n" + INCUBATOR_WARNING
             + b" and more\nno newline at the end")
    os.close(jvm_in)
    with os.fdopen(jvm_out, "rb") as stream:
        pass_on_stderr(stream, ours_in)
    os.close(ours_in)
    with os.fdopen(ours_out, "rb") as passed:
        assert passed.read() == (b"26/11/30 WARN TaskSetManager: a warning to act on\n" + INCUBATOR_WARNING
                                 + b" and more\nno newline at the end")
    nobody_reads, closed_in = os.pipe()
    os.close(nobody_reads)  # every write to closed_in now fails (EPIPE)
    jvm_out, jvm_in = os.pipe()
    os.write(jvm_in, b"a line\n" * 1000)
    os.close(jvm_in)
    with os.fdopen(jvm_out, "rb") as stream:
        pass_on_stderr(stream, closed_in)
        assert stream.read() == b""  # read to its end all the same
    os.close(closed_in)


STDERR_ARGUMENTS = textwrap.dedent("""
    import sys
    from athlete_platform.resources.spark import SparkResource
    session = SparkResource(master="local[1]", shuffle_partitions=1).get_session()
    def shout(batches):
        for batch in batches:
            print("a line from a Python worker", file=sys.stderr, flush=True)
            yield batch
    print(session.range(3).mapInPandas(shout, schema="id long").count())
    session._jvm.java.lang.System.err.println("a line from the JVM")
    session.stop()
""")


@pytest.mark.spark
def test_a_new_process_shows_the_jvms_and_workers_stderr_but_not_the_incubator_warning():
    done = subprocess.run([sys.executable, "-c", STDERR_ARGUMENTS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "3"
    assert "a line from a Python worker" in done.stderr and "a line from the JVM" in done.stderr
    assert "incubator" not in done.stderr
