"""The faster event log of the runners' instance records exactly what Dagster's stock sqlite storage records.

A two-asset daily job runs over a 20-day range (one single-run backfill) on an instance created by
``runner.local_instance`` (``FastSqliteEventLogStorage``) and on a stock sqlite instance; the per-partition
record the UI reads must be the same: materialized partitions, every materialization with its partition and
metadata, planned partitions, the asset's latest materialization, the run's event sequence. A step reading
the instance mid-run sees the upstream partitions of its own run.
"""

import datetime as dt

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AssetRecordsFilter,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    IOManager,
    Output,
    asset,
    define_asset_job,
)

from athlete_platform.instance_storage import FastSqliteEventLogStorage
from athlete_platform.runner import COARSE_PLANNED_EVENTS, RANGE_END_TAG, RANGE_START_TAG, local_instance


@pytest.fixture(autouse=True)
def per_partition_planned_events(monkeypatch):
    """Dagster's default, whatever an earlier test in this process (a runner) set: these tests compare the
    per-partition records of both storages."""
    monkeypatch.delenv(COARSE_PLANNED_EVENTS, raising=False)


PARTITIONS = DailyPartitionsDefinition(start_date="2024-01-01")
FIRST, LAST = "2024-02-01", "2024-02-20"
DAYS = 20


class MetadataOnlyIOManager(IOManager):
    def handle_output(self, context, obj):
        context.add_output_metadata({"rows": obj})

    def load_input(self, context):
        return len(context.asset_partition_keys)


@asset(partitions_def=PARTITIONS, backfill_policy=BackfillPolicy.single_run())
def upstream(context) -> int:
    return len(context.partition_keys)


@asset(partitions_def=PARTITIONS, backfill_policy=BackfillPolicy.single_run(),
       check_specs=[AssetCheckSpec("saw_upstream", asset="downstream")])
def downstream(context, upstream: int):
    # Reads the instance inside the run: the upstream materializations of this very run must be visible.
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("upstream"), asset_partitions=context.partition_keys), limit=1000
    ).records
    seen = len([r for r in records if r.run_id == context.run_id])
    yield Output(seen)
    yield AssetCheckResult(check_name="saw_upstream", passed=seen == len(context.partition_keys))


def run_range(instance: DagsterInstance):
    defs = Definitions(
        assets=[upstream, downstream],
        jobs=[define_asset_job("both", selection=[upstream, downstream])],
        resources={"io_manager": MetadataOnlyIOManager()},
    )
    return defs.resolve_job_def("both").execute_in_process(
        instance=instance, tags={RANGE_START_TAG: FIRST, RANGE_END_TAG: LAST}
    )


def record_of(instance: DagsterInstance, run_id: str) -> dict:
    storage = instance.event_log_storage
    out: dict = {"events": [e.dagster_event_type for e in instance.all_logs(run_id) if e.is_dagster_event]}
    for name in ("upstream", "downstream"):
        key = AssetKey(name)
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=1000).records
        out[name] = {
            "materialized": sorted(instance.get_materialized_partitions(key)),
            "materializations": sorted(
                (r.partition_key, r.run_id == run_id, r.asset_materialization.metadata["rows"].value) for r in records
            ),
            "planned": sorted(
                storage.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
            ),
            "latest": (lambda e: (e.last_materialization_record.partition_key, e.last_run_id == run_id))(
                instance.get_asset_records([key])[0].asset_entry
            ),
        }
    check = AssetCheckKey(AssetKey("downstream"), "saw_upstream")
    out["check_executions"] = sorted(
        (str(r.partition), r.status.value, r.run_id == run_id)
        for r in storage.get_asset_check_execution_history(check, limit=1000)
    )
    return out


def test_fast_event_log_records_what_the_stock_storage_records(tmp_path):
    fast = local_instance(tmp_path / "fast")
    assert isinstance(fast.event_log_storage, FastSqliteEventLogStorage)
    (tmp_path / "stock").mkdir()
    (tmp_path / "stock" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    stock = DagsterInstance.from_config(str(tmp_path / "stock"))
    assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"

    fast_result, stock_result = run_range(fast), run_range(stock)
    assert fast_result.success and stock_result.success

    fast_record = record_of(fast, fast_result.run_id)
    stock_record = record_of(stock, stock_result.run_id)
    assert fast_record == stock_record
    days = [(dt.date(2024, 2, 1) + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    assert fast_record["downstream"]["materialized"] == days
    assert fast_record["upstream"]["planned"] == days
    # downstream saw all 20 upstream materializations of its own run while the run was going
    assert {rows for _, _, rows in fast_record["downstream"]["materializations"]} == {DAYS}
    assert fast_record["downstream"]["latest"] == (LAST, True)
    # one planned row per partition of the range, as the stock storage writes them
    assert {p for p, _, _ in fast_record["check_executions"] if p != "None"} == set(days)


def test_a_reopened_instance_reads_the_same_record(tmp_path):
    instance = local_instance(tmp_path / "home")
    result = run_range(instance)
    before = record_of(instance, result.run_id)
    instance.dispose()
    assert record_of(local_instance(tmp_path / "home"), result.run_id) == before
