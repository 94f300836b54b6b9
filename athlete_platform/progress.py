"""One progress line per finished step, printed as the step finishes (issue #13).

Why: ``make demo`` / ``make athlete`` show Dagster's console at INFO, so a long run printed its header and,
minutes later, its summary, and nothing in between. Dagster's DEBUG console shows progress but one line per
event (per partition and asset in a range run): too many to read, and slow. ``step_progress_logger`` prints
what a user wants to know about each step, once, on stdout and flushed::

    ok     features/activity_features [2025-03-03...2025-03-09]: 1,000 rows, 6.0 s, 3 checks
    ok     silver/activities, silver/activity_hr_profiles, silver/quarantine [2025-03-03]: 42 / 30 / 1 rows, 4.2 s, 6 checks
    FAILED broken [2024-01-02] after 0.1 s: ValueError: sensor offline after 4 readings

A multi-asset lists its assets (the first three, then "+N") and their rows in the same order; a step that
materialized nothing (a failed one, usually) is named by its step key; a step skipped for a missing optional input
prints "skip".

It is a Dagster ``@logger``: every log record of a run carries its ``DagsterEvent`` in
``record.dagster_meta["dagster_event"]`` (``dagster/_core/log_manager.py``), events of every level reach
it, and it only reads the step events (start, materializations, check evaluations, success, failure, skip).
``definitions.py`` registers it as ``step_progress`` next to Dagster's ``console`` logger; a run enables it by
configuring it (``runner.CONSOLE_INFO``). A run that configures no logger (a UI launch by default) gets
Dagster's default console logger only, as before (``context_creation_job.create_log_manager``).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from dagster import logger

from athlete_platform.runner import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

#: The key under which ``definitions.py`` registers the logger, and runner.py's run config enables it.
STEP_PROGRESS = "step_progress"
#: Where a log record keeps the Dagster event and its context (``LOG_RECORD_METADATA_ATTR``).
_DAGSTER_META = "dagster_meta"
#: The row-count metadata our IO managers write, and the older name some assets use.
ROW_COUNT_KEYS = ("dagster/row_count", "rows")
#: A multi-asset step lists this many asset keys, then "+N".
MAX_KEYS_SHOWN = 3


@dataclass
class StepTally:
    """What one step did so far."""

    started: float = field(default_factory=time.monotonic)
    #: asset key -> its row count: a range run writes one table and Dagster copies the output's metadata onto
    #: each partition's materialization, so an asset's count is taken once, not summed over its partitions.
    rows: dict[str, int] = field(default_factory=dict)
    asset_keys: list[str] = field(default_factory=list)
    checks: int = 0
    checks_not_passed: int = 0


def user_error_message(error: Any) -> str:
    """The message of the user's exception inside Dagster's wrapping ("Error occurred while ...")."""
    while error is not None and getattr(error, "cause", None) is not None and "Error occurred while" in error.message:
        error = error.cause
    return (error.message if error is not None else "").strip()


def run_window(tags: Any) -> str:
    """The run's partition or partition range as its tags hold it ("" for an unpartitioned run)."""
    tags = tags or {}
    if RANGE_START_TAG in tags:
        first, last = tags[RANGE_START_TAG], tags.get(RANGE_END_TAG, tags[RANGE_START_TAG])
        return first if first == last else f"{first}...{last}"
    return tags.get(PARTITION_TAG, "")


def _row_count(metadata: Any) -> int | None:
    for key in ROW_COUNT_KEYS:
        value = metadata.get(key)
        value = getattr(value, "value", value)  # MetadataValue or a raw number
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return None


def _named(tally: StepTally, step_key: str) -> str:
    keys = tally.asset_keys
    if not keys:
        return step_key
    shown = ", ".join(keys[:MAX_KEYS_SHOWN])
    return shown + (f" +{len(keys) - MAX_KEYS_SHOWN}" if len(keys) > MAX_KEYS_SHOWN else "")


