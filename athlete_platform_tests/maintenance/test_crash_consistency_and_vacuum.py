"""Crash consistency and Delta housekeeping, with real processes and real Delta files.

A writer process is killed (SIGKILL) at several points of a bronze write; the table stays readable with the
rows of a complete commit, a rerun writes rows identical to the first run (first arrival kept), and
``maintenance/delta_tables`` then removes the files the killed writes and reruns left behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from dagster import materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import RAW_ACTIVITIES
from athlete_platform.ingest.assets import raw_activities
from athlete_platform.maintenance.assets import delta_tables
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.support.paths import REPO_ROOT
from athlete_platform_tests.support.runs import local_test_resources, materialize_window
from athlete_platform_tests.support.static_source import StaticSource, run_activity

FIRST, LAST = "2025-01-01", "2025-02-09"

WRITER = """
import json, sys
from pathlib import Path
from dagster import materialize
from athlete_platform.ingest.assets import raw_activities
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from dagster import ResourceDefinition
from athlete_platform_tests.support.static_source import StaticSource

root, records_file, marker = sys.argv[1:4]
original = DeltaTableIOManager.handle_output

def handle_output(self, context, obj):
    Path(marker).write_text("writing")  # the parent kills us from here on
    return original(self, context, obj)

DeltaTableIOManager.handle_output = handle_output
resources = {
    "io_manager": DeltaTableIOManager(root_uri=root, spark=SparkResource()),
    "pyspark_step_launcher": ResourceDefinition.none_resource(),
    "activity_source": StaticSource(records=json.loads(Path(records_file).read_text())),
}
tags = {"dagster/asset_partition_range_start": "%s", "dagster/asset_partition_range_end": "%s"}
materialize([raw_activities], tags=tags, resources=resources)
""" % (FIRST, LAST)


def records() -> list[dict]:
    days = pd.date_range(FIRST, LAST).strftime("%Y-%m-%d")
    # ~4,000 records with long names: a write of a few MB, long enough to be killed in the middle
    return [run_activity(i, days[i % len(days)], name="x" * 400 + str(i)) for i in range(1, 4001)]


def rows(root: Path) -> pd.DataFrame:
    table = DeltaTable(str(root.joinpath(*RAW_ACTIVITIES.path))).to_pandas()
    return table.sort_values(["activity_date", "record_seq"], ignore_index=True)


def parquet_files(root: Path) -> tuple[set[str], set[str]]:
    path = root.joinpath(*RAW_ACTIVITIES.path)
    on_disk = {str(p.relative_to(path)) for p in path.rglob("*.parquet")}
    referenced = {str(Path(uri.removeprefix("file://")).resolve().relative_to(path.resolve()))
                  for uri in DeltaTable(str(path)).file_uris()}
    return on_disk, referenced


def test_a_killed_writer_never_corrupts_and_a_rerun_writes_identical_rows(tmp_path):
    root = tmp_path / "delta"
    data = records()
    # bronze and maintenance move Arrow tables only: the Spark resource is never started
    resources = local_test_resources(root, SparkResource(), activity_source=StaticSource(records=data))
    materialize_window([raw_activities], resources, FIRST, LAST)
    first = rows(root)
    assert len(first) == len(data)

    records_file = tmp_path / "records.json"
    records_file.write_text(json.dumps(data))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for delay in (0.0, 0.01, 0.05, 0.15, 0.4):
        marker = tmp_path / f"writing-{delay}"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(records_file), str(marker)],
                                  cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not marker.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert marker.exists()
        pd.testing.assert_frame_equal(rows(root), first)  # the last complete commit, never a half one

    materialize_window([raw_activities], resources, FIRST, LAST)
    pd.testing.assert_frame_equal(rows(root), first)  # ingested_at included: reruns are identical

    on_disk, referenced = parquet_files(root)
    assert referenced <= on_disk
    # Within the retention (a week by default) nothing is deleted: every recent version stays readable.
    result = materialize([delta_tables], resources=resources)
    assert result.success and parquet_files(root)[0] == on_disk
    versions = DeltaTable(str(root.joinpath(*RAW_ACTIVITIES.path))).version()
    assert len(DeltaTable(str(root.joinpath(*RAW_ACTIVITIES.path)), version=versions - 1).to_pandas()) == len(data)

    # With no retention, only the current version's files remain: replaced files and killed writes' orphans go.
    result = materialize([delta_tables], resources=resources,
                         run_config={"ops": {"maintenance__delta_tables": {"config": {"retention_hours": 0}}}})
    [materialization] = result.asset_materializations_for_node("maintenance__delta_tables")
    on_disk_after, referenced_after = parquet_files(root)
    assert on_disk_after == referenced_after
    assert materialization.metadata["files_vacuumed"].value >= len(on_disk - referenced) > 0
    assert materialization.metadata["bytes_freed"].value > 0
    pd.testing.assert_frame_equal(rows(root), first)
