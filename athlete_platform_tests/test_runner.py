"""``runner.run_job`` runs a job in this process without keeping its steps' outputs alive: a range run of the
backfill holds one step's data at a time, not every step's until the run ends (``execute_in_process`` keeps
them all for its result). Real runs on a persistent local instance."""

import gc
import weakref

from dagster import (
    DailyPartitionsDefinition,
    Definitions,
    IOManager,
    asset,
    define_asset_job,
    io_manager,
)

from athlete_platform.runner import _RUNNING_JOBS, local_instance, run_job

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")
ALIVE: dict[str, weakref.ref] = {}


class Payload:
    """A step's output: weakly referenced, so a later step can tell whether anything still holds it."""


class Discarding(IOManager):
    """Stores nothing (the platform's IO managers write to Delta and keep nothing either)."""

    def handle_output(self, context, obj):
        pass

    def load_input(self, context):
        return None


@io_manager
def discarding():
    return Discarding()


@asset(partitions_def=DAYS)
def bronze_like() -> Payload:
    payload = Payload()
    ALIVE["bronze_like"] = weakref.ref(payload)
    return payload


@asset(partitions_def=DAYS, deps=[bronze_like])
def silver_like() -> None:
    gc.collect()  # what only a cycle held is gone: whatever is left is held on purpose
    if ALIVE["bronze_like"]() is not None:
        raise RuntimeError("bronze_like's output is still held after its IO manager handled it")


def test_a_step_output_is_released_once_its_io_manager_handled_it(tmp_path):
    defs = Definitions(assets=[bronze_like, silver_like], jobs=[define_asset_job("job")],
                       resources={"io_manager": discarding})
    instance = local_instance(tmp_path / "dagster_home")

    outcome = run_job(defs, instance, "job", first="2024-01-02", quiet=True)

    assert outcome.success, outcome.errors
    assert outcome.failed_steps == [] and outcome.errors == []
    assert _RUNNING_JOBS == {}  # the registry forgets the job once its run is over
    [run] = instance.get_runs()
    assert run.tags["dagster/partition"] == "2024-01-02"