def _checks(tally: StepTally) -> str:
    if not tally.checks:
        return ""
    not_passed = f" ({tally.checks_not_passed} not passed)" if tally.checks_not_passed else ""
    return f", {tally.checks} check{'s' if tally.checks != 1 else ''}{not_passed}"


class StepProgressHandler(logging.Handler):
    """Tallies each step's events and prints its line when the step succeeds, fails or is skipped."""

    def __init__(self, stream: Any = None):
        super().__init__(level=logging.DEBUG)
        self._stream = stream  # None: sys.stdout at print time (pytest's capsys swaps it per test)
        self._steps: dict[str, StepTally] = {}

    def emit(self, record: logging.LogRecord) -> None:
        # The stdlib Handler contract: a handler reports its own failure (handleError prints the traceback)
        # instead of raising into the code that logged, here Dagster's event loop: a progress line must
        # never fail a run.
        try:
            self._handle(record)
        except Exception:  # noqa: BLE001 — see above
            self.handleError(record)

    def _handle(self, record: logging.LogRecord) -> None:
        meta = getattr(record, _DAGSTER_META, None) or {}
        event = meta.get("dagster_event")
        step_key = getattr(event, "step_key", None)
        if event is None or step_key is None:
            return
        kind = event.event_type_value
        if kind in ("STEP_START", "STEP_RESTARTED"):
            self._steps[step_key] = StepTally()
            return
        tally = self._steps.get(step_key) or self._steps.setdefault(step_key, StepTally())
        if kind == "ASSET_MATERIALIZATION":
            # event_specific_data, not step_materialization_data: a range run logs one per partition and asset,
            # and the property re-checks the event type each time.
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key.to_user_string()
            if key not in tally.asset_keys:
                tally.asset_keys.append(key)
            rows = _row_count(materialization.metadata)
            if rows is not None:
                tally.rows[key] = rows
        elif kind == "ASSET_CHECK_EVALUATION":
            tally.checks += 1
            tally.checks_not_passed += not event.asset_check_evaluation_data.passed
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            del self._steps[step_key]
            self._print(self._line(kind, event, step_key, tally, run_window(meta.get("job_tags"))))

    @staticmethod
    def _line(kind: str, event: Any, step_key: str, tally: StepTally, window: str) -> str:
        where = f"{_named(tally, step_key)}{f' [{window}]' if window else ''}"
        if kind == "STEP_SUCCESS":
            seconds = event.step_success_data.duration_ms / 1000
            # A multi-asset's tables hold different things (silver: activities, HR profiles, quarantine): one
            # count each, in the order of the names, not a sum that matches none of them.
            counts = [tally.rows[key] for key in tally.asset_keys if key in tally.rows]
            rows = f"{' / '.join(f'{n:,}' for n in counts)} rows, " if counts else ""
            return f"    ok     {where}: {rows}{seconds:.1f} s{_checks(tally)}"
        if kind == "STEP_SKIPPED":
            return f"    skip   {where}: an optional input was not produced"
        seconds = time.monotonic() - tally.started
        lines = user_error_message(event.step_failure_data.error).splitlines()
        first_line = next((line.strip() for line in lines if line.strip()), "") or str(event.message or "failed")
        return f"    FAILED {where} after {seconds:.1f} s: {first_line}"

    def _print(self, line: str) -> None:
        print(line, file=self._stream or sys.stdout, flush=True)


@logger(description="One line per finished step on stdout: asset keys, partition window, rows, seconds, checks.")
def step_progress_logger(init_context: Any) -> logging.Logger:
    # A logger of its own (not in logging's tree: nothing propagates to the root logger) that lets every
    # level through, because the step events it reads are DEBUG records.
    progress = logging.Logger(f"athlete_platform.{STEP_PROGRESS}", level=logging.DEBUG)
    progress.addHandler(StepProgressHandler())
    return progress
