"""What the benchmark scripts measure with: process-tree RSS, load average, where a Dagster run's time went.

Imported by ``features_benchmark.py`` and ``scale_benchmark.py`` (run from the repository root; ``benchmarks/``
is on ``sys.path`` when a script in it runs).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any


class RssSampler:
    """Peak resident memory of this process (or ``root_pid``) and all its descendants (JVM, Python workers), from /proc, and
    the CPU seconds they used (``phase_cpu_s``: a figure the machine's load hardly changes, unlike wall time).

    The RSS sum double-counts pages shared by forked workers, so it is an upper bound. CPU time of a process
    that ends between two samples (every ``interval_s``) is counted up to its last sample.
    """

    def __init__(self, interval_s: float = 0.25, root_pid: int | None = None) -> None:
        self.interval_s = interval_s
        self.root_pid = os.getpid() if root_pid is None else root_pid
        self.peak_bytes = 0
        self.phase_peak_bytes = 0
        self._cpu_ticks: dict[int, int] = {}
        self._phase_ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "RssSampler":
        if Path("/proc/self/status").exists():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def new_phase(self) -> int:
        """Starts a new phase; returns the tree's RSS now (the phase's baseline)."""
        self.phase_peak_bytes = self._sample()
        self._phase_ticks = dict(self._cpu_ticks)
        return self.phase_peak_bytes

    @property
    def phase_cpu_s(self) -> float:
        """CPU seconds (user + system) of the process tree since ``new_phase``."""
        self._sample()
        ticks = sum(now - self._phase_ticks.get(pid, 0) for pid, now in self._cpu_ticks.items())
        return ticks / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            total = self._sample()
            self.peak_bytes = max(self.peak_bytes, total)
            self.phase_peak_bytes = max(self.phase_peak_bytes, total)

    def _sample(self) -> int:
        children: dict[int, list[int]] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime (proc(5) fields 14, 15)
            except (OSError, IndexError, ValueError):
                continue
        total, stack = 0, [self.root_pid]
        while stack:
            pid = stack.pop()
            stack.extend(children.get(pid, []))
            if pid in ticks:
                self._cpu_ticks[pid] = max(self._cpu_ticks.get(pid, 0), ticks[pid])
            try:
                with open(f"/proc/{pid}/status") as handle:
                    for line in handle:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
                            break
            except OSError:
                continue
        return total


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def run_breakdown(instance: Any, run_id: str) -> dict[str, Any]:
    """Where a run's time went, from its event log (seconds).

    Per step: ``read`` (load inputs from Delta into Spark/pandas), ``compute`` (the asset body: Spark jobs,
    pandas, check statistics), ``write`` (IO manager: Spark -> Arrow -> Delta), ``events`` (Dagster storing
    one materialization event per partition), ``rest``; per run: ``planned`` (run start to PIPELINE_START).
    """
    first: dict[tuple[str | None, str], float] = {}
    last: dict[tuple[str | None, str], float] = {}
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is None:
            continue
        key = (entry.step_key, entry.dagster_event.event_type_value)
        first.setdefault(key, entry.timestamp)
        last[key] = entry.timestamp
    run_start = min(first.values()) if first else 0.0
    out: dict[str, Any] = {"planned": first.get((None, "PIPELINE_START"), run_start) - run_start, "steps": {}}
    for step in sorted({k for k, event in first if k and event == "STEP_START"}):
        def at(event: str, which: dict = first, default: float | None = None) -> float:
            return which.get((step, event), default if default is not None else 0.0)
        start, success = at("STEP_START"), at("STEP_SUCCESS", last)
        loaded = at("LOADED_INPUT", last, start)
        output = at("STEP_OUTPUT", first, loaded)
        materialized = at("ASSET_MATERIALIZATION", first, output)
        handled = at("HANDLED_OUTPUT", first, materialized)
        out["steps"][step] = {
            "read": loaded - start, "compute": output - loaded, "write": materialized - output,
            "events": handled - materialized, "rest": success - handled,
        }
    return out


class EventTimer:
    """Time spent inside ``DagsterInstance.handle_new_event`` (storing events), per measured call.

    ``with timer.measure() as run:`` ... then ``run["events_s"]``, ``run["events"]`` and ``run["planning_s"]``
    (from entering the block to the first STEP_START, minus the event writes before it: building the plan,
    the run record, partition subsets).
    """

    def __init__(self) -> None:
        from dagster import DagsterInstance

        self.current: dict[str, Any] = {}
        original = DagsterInstance.handle_new_event
        timer = self

        def timed_handle(instance, event, *rest, **kwargs):
            began = time.perf_counter()
            try:
                return original(instance, event, *rest, **kwargs)
            finally:
                current = timer.current
                if current:
                    current["events_s"] += time.perf_counter() - began
                    current["events"] += 1
                    kind = event.dagster_event.event_type_value if event.dagster_event else "LOG"
                    current["by_type"][kind] += 1
                    if kind == "STEP_START" and current["first_step_at"] is None:
                        current["first_step_at"] = time.perf_counter()
                        current["planning_s"] = current["first_step_at"] - current["began"] - current["events_s"]

        DagsterInstance.handle_new_event = timed_handle

    def measure(self) -> "_Measured":
        return _Measured(self)


class _Measured:
    def __init__(self, timer: EventTimer) -> None:
        self.timer = timer
        self.record: dict[str, Any] = {}

    def __enter__(self) -> dict[str, Any]:
        self.record.update(events_s=0.0, events=0, by_type=Counter(), first_step_at=None, planning_s=0.0,
                           began=time.perf_counter())
        self.timer.current = self.record
        return self.record

    def __exit__(self, *exc: Any) -> None:
        self.timer.current = {}
        self.record["seconds"] = time.perf_counter() - self.record["began"]
        self.record["by_type"] = dict(self.record["by_type"])
        self.record.pop("first_step_at", None)
