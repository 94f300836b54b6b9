"""Warnings nobody can act on are filtered in every process that imports the platform; others still show."""

import subprocess
import sys

SCRIPT = """
import warnings
import athlete_platform.definitions  # every asset decorated: backfill_policy on each daily asset
from dagster import TimeWindowPartitionMapping
from dagster._core.definitions.step_launcher import StepLauncher
from dagster_shared.utils.warnings import BetaWarning

TimeWindowPartitionMapping(start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True)

class Launcher(StepLauncher):
    def launch_step(self, step_context):
        return iter(())

Launcher()
warnings.warn("Parameter `some_new_thing` of function `asset` is currently in beta", BetaWarning)
warnings.warn("something else", FutureWarning)
"""


def test_unactionable_dagster_warnings_are_gone_and_others_still_show():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True)
    assert "backfill_policy" not in done.stderr
    assert "allow_nonexistent_upstream_partitions" not in done.stderr
    assert "SupersessionWarning" not in done.stderr
    assert "some_new_thing" in done.stderr and "something else" in done.stderr
