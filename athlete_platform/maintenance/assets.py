"""Delta housekeeping as an asset of its own group: ``maintenance/delta_tables``.

Killed writes and reruns leave Parquet files that no current version references (a rerun of a day replaces its
file; a write killed before its commit leaves an orphan). This asset compacts small files (OPTIMIZE) and then
VACUUMs every table, keeping ``retention_hours`` of history (default ``DEFAULT_RETENTION_HOURS`` = 7 days,
Delta's own default): every version written in the last week stays readable by time travel (README "Reading an
earlier version"), older replaced files and orphans older than that are deleted. The IO manager does the work
(``delta_io.DeltaTableIOManager.maintain_tables`` locally, ``OPTIMIZE``/``VACUUM ... RETAIN`` on Unity Catalog).
Run it with ``maintenance_job`` (e.g. weekly, after the week's backfills).
"""

from typing import Any, Optional

from dagster import (
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    StepLauncher,
    asset,
)

from athlete_platform.asset_keys import DELTA_MAINTENANCE
from athlete_platform.resources.delta_io import DEFAULT_RETENTION_HOURS


class MaintenanceConfig(Config):
    retention_hours: int = DEFAULT_RETENTION_HOURS


@asset(
    key=DELTA_MAINTENANCE,
    group_name="maintenance",
    kinds={"delta"},
    code_version="1",
    description="OPTIMIZE (compact small files) and VACUUM every Delta table, keeping retention_hours (default a "
    "week) of time travel; deletes files of killed writes once older than that.",
)
def delta_tables(context: AssetExecutionContext, config: MaintenanceConfig,
                 io_manager: ResourceParam[Any],
                 pyspark_step_launcher: ResourceParam[Optional[StepLauncher]]) -> MaterializeResult:  # on Databricks: the cluster's Spark
    reports = io_manager.maintain_tables(retention_hours=config.retention_hours, log=context.log)
    freed = sum(r.get("bytes_before", 0) - r.get("bytes_after", 0) for r in reports)
    return MaterializeResult(
        metadata={
            "tables": len(reports),
            "retention_hours": config.retention_hours,
            "files_compacted": sum(r.get("files_compacted", 0) for r in reports),
            "files_vacuumed": sum(r.get("files_vacuumed", 0) for r in reports),
            "bytes_freed": freed,
            "per_table": MetadataValue.json(reports),
        }
    )
