"""What ``make demo`` and ``make athlete`` share: the local Dagster instance, running one job, reading tables.

Both run the project's own jobs from ``definitions.defs`` in this process (Dagster's ``execute_job``, in-process
executor) against a persistent local instance, so every run, materialization (one per partition) and check shows
up in ``dagster dev``.
A range is one run (single-run backfill) tagged with the range, as the UI's "Materialize → partition range"
launches it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

#: The instance settings written when ``dagster.yaml`` is missing or empty (``{base_dir}``: where the stock
#: sqlite storage keeps run event logs, so an existing instance keeps its history). Why each one:
#: * the event log is :class:`athlete_platform.instance_storage.FastSqliteEventLogStorage`: same files, but
#:   a range run's per-partition events cost ~0.6 ms instead of 6–30 ms each (see that module);
#: * telemetry off: no background telemetry writes per run;
#: * run monitoring off: runs are launched in-process here, there is no run worker to watch.
INSTANCE_YAML = """\
# Written by athlete_platform.runner for `make demo` / `make athlete` (edit freely: it is not overwritten).
event_log_storage:
  module: athlete_platform.instance_storage
  class: FastSqliteEventLogStorage
  config:
    base_dir: {base_dir}
telemetry:
  enabled: false
run_monitoring:
  enabled: false
"""


#: The console shows INFO and above: Dagster's DEBUG line per event (one per partition and asset in a
#: range run) costs time and hides the progress; every event is still stored in the instance. The progress
#: shows as one line per finished step instead (``progress.step_progress_logger``, key ``progress.STEP_PROGRESS``,
#: spelled out here so importing the runner does not import Dagster).
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}, "step_progress": {}}}


def monday_on_or_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def ensure_instance_home(dagster_home: Path) -> Path:
    """``dagster_home`` with a ``dagster.yaml`` (Dagster refuses a DAGSTER_HOME without one)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists() or not config.read_text().strip():
        config.write_text(INSTANCE_YAML.format(base_dir=json.dumps(str(dagster_home.resolve() / "history" / "runs"))))
    return dagster_home


def local_instance(dagster_home: Path) -> Any:
    """The persistent local instance under ``dagster_home`` (created when missing)."""
    from dagster import DagsterInstance

    ensure_instance_home(dagster_home)
    return DagsterInstance.from_config(str(dagster_home))


@dataclass
class JobOutcome:
    """What one job run did: enough for a summary line and for deciding what to run next."""

    name: str
    first: str
    last: str
    success: bool
    seconds: float
    run_id: str
    failed_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    checks: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def window(self) -> str:
        return self.first if self.first == self.last else f"{self.first}...{self.last}"


def run_job(defs: Any, instance: Any, name: str, *, first: str, last: str | None = None,
            run_config: dict[str, Any] | None = None, asset_selection: Any = None, quiet: bool = False) -> JobOutcome:
    """One in-process run of job ``name`` (or of the ``asset_selection`` subset of its assets) for partition
    ``first`` or the range ``first..last`` (inclusive). Prints a header, a line per finished step and a summary,
    unless ``quiet``."""
    from athlete_platform.progress import STEP_PROGRESS, step_progress_logger

    job = defs.resolve_job_def(name)
    console = dict(CONSOLE_INFO["loggers"])
    if quiet:
        console.pop(STEP_PROGRESS)
    elif STEP_PROGRESS not in job.loggers:
        # Definitions built without ``definitions.LOGGERS`` (``athlete.definitions_for``, tests' own): the
        # runner's progress lines must not depend on who assembled the job.
        job = job.with_logger_defs({**job.loggers, STEP_PROGRESS: step_progress_logger})
    last = last or first
    tags = {RANGE_START_TAG: first, RANGE_END_TAG: last} if last != first else None
    if not quiet:
        subset = f" ({', '.join(k.to_user_string() for k in asset_selection)})" if asset_selection else ""
        print(f"==> {name} [{first if tags is None else f'{first}...{last}'}]{subset}", flush=True)
    started = time.monotonic()
    with _executed_in_process(job, instance, tags=tags or {PARTITION_TAG: first},
                              run_config={"loggers": console, **(run_config or {})},
                              asset_selection=asset_selection) as result:
        elapsed = time.monotonic() - started
        failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
        checks = result.get_asset_check_evaluations()
        outcome = JobOutcome(
            name=name, first=first, last=last, success=result.success, seconds=elapsed, run_id=result.run_id,
            failed_steps=[event.step_key for event in failures],
            failed_checks=[f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed],
            checks=len(checks),
            errors=[_failure_message(event) for event in failures],
        )
    if not quiet:
        status = "SUCCESS" if outcome.success else f"FAILED (steps: {', '.join(outcome.failed_steps) or '-'})"
        print(f"    {status} in {elapsed:.0f} s; {outcome.checks} checks, not passed: "
              f"{outcome.failed_checks or 'none'}", flush=True)
        for error in outcome.errors:
            print(f"    error: {error}", flush=True)
    return outcome


