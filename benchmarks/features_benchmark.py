"""Feature-store benchmark: the four feature assets on a simulated population, through Dagster, with IO.

Runs the assets the way a user does: the platform's local ``DagsterInstance`` in the work directory, in-process
``materialize(...)`` with the real ``DeltaTableIOManager`` and ``SparkResource`` (its defaults: local[*],
the configured shuffle partitions and driver memory) and the single-run-backfill range tags
``dagster/asset_partition_range_start/end``. Timings are wall clock and include reading and writing Delta.

Setup (timed and reported, not a target): simulate ``--athletes`` athletes over ``--years`` years from
``--start`` and materialize bronze + silver for the whole range (range runs of ``--setup-chunk-days``
days, to keep the bronze JSON of a few GB out of one Python list).

Measured:

(a) single-run backfill of the whole range: activity_features, athlete_daily_features and
    athlete_rolling_features in one run over every day, then athlete_weekly_features in one run over the
    whole weeks of the range (a weekly partition range cannot share a run with daily partitions).
    Per asset = its step's duration (load inputs + compute + checks + write); total = both runs' wall clock.
(b) the range's last day for the three daily feature assets, after (a) (full history), as the daily
    schedule would run it.
(c) the same day in a fresh work directory that holds only the last 30 days (bronze, silver and the
    three daily feature assets materialized for those days first).

Targets (2-core machine): (a) <= 10 min, (b) <= 60 s, (b)/(c) <= 1.2. Single-day runs are repeated
``--repeats`` times, (b) and (c) in turns so that a change in the machine's load hits both alike
(re-materializing the same partition is idempotent); the median counts.
Cached Spark DataFrames are dropped between runs (``spark.catalog.clearCache()``): in a deployment every
run is its own process. The Spark session is started before anything is timed.

    .venv/bin/python benchmarks/features_benchmark.py                          # 1000 athletes x 3 years
    .venv/bin/python benchmarks/features_benchmark.py --skip-setup             # reuse bronze/silver of --workdir
    .venv/bin/python benchmarks/features_benchmark.py --athletes 50 --years 1  # quick smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
# No Spark progress bars in the report (console output only; the session is otherwise SparkResource's).
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.showConsoleProgress=false pyspark-shell")

import warnings  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

from dagster import DagsterInstance, ResourceDefinition, materialize  # noqa: E402

import dagster  # noqa: E402

for _name in ("BetaWarning", "PreviewWarning", "SupersessionWarning"):
    if hasattr(dagster, _name):
        warnings.filterwarnings("ignore", category=getattr(dagster, _name))

from athlete_platform.features.assets import (  # noqa: E402
    activity_features,
    athlete_daily_features,
    athlete_rolling_features,
    athlete_weekly_features,
)
from athlete_platform.ingest.assets import raw_activities  # noqa: E402
from athlete_platform.resources.delta_io import DeltaTableIOManager  # noqa: E402
from athlete_platform.resources.simulator_source import SimulatorSource  # noqa: E402
from athlete_platform.resources.spark import SparkResource  # noqa: E402
from athlete_platform.runner import local_instance  # noqa: E402
from athlete_platform.silver.assets import silver_activities  # noqa: E402
from athlete_platform.simulation.population import simulate_population  # noqa: E402
from measure import RssSampler, gib, load_average, run_breakdown  # noqa: E402  (benchmarks/measure.py)

DAILY_FEATURES = [activity_features, athlete_daily_features, athlete_rolling_features]
GRAPH = [raw_activities, silver_activities, *DAILY_FEATURES, athlete_weekly_features]
INGEST = [raw_activities, silver_activities]
SHORT_HISTORY_DAYS = 30
TARGET_BACKFILL_S = 600.0
TARGET_DAY_S = 60.0
TARGET_RATIO = 1.2
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir).resolve()
        self.start = dt.date.fromisoformat(args.start)
        self.end = dt.date(self.start.year + args.years, self.start.month, self.start.day)  # exclusive
        self.last_day = self.end - dt.timedelta(days=1)
        self.spark = SparkResource(**({"shuffle_partitions": args.shuffle_partitions} if args.shuffle_partitions else {}),
                                   **({"driver_memory": args.driver_memory} if args.driver_memory else {}))
        self.source = SimulatorSource(n_athletes=args.athletes, history_start=self.start.isoformat(), seed=args.seed)
        self.rss = RssSampler().start()
        self.results: dict[str, Any] = {"runs": []}

    # -- plumbing ---------------------------------------------------------------------------------
    def resources(self, root: Path) -> dict[str, Any]:
        return {
            "spark": self.spark,
            "io_manager": DeltaTableIOManager(root_uri=str(root / "delta"), spark=self.spark),
            "pyspark_step_launcher": ResourceDefinition.none_resource(),
            "activity_source": self.source,
        }

    @staticmethod
    def instance(root: Path) -> DagsterInstance:
        """The instance ``make demo`` and ``make athlete`` use (``runner.local_instance``): with Dagster's stock
        sqlite event log the range run's one materialization per partition and asset cost more than its Spark
        work (61.6 s of events and 24.6 s of planned events in (a), 2026-11-30)."""
        return local_instance(root / "dagster_home")

    def run(self, label: str, root: Path, instance: DagsterInstance, selection: list, first: str,
            last: str | None = None) -> dict[str, Any]:
        """One Dagster run of ``selection`` over ``first..last`` (inclusive); returns its timings."""
        self.spark.get_session().catalog.clearCache()  # every deployed run is its own process
        self.rss.new_phase()
        load = load_average()
        began = time.perf_counter()
        kwargs: dict[str, Any] = dict(resources=self.resources(root), instance=instance, selection=selection,
                                      run_config=QUIET_LOGS)
        if last is None or last == first:
            result = materialize(GRAPH, partition_key=first, **kwargs)
        else:
            tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
            result = materialize(GRAPH, tags=tags, **kwargs)
        seconds = time.perf_counter() - began
        steps = {
            stat.step_key: (stat.end_time or 0) - (stat.start_time or 0)
            for stat in instance.get_run_step_stats(result.run_id)
        }
        checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
        record = {
            "label": label, "first": first, "last": last or first, "seconds": seconds, "steps": steps,
            "breakdown": run_breakdown(instance, result.run_id),
            "load_before": load, "load_after": load_average(), "peak_rss_bytes": self.rss.phase_peak_bytes,
            "failed_checks": [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in checks],
        }
        self.results["runs"].append(record)
        step_text = ", ".join(f"{key.split('__')[-1]} {value:.1f}s" for key, value in steps.items())
        print(f"  {label}: {seconds:.1f}s [{step_text}] load {load} -> {record['load_after']}, "
              f"peak RSS {gib(record['peak_rss_bytes'])}"
              + (f", FAILED CHECKS {record['failed_checks']}" if checks else ""), flush=True)
        if self.args.verbose:
            breakdown = record["breakdown"]
            print(f"    planned events {breakdown['planned']:.1f}s; " + "; ".join(
                f"{key.split('__')[-1]}: " + ", ".join(f"{part} {value:.1f}" for part, value in parts.items())
                for key, parts in breakdown["steps"].items()), flush=True)
        return record

    def ingest(self, label: str, root: Path, instance: DagsterInstance, start: dt.date, end: dt.date) -> float:
        """Bronze + silver for [start, end) in range runs of --setup-chunk-days."""
        total = 0.0
        chunk = dt.timedelta(days=self.args.setup_chunk_days)
        first = start
        while first < end:
            last = min(first + chunk, end) - dt.timedelta(days=1)
            total += self.run(f"{label} {first}..{last}", root, instance, INGEST, first.isoformat(),
                              last.isoformat())["seconds"]
            first = last + dt.timedelta(days=1)
        return total

    # -- phases ------------------------------------------------------------------------------------
    def setup_full(self, root: Path, instance: DagsterInstance) -> None:
        silver = root / "delta" / "silver" / "activities"
        if self.args.skip_setup:
            if not silver.is_dir():
                raise SystemExit(f"--skip-setup: no silver table at {silver}; run once without --skip-setup")
            print(f"setup skipped: reusing bronze/silver in {root}")
            return
        self.simulate()
        print(f"setup: bronze + silver {self.start}..{self.last_day} in {root}", flush=True)
        self.results["setup_full_s"] = self.ingest("bronze+silver", root, instance, self.start, self.end)

    def simulate(self) -> None:
        if "simulate_s" in self.results:
            return
        began = time.perf_counter()
        # Warm the simulator's per-process cache in two processes (same records as one, see simulator.py).
        simulate_population(self.source.simulator_params(), self.end, processes=2)
        self.results["simulate_s"] = time.perf_counter() - began
        print(f"setup: simulated {self.args.athletes} athletes in {self.results['simulate_s']:.1f}s", flush=True)

    def backfill(self, root: Path, instance: DagsterInstance) -> None:
        shutil.rmtree(root / "delta" / "feature_store", ignore_errors=True)  # a fresh backfill each time
        print(f"(a) single-run backfill {self.start}..{self.last_day}", flush=True)
        daily = self.run("(a) daily feature assets", root, instance, DAILY_FEATURES, self.start.isoformat(),
                         self.last_day.isoformat())
        first_week, last_week = self.whole_weeks()
        weekly = self.run("(a) weekly features", root, instance, [athlete_weekly_features],
                          first_week.isoformat(), last_week.isoformat())
        self.results["backfill"] = {"daily": daily, "weekly": weekly,
                                    "total_s": daily["seconds"] + weekly["seconds"]}

    def whole_weeks(self) -> tuple[dt.date, dt.date]:
        """First and last Monday of the weekly partitions lying entirely inside the range."""
        first = self.start + dt.timedelta(days=(7 - self.start.weekday()) % 7)
        last = self.end - dt.timedelta(days=7)
        last -= dt.timedelta(days=last.weekday())
        return first, last

    def setup_short(self, root: Path, instance: DagsterInstance) -> None:
        """A fresh work directory holding only the last 30 days: bronze, silver and the daily features."""
        first = self.last_day - dt.timedelta(days=SHORT_HISTORY_DAYS - 1)
        if self.args.skip_setup and (root / "delta" / Path(*activity_features.key.path)).is_dir():
            print(f"(c) setup skipped: reusing {root}")
            return
        shutil.rmtree(root / "delta", ignore_errors=True)
        self.simulate()
        print(f"(c) setup: bronze + silver + daily features {first}..{self.last_day} in {root}", flush=True)
        began = time.perf_counter()
        self.ingest("bronze+silver", root, instance, first, self.end)
        self.run("daily feature assets", root, instance, DAILY_FEATURES, first.isoformat(), self.last_day.isoformat())
        self.results["setup_short_s"] = time.perf_counter() - began

    def single_days(self, setups: dict[str, tuple[Path, DagsterInstance]]) -> None:
        """(b) and (c) in turns (b, c, b, c, ...): a change in the machine's load hits both alike."""
        runs: dict[str, list[dict[str, Any]]] = {key: [] for key in setups}
        for i in range(self.args.repeats):
            for key, (root, instance) in setups.items():
                label = "(b) full history" if key == "full_day" else f"(c) {SHORT_HISTORY_DAYS}-day history"
                runs[key].append(self.run(f"{label} {self.last_day} #{i + 1}", root, instance, DAILY_FEATURES,
                                          self.last_day.isoformat()))
        for key, records in runs.items():
            seconds = [r["seconds"] for r in records]
            steps = {step: statistics.median(r["steps"].get(step, 0.0) for r in records) for step in records[0]["steps"]}
            self.results[key] = {"median_s": statistics.median(seconds), "min_s": min(seconds), "all_s": seconds,
                                 "steps": steps}

    def main(self) -> None:
        full = self.workdir / "full_history"
        print(f"athletes {self.args.athletes}, {self.start}..{self.last_day}, workdir {self.workdir}, "
              f"{os.cpu_count()} cores, load {load_average()}", flush=True)
        began = time.perf_counter()
        self.spark.get_session()
        self.results["spark_start_s"] = time.perf_counter() - began
        instance = self.instance(full)
        if "setup" in self.args.phases:
            self.setup_full(full, instance)
        if "a" in self.args.phases:
            self.backfill(full, instance)
        setups: dict[str, tuple[Path, DagsterInstance]] = {}
        if "b" in self.args.phases:
            setups["full_day"] = (full, instance)
        if "c" in self.args.phases:
            short = self.workdir / "short_history"
            short_instance = self.instance(short)
            self.setup_short(short, short_instance)
            setups["short_day"] = (short, short_instance)
        if setups:
            print(f"(b)/(c) {self.last_day}, {self.args.repeats} runs each, in turns", flush=True)
            self.single_days(setups)
        self.rss.stop()
        self.results["peak_rss_bytes"] = self.rss.peak_bytes
        self.report()

    # -- report ------------------------------------------------------------------------------------
    def report(self) -> None:
        r = self.results
        rows: list[tuple[str, str, str, str]] = []

        def verdict(value: float, target: float) -> str:
            return "yes" if value <= target else "NO"

        for key, label in (("simulate_s", "setup: simulate population (2 processes)"),
                           ("setup_full_s", "setup: bronze + silver, whole range"),
                           ("setup_short_s", "setup (c): bronze + silver + features, last 30 days")):
            if key in r:
                rows.append((label, f"{r[key]:.1f} s", "", ""))
        if "backfill" in r:
            backfill = r["backfill"]
            for record in (backfill["daily"], backfill["weekly"]):
                for step, seconds in record["steps"].items():
                    rows.append((f"(a) {step.split('__')[-1]}", f"{seconds:.1f} s", "", ""))
            bookkeeping = sum(
                record["breakdown"]["planned"] + sum(step["events"] for step in record["breakdown"]["steps"].values())
                for record in (backfill["daily"], backfill["weekly"])
            )
            rows.append(("(a) of which Dagster per-partition events", f"{bookkeeping:.1f} s", "", ""))
            total = backfill["total_s"]
            rows.append(("(a) backfill total (2 runs, wall clock)", f"{total:.1f} s ({total / 60:.1f} min)",
                         f"<= {TARGET_BACKFILL_S / 60:.0f} min", verdict(total, TARGET_BACKFILL_S)))
        for key, label in (("full_day", "(b) last day, full history"), ("short_day", "(c) last day, 30-day history")):
            if key in r:
                for step, seconds in r[key]["steps"].items():
                    rows.append((f"{label[:3]} {step.split('__')[-1]}", f"{seconds:.1f} s", "", ""))
                day = r[key]
                target = (f"<= {TARGET_DAY_S:.0f} s", verdict(day["median_s"], TARGET_DAY_S)) if key == "full_day" else ("", "")
                rows.append((f"{label} (median of {len(day['all_s'])})", f"{day['median_s']:.1f} s", *target))
        if "full_day" in r and "short_day" in r:
            ratio = r["full_day"]["median_s"] / r["short_day"]["median_s"]
            r["ratio_b_c"] = ratio
            rows.append(("(b)/(c)", f"{ratio:.2f}", f"<= {TARGET_RATIO}", verdict(ratio, TARGET_RATIO)))
        rows.append(("peak RSS (process tree)", gib(r["peak_rss_bytes"]), "", ""))
        width = max(len(row[0]) for row in rows)
        print()
        print(f"| {'measurement'.ljust(width)} | value | target | met |")
        print(f"|{'-' * (width + 2)}|-------|--------|-----|")
        for row in rows:
            print(f"| {row[0].ljust(width)} | {row[1]} | {row[2]} | {row[3]} |")
        failed = [c for run in r["runs"] for c in run["failed_checks"]]
        if failed:
            print(f"\nWARNING: failed checks: {sorted(set(failed))}")
        r["machine"] = machine()
        r["args"] = vars(self.args)
        r["when"] = dt.datetime.now().isoformat(timespec="seconds")
        out = self.workdir / "results.json"
        out.write_text(json.dumps(r, indent=2, default=str))
        print(f"\nresults: {out}")


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    try:
        mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                           if line.startswith("MemTotal")))
    except (OSError, StopIteration):
        mem_kib = 0
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[:1]
    return f"{os.cpu_count()} cores ({model}), {mem_kib / 2**20:.0f} GiB RAM, Python {sys.version.split()[0]}, " \
           f"{java[0] if java else 'java ?'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--athletes", type=int, default=1000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--start", default="2023-01-01", help="first simulated day (ISO)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=str(REPO_ROOT / ".athlete_platform" / "features_benchmark"),
                        help="Delta tables and Dagster instances live here (full_history/, short_history/)")
    parser.add_argument("--skip-setup", action="store_true",
                        help="reuse bronze/silver (and the 30-day setup) already in --workdir")
    parser.add_argument("--setup-chunk-days", type=int, default=92, help="days per bronze+silver setup run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each single day; the median counts")
    parser.add_argument("--phases", default="setup,a,b,c", help="comma list of setup,a,b,c")
    parser.add_argument("--shuffle-partitions", type=int, default=None, help="override SparkResource's default")
    parser.add_argument("--driver-memory", default=None, help="override SparkResource's default")
    parser.add_argument("--verbose", action="store_true", help="print where each run's time went")
    args = parser.parse_args(argv)
    args.phases = set(args.phases.split(","))
    Bench(args).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
