"""How long ``make athlete`` takes for a long one-runner history, and where the time goes.

Runs the README command's code path (``athlete_platform.athlete.run``) on one simulated runner
(``SOURCE=simulator``) from ``--start`` to yesterday, in a fresh ``ATHLETE_PLATFORM_HOME`` with a persistent
sqlite Dagster instance, and splits each run's wall time into:

* **planning**: from the call until the run's first step starts (execution plan, run record, partition
  subsets), minus the event writes in that interval;
* **events**: time inside ``DagsterInstance.handle_new_event`` (storing every event in sqlite: run and step
  events, one materialization per partition and asset, check evaluations, logs);
* **compute**: the rest (the steps' own work: source, Spark, Delta, training, MLflow, reports).

Usage::

    .venv/bin/python benchmarks/athlete_backfill_benchmark.py                    # 12 years back from yesterday
    .venv/bin/python benchmarks/athlete_backfill_benchmark.py --years 2 --workdir /tmp/ab
    .venv/bin/python benchmarks/athlete_backfill_benchmark.py --years 1 --stock-instance   # Dagster's own storage

Prints the per-run table and totals, and writes them to ``<workdir>/results.json``. The target: at most
180 s in total for 12 years on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=float, default=12.0, help="history length before yesterday")
    parser.add_argument("--start", type=dt.date.fromisoformat, help="first day (overrides --years)")
    parser.add_argument("--workdir", type=Path, help="ATHLETE_PLATFORM_HOME (default: a new temporary folder)")
    parser.add_argument("--max-trainings", type=int, help="as make athlete's --max-trainings (default: its default)")
    parser.add_argument("--stock-instance", action="store_true",
                        help="the 'before' setup: Dagster's own sqlite storage (a dagster.yaml with telemetry off only)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="athlete_backfill_"))
    os.environ["ATHLETE_PLATFORM_HOME"] = str(workdir)
    os.environ["ATHLETE_PLATFORM_SOURCE"] = "simulator"
    os.environ.pop("ATHLETE_PLATFORM_ENV", None)
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    if args.stock_instance:
        (workdir / "dagster_home").mkdir(parents=True, exist_ok=True)
        (workdir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    wall_started = time.perf_counter()

    from dagster import DagsterInstance

    from athlete_platform import athlete, athlete_summary
    from athlete_platform.runner import quiet_environment

    if not args.stock_instance:
        quiet_environment()  # as make athlete: coarse planned events (the stock setup keeps one per partition)
    from athlete_platform.definitions import defs, settings
    from athlete_platform.partitions import daily_partitions

    yesterday = dt.date.fromisoformat(daily_partitions.get_last_partition_key())
    start = args.start or yesterday - dt.timedelta(days=round(args.years * 365.25) - 1)

    # -- instrumentation (benchmark only): event writes and the first step start of each run -------------
    current: dict = {}
    per_run: list[dict] = []
    original_handle = DagsterInstance.handle_new_event

    def timed_handle(self, event, *rest, **kwargs):
        began = time.perf_counter()
        try:
            return original_handle(self, event, *rest, **kwargs)
        finally:
            spent = time.perf_counter() - began
            if current:
                current["events_s"] += spent
                current["events"] += 1
                kind = event.dagster_event.event_type_value if event.dagster_event else "LOG"
                current["by_type"][kind] += 1
                if kind == "STEP_START" and current["first_step_at"] is None:
                    current["first_step_at"] = time.perf_counter()
                    current["events_before_first_step_s"] = current["events_s"]

    DagsterInstance.handle_new_event = timed_handle
    original_run_job = athlete.run_job

    def timed_run_job(defs_, instance, name, **kwargs):
        current.clear()
        current.update(events_s=0.0, events=0, by_type=Counter(), first_step_at=None, events_before_first_step_s=0.0)
        began = time.perf_counter()
        outcome = original_run_job(defs_, instance, name, **kwargs)
        total = time.perf_counter() - began
        first_step = current["first_step_at"] or began
        planning = (first_step - began) - current["events_before_first_step_s"]
        per_run.append({
            "job": name, "window": outcome.window, "success": outcome.success, "total_s": total,
            "planning_s": planning, "events_s": current["events_s"],
            "compute_s": total - planning - current["events_s"], "events": current["events"],
            "materializations": current["by_type"].get("ASSET_MATERIALIZATION", 0),
        })
        current.clear()
        return outcome

    athlete.run_job = timed_run_job

    run_defs = athlete.definitions_for(defs, settings, athlete.simulated_runner(start))
    summary, dagster_home = athlete.run(run_defs, settings, start=start, end=yesterday,
                                        max_trainings=args.max_trainings or athlete.MAX_TRAININGS)
    athlete_summary.print_summary(summary, settings, dagster_home)
    wall = time.perf_counter() - wall_started

    totals = {key: sum(r[key] for r in per_run) for key in ("total_s", "planning_s", "events_s", "compute_s", "events")}
    storage = "stock sqlite event log" if args.stock_instance else "FastSqliteEventLogStorage"
    print(f"\n=== athlete backfill benchmark: 1 simulated runner, {start}..{yesterday} "
          f"({(yesterday - start).days + 1} days), {storage}, workdir {workdir}, load {os.getloadavg()[0]:.1f} ===")
    header = f"{'job':22} {'window':24} {'ok':3} {'total':>7} {'planning':>9} {'events':>7} {'compute':>8} {'#events':>8} {'#mat':>6}"
    print(header)
    for r in per_run:
        print(f"{r['job']:22} {r['window']:24} {'y' if r['success'] else 'N':3} {r['total_s']:7.1f} {r['planning_s']:9.1f} "
              f"{r['events_s']:7.1f} {r['compute_s']:8.1f} {r['events']:8d} {r['materializations']:6d}")
    print(f"{'runs total':51} {totals['total_s']:7.1f} {totals['planning_s']:9.1f} {totals['events_s']:7.1f} "
          f"{totals['compute_s']:8.1f} {int(totals['events']):8d}")
    print(f"wall clock including imports, range discovery and the summary: {wall:.1f} s (target ≤ 180 s)")
    print(f"silver rows {summary.silver}, races {summary.races}, predictions on {summary.days_with_prediction} "
          f"of {summary.prediction_days} days, models {summary.trained_weeks}")
    results = {"start": str(start), "end": str(yesterday), "storage": storage, "wall_s": wall, "totals": totals, "runs": per_run,
               "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "load_average": os.getloadavg()}
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return 0 if all(r["success"] for r in per_run) else 1


if __name__ == "__main__":
    sys.exit(main())