#: Jobs :func:`run_job` is running, by a key of this process: what their ``ReconstructableJob`` resolves to.
_RUNNING_JOBS: dict[str, Any] = {}


def running_job(key: str) -> Any:
    """The job :func:`run_job` registered under ``key``: the reconstructor Dagster's ``execute_job`` calls, in
    this same process (the run executes here, step after step)."""
    return _RUNNING_JOBS[key]


@contextmanager
def _executed_in_process(job: Any, instance: Any, *, tags: dict[str, str], run_config: dict[str, Any],
                         asset_selection: Any) -> Iterator[Any]:
    """``job`` run in this process by ``execute_job``; its result while the block runs.

    Not ``job.execute_in_process``: that keeps every step's output value for its result until the run is over and
    the result collected (in the backfill's 92-day ingest windows, the bronze window's Arrow table through silver:
    their peak 4.32 against 3.71-3.79 GiB, benchmarks/README.md, seventh round). ``execute_job`` keeps none.
    It takes a reconstructable job: here one that resolves to ``job`` through this process's registry, which is
    all it needs with the in-process executor (the default one's ``in_process`` mode, as ``execute_in_process``
    runs)."""
    from dagster import build_reconstructable_job, execute_job, multi_or_in_process_executor

    key = uuid.uuid4().hex
    _RUNNING_JOBS[key] = job
    if job.executor_def.name == multi_or_in_process_executor.name:
        run_config = {"execution": {"config": {"in_process": {}}}, **run_config}
    try:
        reconstructable = build_reconstructable_job(__name__, running_job.__name__, (key,))
        with execute_job(reconstructable, instance, run_config=run_config, tags=tags,
                         asset_selection=list(asset_selection) if asset_selection else None) as result:
            yield result
    finally:
        _RUNNING_JOBS.pop(key, None)


def _failure_message(event: Any) -> str:
    """The first lines of a failed step's error (the user's exception message, not its traceback)."""
    from athlete_platform.progress import user_error_message

    data = getattr(event, "event_specific_data", None)
    error = getattr(data, "error", None)
    message = user_error_message(error) if error is not None else str(event.message or "").strip()
    lines = [line.strip() for line in message.splitlines() if line.strip()][:2]  # a failed check names it on line 2
    return f"{event.step_key}: {' '.join(lines) or 'failed'}"


def read_table(delta_root: Path, *path: str, columns: list[str] | None = None) -> Any:
    """A Delta table as pandas, or None when it does not exist (yet)."""
    from deltalake import DeltaTable

    location = str(delta_root.joinpath(*path))
    return DeltaTable(location).to_pandas(columns=columns) if DeltaTable.is_deltatable(location) else None


def mlflow_cv_metrics(tracking_uri: str, run_id: str) -> Any:
    """Per distance, the time-ordered CV MAE/RMSE/MAPE of the model, Riegel and VDOT and the 80 % coverage
    logged on one ``model/time_estimator`` MLflow run (metric names from ``model.tracking``; runs logged
    before the grouped names are read too)."""
    import pandas as pd
    from mlflow import MlflowClient

    from athlete_platform.model.estimator import DISTANCE_KEYS, METHODS
    from athlete_platform.model.evaluation import ALL_DISTANCES
    from athlete_platform.model.tracking import logged_coverage, logged_cv_metric

    metrics = MlflowClient(tracking_uri=tracking_uri).get_run(run_id).data.metrics
    rows = []
    for distance in (*DISTANCE_KEYS, ALL_DISTANCES):
        row: dict[str, Any] = {"distance": distance, "races": logged_cv_metric(metrics, "model", "n", distance)}
        for method in METHODS:
            for name in ("mae_s", "rmse_s", "mape_pct"):
                row[f"{method}_{name}"] = logged_cv_metric(metrics, method, name, distance)
        row["coverage80"] = logged_coverage(metrics, distance)
        rows.append(row)
    return pd.DataFrame(rows)


def where_to_look(settings: Any, dagster_home: Path) -> list[str]:
    """Lines telling the user where the data, reports and UIs are."""
    return [
        f"Data (Delta): {settings.delta_root}",
        f"Reports (PNG): {settings.reports_dir}",
        f"Dagster UI:  DAGSTER_HOME={dagster_home} .venv/bin/dagster dev -w workspace.yaml   (http://localhost:3000)",
        f"MLflow UI:   .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_tracking_uri}   (http://localhost:5000)",
    ]


#: Dagster's own switch (``EventLogStorage.supports_partition_subset_in_asset_materialization_planned_events``):
#: a range run records one "materialization planned" event per asset holding the range, instead of one per
#: asset and partition — half of a long backfill's events. Every partition still gets its own
#: materialization; what is lost is that the partitions of a *failed* range run are not marked failed
#: (they stay missing), and the runner reports failed runs itself.
COARSE_PLANNED_EVENTS = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def quiet_environment() -> None:
    """Environment for the runners' in-process runs: no NannyML usage telemetry; one planned event per asset."""
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    os.environ.setdefault(COARSE_PLANNED_EVENTS, "1")
