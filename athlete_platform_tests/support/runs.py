"""Run assets in-process with real resources (Spark, Delta under a temp dir)."""

from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ResourceDefinition, materialize

from athlete_platform.resources.delta_io import DeltaTableIOManager


def local_test_resources(delta_root: Path, spark_resource, **extra: Any) -> dict[str, Any]:
    return {
        "spark": spark_resource,
        "io_manager": DeltaTableIOManager(root_uri=str(delta_root), spark=spark_resource),
        "pyspark_step_launcher": ResourceDefinition.none_resource(),
        **extra,
    }


def materialize_window(assets: list, resources: dict[str, Any], first: str, last: str | None = None, *,
                       instance: DagsterInstance | None = None, raise_on_error: bool = True, selection=None):
    """One run over the partitions ``first..last`` (inclusive), as a single-run backfill does.

    ``selection`` runs only some of ``assets`` (the others serve as already-materialized upstreams).
    """
    if last is None or last == first:
        return materialize(assets, partition_key=first, resources=resources, instance=instance,
                           raise_on_error=raise_on_error, selection=selection)
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return materialize(assets, tags=tags, resources=resources, instance=instance, raise_on_error=raise_on_error,
                       selection=selection)


def check_results(result) -> dict[str, Any]:
    """check name -> AssetCheckEvaluation from a run result."""
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
