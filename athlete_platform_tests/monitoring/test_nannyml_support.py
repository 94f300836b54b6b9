"""Importing NannyML leaves the process's Spark session as it was: flaml (a NannyML dependency) turns ANSI mode
off in the active session when imported and only puts it back at exit."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    from athlete_platform.resources.spark import SparkResource
    from athlete_platform.monitoring.nannyml_support import import_nannyml
    ANSI_CONF = "spark.sql.ansi.enabled"

    session = SparkResource(master="local[1]", class_data_sharing=False).get_session()
    before = session.conf.get(ANSI_CONF)
    import_nannyml()
    print("ansi", before, session.conf.get(ANSI_CONF))
    session.stop()  # a run's process may close its session before it exits
""")


@pytest.mark.spark
def test_the_session_keeps_its_ansi_mode_and_the_process_exits_quietly():
    # A process of its own: pytest's has imported NannyML and started a session long before.
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ansi true true" in done.stdout
    assert "Failed to restore" not in done.stderr and "Traceback" not in done.stderr
