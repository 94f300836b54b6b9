"""Disk that ``maintenance/delta_tables`` frees on a demo-like bronze table.

Ingests ``--days`` days of ``--athletes`` simulated athletes into bronze as one range run (the demo's backfill),
then re-runs each of the last ``--reruns`` days on its own (what the daily schedule and retries do), and runs
the maintenance asset twice: with the default retention (a week of time travel: files replaced minutes ago are
kept) and with retention 0 (what it frees once those files are a week old). Bronze only, so no Spark is
started; the other tables accumulate replaced files the same way, one per rerun.

    .venv/bin/python benchmarks/delta_maintenance.py --athletes 60 --days 365 --reruns 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from dagster import DagsterInstance, ResourceDefinition, materialize

from athlete_platform.ingest.assets import raw_activities
from athlete_platform.maintenance.assets import delta_tables
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.simulator_source import SimulatorSource
from athlete_platform.resources.spark import SparkResource


def disk(path: Path) -> tuple[int, int]:
    files = [f for f in path.rglob("*.parquet")]
    return len(files), sum(f.stat().st_size for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reruns", type=int, default=30)
    args = parser.parse_args()
    end = dt.date(2024, 12, 31)
    start = end - dt.timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "delta"
        resources = {
            "io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()),
            "pyspark_step_launcher": ResourceDefinition.none_resource(),
            "activity_source": SimulatorSource(n_athletes=args.athletes, history_start=start.isoformat()),
        }
        instance = DagsterInstance.ephemeral()
        tags = {"dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat()}
        materialize([raw_activities], tags=tags, resources=resources, instance=instance)
        for day in range(args.reruns):
            key = (end - dt.timedelta(days=day)).isoformat()
            materialize([raw_activities], partition_key=key, resources=resources, instance=instance)
        table = root / "bronze" / "raw_activities"
        before = disk(table)
        print(f"bronze after a {args.days}-day range run and {args.reruns} one-day reruns: "
              f"{before[0]} files, {before[1] / 2**20:.1f} MiB on disk")
        for retention in (None, 0):
            config = {} if retention is None else {"retention_hours": retention}
            result = materialize([delta_tables], resources=resources, instance=instance,
                                 run_config={"ops": {"maintenance__delta_tables": {"config": config}}})
            [event] = result.asset_materializations_for_node("maintenance__delta_tables")
            after = disk(table)
            print(f"maintenance, retention {event.metadata['retention_hours'].value} h: "
                  f"{event.metadata['files_compacted'].value} files compacted, "
                  f"{event.metadata['files_vacuumed'].value} vacuumed -> {after[0]} files, "
                  f"{after[1] / 2**20:.1f} MiB ({(before[1] - after[1]) / 2**20:+.1f} MiB freed vs before)")


if __name__ == "__main__":
    main()
