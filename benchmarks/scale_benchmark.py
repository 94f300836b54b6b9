"""The whole daily graph at 1,000 / 3,000 / 10,000 simulated athletes, and the 1,000-athlete history backfill.

Everything runs through the platform's own jobs (``definitions.defs``, ``runner.run_job``: in-process runs
against a persistent local instance with the project's ``FastSqliteEventLogStorage``, local Spark, Delta
files, an MLflow sqlite store), as ``make demo`` and ``make athlete`` do.

``daily`` (default): for each ``--athletes`` size, in its own process (fresh Spark and memory), in
``<workdir>/daily_<N>_<history>d`` (prepared once, then reused):

* preparation (timed, not a target): ``ingest_job`` over the ``--history-days`` before ``--day`` (runs of
  ``--chunk-days``), ``weekly_features_job`` over the complete weeks, one ``weekly_training_job`` (the week
  of ``--day``: a registered @champion trained on the history), ``predictions_job`` over the last
  ``--predicted-days`` days (a serving history for monitoring);
* measured: ``daily_job`` for ``--day`` — bronze → silver → features, race labels → predictions, inference
  log → performance estimate, realized error, drift, alerts → reports — in ONE run, ``--repeats`` times in the
  preparing process (warm: Spark started, imports and JIT done), then ``--fresh-runs`` times each in a new
  process that starts Spark inside the run, as a scheduled run does under Dagster's default run launcher (these
  are judged against the targets). With ``--spark-server`` those new processes run on one local Spark Connect
  server (``athlete_platform.spark_server``, started before the first, its start not timed: it outlives runs, as a
  server kept by the laptop's user does), each ``--idle-s`` after the last; the server's memory and CPU are added
  to each run's. Re-materializing a day is idempotent; medians count. Printed: wall time,
  CPU seconds, Dagster planning and event writes, each step's time (read / compute / write from its events),
  and peak RSS of the process tree (Python, the Spark JVM, Spark's Python workers) with the baseline before the
  run.

The simulator stands in for Strava and re-simulates its whole population in every new process (its cache is
per process): the benchmark warms it before timing (``simulate_population(..., processes=2)``), so the runs
measure the platform, not the simulator. Its cache is part of the baseline RSS.

``backfill``: ``--athletes`` (default 1,000) over ``--start``..``--end`` from one command into a fresh
``<workdir>/backfill_<N>``, as ``make athlete`` orders it: ``ingest_job`` over the history in range runs of
``--window-days`` for bronze, silver and labels and of ``--feature-window-days`` for the three daily feature
tables (memory bounded by a window's work, not the history's; 0: one run), ``weekly_features_job``,
the ``weekly_training_job`` weeks ``athlete.training_weeks`` picks, ``predictions_job`` over every day from the
first model with ``point_in_time_model`` (same windows), then the recent-days monitoring run. Then the reference:
the same pure ``features.compute`` functions on the same silver rows in this one pandas process
(``--reference``), against the Spark feature stage of the ingest runs: once over the whole history in one call,
and once in the feature runs' windows on the inputs the assets read (the same work as the Spark stage: each window
re-reads a year of silver history and the rolling state's days).

    .venv/bin/python benchmarks/scale_benchmark.py daily --athletes 1000 3000 10000
    .venv/bin/python benchmarks/scale_benchmark.py daily --athletes 1000 --history-days 400
    .venv/bin/python benchmarks/scale_benchmark.py daily --athletes 1000 --history-days 92 --repeats 1 --spark-server
    .venv/bin/python benchmarks/scale_benchmark.py backfill --athletes 1000 --start 2023-01-01 --end 2025-12-31
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
TARGET_DAILY_S = {1000: 20.0, 10000: 60.0}
TARGET_RSS_BYTES = 4 * 2**30
TARGET_BACKFILL_S = 600.0
TARGET_BOOKKEEPING_SHARE = 0.15
FEATURE_STEPS = ("activity_features", "athlete_daily_features", "athlete_rolling_features", "athlete_weekly_features")


def simulate_population_fn():
    """The simulator's population builder (``simulation/population.py``)."""
    from athlete_platform.simulation.population import simulate_population

    return simulate_population


# -- the child process: one size ------------------------------------------------------------------------


class Child:
    def __init__(self, args: argparse.Namespace, home: Path) -> None:
        self.args = args
        self.home = home
        os.environ["ATHLETE_PLATFORM_HOME"] = str(home)
        os.environ["ATHLETE_PLATFORM_SOURCE"] = "simulator"
        os.environ.pop("ATHLETE_PLATFORM_ENV", None)
        os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
        # This checkout's code, in this process and in Spark's Python workers (not the venv's editable install).
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        sys.path.insert(0, str(REPO_ROOT))
        sys.path.insert(0, str(BENCH_DIR))
        from athlete_platform.runner import local_instance, quiet_environment

        quiet_environment()
        from measure import EventTimer, RssSampler

        from athlete_platform import athlete
        from athlete_platform.definitions import defs, settings
        from athlete_platform.resources.simulator_source import SimulatorSource

        self.athlete = athlete
        self.settings = settings
        self.source = SimulatorSource(n_athletes=args.athletes, history_start=self.first_day.isoformat(), seed=args.seed)
        self.defs = athlete.definitions_for(defs, settings, self.source)
        self.instance = local_instance(home / "dagster_home")
        self.rss = RssSampler().start()
        self.timer = EventTimer()
        self.runs: list[dict[str, Any]] = []

    @property
    def first_day(self) -> dt.date:
        if self.args.mode == "backfill":
            return self.args.start
        return self.args.day - dt.timedelta(days=self.args.history_days)

    def warm(self, start_spark: bool = True) -> float:
        """Simulate the population once (two processes) and start Spark: neither is the platform's work. A
        fresh-process run (``start_spark=False``) leaves Spark to the run, as a scheduled run starts it."""
        from athlete_platform.resources.spark import SparkResource

        began = time.perf_counter()
        until = (self.args.end if self.args.mode == "backfill" else self.args.day) + dt.timedelta(days=1)
        simulate_population_fn()(self.source.simulator_params(), until, processes=2)
        if start_spark:
            SparkResource().get_session()
        return time.perf_counter() - began

    def run(self, name: str, first: dt.date, last: dt.date | None = None, **kwargs: Any) -> dict[str, Any]:
        from measure import load_average, run_breakdown

        baseline = self.rss.new_phase()
        load = load_average()
        with self.timer.measure() as record:
            outcome = self.athlete.run_job(self.defs, self.instance, name, first=first.isoformat(),
                                           last=(last or first).isoformat(), **kwargs)
        steps = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in self.instance.get_run_step_stats(outcome.run_id)}
        record.update(
            job=name, window=outcome.window, success=outcome.success, errors=outcome.errors,
            failed_checks=outcome.failed_checks, steps=steps, breakdown=run_breakdown(self.instance, outcome.run_id),
            baseline_rss=baseline, peak_rss=self.rss.phase_peak_bytes, cpu_s=self.rss.phase_cpu_s, load_before=load, load_after=load_average(),
        )
        record.pop("began", None)
        self.runs.append(record)
        print(f"  -> {name} {outcome.window}: {record['seconds']:.1f} s, CPU {record['cpu_s']:.1f} s (planning {record['planning_s']:.1f}, "
              f"events {record['events_s']:.1f} for {record['events']}), peak RSS {record['peak_rss'] / 2**30:.2f} GiB "
              f"(baseline {baseline / 2**30:.2f}), load {load} -> {record['load_after']}\n     steps: "
              + ", ".join(f"{step_name(k)} {v:.1f}" for k, v in steps.items()), flush=True)
        return record

    # -- daily ---------------------------------------------------------------------------------------
    def prepare_daily(self) -> dict[str, Any]:
        marker = self.home / "prepared.json"
        if marker.exists():
            return json.loads(marker.read_text())
        a = self.args
        began = time.perf_counter()
        first, last = self.first_day, a.day - dt.timedelta(days=1)
        for window, window_end in self.windows(first, last, a.chunk_days):
            if not self.run("ingest_job", window, window_end)["success"]:
                raise SystemExit("preparation failed (ingest_job)")
        weeks = self.athlete.Plan(start=first, end=last).weeks
        if weeks is not None:
            self.run("weekly_features_job", *weeks)
        week = self.athlete.monday_on_or_before(a.day)
        if not self.run("weekly_training_job", week)["success"]:
            raise SystemExit("preparation failed (weekly_training_job): no model to serve")
        if a.predicted_days:
            self.run("predictions_job", a.day - dt.timedelta(days=a.predicted_days), last)
        prepared = {"seconds": time.perf_counter() - began, "runs": self.runs[:]}
        marker.write_text(json.dumps(prepared, default=str))
        return prepared

    def daily(self) -> dict[str, Any]:
        if self.args.fresh_run:  # one run in this new process, on the tables an earlier child prepared
            if not (self.home / "prepared.json").exists():
                raise SystemExit(f"{self.home} is not prepared: run without --fresh-run first")
            warm_s = self.warm(start_spark=False)
            return {"mode": "daily", "athletes": self.args.athletes, "history_days": self.args.history_days,
                    "day": str(self.args.day), "warm_s": warm_s, "runs": [self.run("daily_job", self.args.day)]}
        warm_s = self.warm()
        prepared = self.prepare_daily()
        measured = [self.run("daily_job", self.args.day) for _ in range(self.args.repeats)]
        return {"mode": "daily", "athletes": self.args.athletes, "history_days": self.args.history_days,
                "day": str(self.args.day), "warm_s": warm_s, "prepare_s": prepared["seconds"], "runs": measured,
                "reference": self.daily_reference()}

    def daily_reference(self) -> dict[str, Any]:
        """The day's three feature tables by the same pure functions as the Spark steps, on the inputs those steps
        read, in this one pandas process: the daily run's reference (:meth:`window_reference`)."""
        result = self.window_reference(self.args.day, self.args.day)
        timings = result["seconds"]
        print(f"  -> pandas reference of the day's feature steps: {timings['total']:.2f} s "
              f"({', '.join(f'{k} {v:.2f}' for k, v in timings.items() if k != 'total')})", flush=True)
        return result

    def window_reference(self, first: dt.date, last: dt.date) -> dict[str, Any]:
        """The three daily feature tables of ``first..last`` by the same pure functions as the Spark steps, on the
        inputs those steps read (a year of silver history, the window's HR profiles, the daily and rolling rows of
        the day before, the rolling state window of daily rows), in this one pandas process."""
        import pyarrow.dataset as ds
        from deltalake import DeltaTable

        from athlete_platform.asset_keys import DAILY_FEATURES, ROLLING_FEATURES, SILVER_ACTIVITIES, SILVER_HR_PROFILES
        from athlete_platform.features import compute
        from athlete_platform.features.assets import HISTORY_DAYS
        from athlete_platform.features.compute.buckets import activity_features_for_athletes, rolling_for_athletes

        params = compute.FeatureParams()
        before = first - dt.timedelta(days=1)

        def rows(key: Any, column: str, low: dt.date, high: dt.date, columns: list[str] | None = None):
            dataset = DeltaTable(str(self.settings.delta_root / Path(*key.path))).to_pyarrow_dataset()
            window = (ds.field(column) >= low) & (ds.field(column) <= high)
            return dataset.to_table(columns=columns, filter=window).to_pandas()

        timings: dict[str, float] = {}
        began = time.perf_counter()
        silver = rows(SILVER_ACTIVITIES, "activity_date", first - dt.timedelta(days=HISTORY_DAYS), last,
                      list(compute.ACTIVITY_INPUT_COLUMNS))
        profiles = rows(SILVER_HR_PROFILES, "activity_date", first, last)
        previous_daily = rows(DAILY_FEATURES, "date", before, before)
        state_days = rows(DAILY_FEATURES, "date", first - dt.timedelta(days=params.state_window_days), before)
        previous_rolling = rows(ROLLING_FEATURES, "as_of_date", before, before)
        timings["read"] = time.perf_counter() - began

        t = time.perf_counter()
        activity = activity_features_for_athletes(silver, profiles, start=first, config=params)
        timings["activity_features"] = time.perf_counter() - t
        t = time.perf_counter()
        continuing = previous_daily[["athlete_id", "date"]].rename(columns={"date": "first_activity_date"})
        daily = compute.daily_features(activity, continuing, first, last + dt.timedelta(days=1))
        timings["athlete_daily_features"] = time.perf_counter() - t
        t = time.perf_counter()
        rolling_for_athletes(pd_concat(state_days, daily), previous_rolling, start=first, config=params)
        timings["athlete_rolling_features"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - began
        return {"seconds": timings, "activities": len(activity), "daily_rows": len(daily)}

    # -- backfill ------------------------------------------------------------------------------------
    def backfill(self) -> dict[str, Any]:
        from athlete_platform.partitions import weekly_partitions
        from athlete_platform.runner import read_table

        a = self.args
        warm_s = self.warm()
        began = time.perf_counter()
        plan = self.athlete.Plan(start=a.start, end=a.end)
        ok = self.ingest(plan.start, plan.end)
        trained: list[dt.date] = []
        if ok and plan.weeks is not None:
            first_week, last_week = plan.weeks
            self.run("weekly_features_job", first_week, last_week)
            available = [dt.date.fromisoformat(k) for k in weekly_partitions.get_partition_keys()]
            weeks = [w for w in available if first_week < w <= last_week]
            races = read_table(self.settings.delta_root, "labels", "race_results", columns=["race_date"])
            for week in self.athlete.training_weeks([] if races is None else list(races["race_date"]), weeks,
                                                    max_trainings=a.max_trainings):
                if self.run("weekly_training_job", week)["success"]:
                    trained.append(week)
        if trained:
            history_assets, recent_assets = self.athlete.prediction_assets()
            prediction_start = max(plan.start, min(trained))
            for first, last in self.windows(prediction_start, plan.end):
                self.run("predictions_job", first, last, run_config=self.athlete.POINT_IN_TIME,
                         asset_selection=history_assets)
            recent = max(prediction_start, plan.end - dt.timedelta(days=self.athlete.RECENT_MONITORING_DAYS - 1))
            self.run("predictions_job", recent, plan.end, asset_selection=recent_assets)
        total = time.perf_counter() - began
        result = {"mode": "backfill", "athletes": a.athletes, "start": str(a.start), "end": str(a.end),
                  "warm_s": warm_s, "total_s": total, "runs": self.runs, "trained_weeks": [str(w) for w in trained]}
        if a.reference:
            result["reference"] = self.pandas_reference()
        return result

    def ingest(self, first: dt.date, last: dt.date) -> bool:
        """``ingest_job`` over ``first..last``: in ``--window-days`` windows, or, with a different
        ``--feature-window-days``, bronze, silver and labels in the former and the feature tables in the latter.
        Each stage's memory grows with its own rows per day: bronze's raw JSON per day weighs far more than a day
        of features, and each feature range run pays Spark's fixed cost per step once (measured: a 365-day window
        of the three daily feature tables 28 s at 2.2 GiB, four 92-day windows 40-54 s)."""
        from athlete_platform.asset_keys import ACTIVITY_FEATURES, DAILY_FEATURES, ROLLING_FEATURES
        from athlete_platform.jobs import INGEST_KEYS

        feature_keys = [ACTIVITY_FEATURES, DAILY_FEATURES, ROLLING_FEATURES]
        if self.feature_windows(first, last) == self.windows(first, last):
            return all(self.run("ingest_job", a, b)["success"] for a, b in self.windows(first, last))
        sources = [key for key in INGEST_KEYS if key not in feature_keys]
        return (all(self.run("ingest_job", a, b, asset_selection=sources)["success"] for a, b in self.windows(first, last))
                and all(self.run("ingest_job", a, b, asset_selection=feature_keys)["success"]
                        for a, b in self.feature_windows(first, last)))

    def feature_windows(self, first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
        return self.windows(first, last, self.args.feature_window_days)

    def windows(self, first: dt.date, last: dt.date, days: int | None = None) -> list[tuple[dt.date, dt.date]]:
        """``first..last`` in consecutive windows of ``days`` (default ``--window-days``; one Dagster range run
        each; 0: one run). A remainder shorter than a quarter window joins the last window: three years in 365-day
        windows are three runs, not three and a one-day run (a leap day) that pays every step's fixed cost."""
        days = self.args.window_days if days is None else days
        if days <= 0:
            return [(first, last)]
        step = dt.timedelta(days=days)
        bounds = []
        while first <= last:
            bounds.append((first, min(first + step - dt.timedelta(days=1), last)))
            first += step
        if len(bounds) > 1 and (bounds[-1][1] - bounds[-1][0]).days + 1 < days / 4:
            bounds[-2:] = [(bounds[-2][0], bounds[-1][1])]
        return bounds

    def pandas_reference(self) -> dict[str, Any]:
        """The four feature tables from the same silver rows by the pure functions, in this process."""
        from deltalake import DeltaTable

        from athlete_platform.features import compute

        delta = self.settings.delta_root
        self.rss.new_phase()
        began = time.perf_counter()
        silver = DeltaTable(str(delta / "silver" / "activities")).to_pandas(columns=list(compute.ACTIVITY_INPUT_COLUMNS))
        profiles = DeltaTable(str(delta / "silver" / "activity_hr_profiles")).to_pandas()
        read_s = time.perf_counter() - began
        end = self.args.end + dt.timedelta(days=1)
        timings: dict[str, float] = {"read": read_s}

        def timed(name: str, fn, *fn_args):
            t = time.perf_counter()
            out = fn(*fn_args)
            timings[name] = time.perf_counter() - t
            return out

        activity = timed("activity_features", compute.activity_features, silver, profiles, None)
        daily = timed("athlete_daily_features", compute.daily_features, activity, {}, self.args.start, end)
        timed("athlete_rolling_features", compute.rolling_features, daily, None)
        timed("athlete_weekly_features", compute.weekly_features, daily)
        timings["total"] = time.perf_counter() - began
        print(f"  -> pandas reference: {timings['total']:.1f} s {timings}, peak RSS "
              f"{self.rss.phase_peak_bytes / 2**30:.2f} GiB", flush=True)
        peak, activity_rows, daily_rows = self.rss.phase_peak_bytes, len(activity), len(daily)
        del silver, profiles, activity, daily
        # The same functions in the feature runs' windows, on the inputs the assets read: the work the Spark stage
        # does (each window re-reads a year of silver history and the rolling state's days), without Spark.
        windowed: dict[str, float] = {"athlete_weekly_features": timings["athlete_weekly_features"]}
        for first, last in self.feature_windows(self.args.start, self.args.end):
            for name, seconds in self.window_reference(first, last)["seconds"].items():
                windowed[name] = windowed.get(name, 0.0) + seconds
        windowed["total"] += windowed["athlete_weekly_features"]
        print(f"  -> pandas reference in the feature runs' windows: {windowed['total']:.1f} s {windowed}", flush=True)
        return {"seconds": timings, "windowed_seconds": windowed, "peak_rss": peak, "rows": activity_rows,
                "daily_rows": daily_rows}


def pd_concat(*frames: Any) -> Any:
    """Row-wise concatenation of frames with the same columns (empty ones left out)."""
    import pandas as pd

    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else frames[0]


def prepared_history_present(home: Path, day: dt.date) -> bool:
    """Whether ``home`` holds what a daily run reads, where this code reads it: rolling features of the day before
    ``day`` (a preparation by code with other table paths would leave the run without history)."""
    from deltalake import DeltaTable

    from athlete_platform.asset_keys import ROLLING_FEATURES

    path = home / "delta" / Path(*ROLLING_FEATURES.path)  # settings.delta_root of that ATHLETE_PLATFORM_HOME
    if not DeltaTable.is_deltatable(str(path)):
        return False
    import pyarrow.dataset as ds

    previous = ds.field("as_of_date") == (day - dt.timedelta(days=1))
    return DeltaTable(str(path)).to_pyarrow_dataset().count_rows(filter=previous) > 0


def child_main(args: argparse.Namespace) -> int:
    if args.mode == "daily":
        home = Path(args.workdir) / f"daily_{args.athletes}_{args.history_days}d"
        if (home / "prepared.json").exists() and not prepared_history_present(home, args.day):
            if args.fresh_run:
                raise SystemExit(f"{home}: its preparation is gone")
            import shutil

            print(f"{home}: prepared by other code (no rolling features for the day before {args.day} where this "
                  "code keeps them): preparing again", flush=True)
            shutil.rmtree(home)
    else:
        home = Path(args.workdir) / f"backfill_{args.athletes}_{args.start}_{args.end}"
        if home.exists() and not args.keep:
            import shutil

            shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    child = Child(args, home)
    result = child.daily() if args.mode == "daily" else child.backfill()
    child.rss.stop()
    result["peak_rss_process"] = child.rss.peak_bytes
    Path(args.result_file).write_text(json.dumps(result, indent=2, default=str))
    return 0


# -- the parent: one child per size, then the table ----------------------------------------------------


def step_name(step_key: str) -> str:
    return step_key.split("__")[-1]


def daily_table(results: list[dict[str, Any]]) -> list[str]:
    """Per size: runs each in a new process (Spark started by the run: what a scheduled run costs; judged against
    the targets) and runs in the process that prepared the tables (warm: Spark, imports and JIT done)."""
    lines = ["| athletes | history | daily_job, new process: median (runs) | CPU | peak RSS | same process: median (runs) "
             "| CPU | peak RSS (baseline) | planning + events | target | met |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        runs, fresh = r["runs"], r.get("fresh_runs") or []
        judged = fresh or runs
        judged_median = statistics.median(x["seconds"] for x in judged)
        peak = max(x["peak_rss"] for x in judged)
        target = TARGET_DAILY_S.get(r["athletes"])
        met = "-" if target is None else ("yes" if judged_median <= target else "**no**")
        rss_met = "yes" if peak <= TARGET_RSS_BYTES else "**no**"

        def cell(xs: list[dict[str, Any]]) -> str:
            if not xs:
                return "| - | - | -"
            return (f"| {statistics.median(x['seconds'] for x in xs):.1f} s ({' / '.join(format(x['seconds'], '.1f') for x in xs)}) "
                    f"| {statistics.median(x.get('cpu_s', 0.0) for x in xs):.1f} s "
                    f"| {max(x['peak_rss'] for x in xs) / 2**30:.2f} GiB")

        bookkeeping = statistics.median(x["planning_s"] + x["events_s"] for x in judged)
        lines.append(
            f"| {r['athletes']:,} | {r['history_days']} d{' (new processes on a Spark Connect server, its memory and CPU included)' if r.get('spark_server') else ''} "
            f"{cell(fresh)} {cell(runs)} "
            f"({min(x['baseline_rss'] for x in runs) / 2**30 if runs else float('nan'):.2f}) | {bookkeeping:.1f} s "
            f"| {'' if target is None else f'≤ {target:.0f} s, '}≤ 4 GiB | {met} / {rss_met} |")
    for r in results:
        if r.get("reference") and r["runs"]:  # --repeats 0: no same-process run to compare
            spark = statistics.median(sum(x["steps"].get(k, 0.0) for k in x["steps"] if step_name(k) in FEATURE_STEPS)
                                      for x in r["runs"])
            pandas_s = r["reference"]["seconds"]["total"]
            lines.append(f"\n{r['athletes']:,} athletes, the day's three feature steps: Spark {spark:.1f} s (median, same "
                         f"process) vs the same pure functions in pandas {pandas_s:.2f} s (reading included): "
                         f"ratio {spark / max(pandas_s, 1e-9):.1f}.")
    lines += ["", "Per step, median seconds in new processes / in the preparing process "
              "(the latter split read / compute / write from the step's events):", ""]
    steps = sorted({s for r in results for x in [*r["runs"], *(r.get("fresh_runs") or [])] for s in x["steps"]})
    lines.append("| step | " + " | ".join(f"{r['athletes']:,}" for r in results) + " |")
    lines.append("|---|" + "---|" * len(results))
    for step in steps:
        cells = []
        for r in results:
            fresh = [x["steps"][step] for x in r.get("fresh_runs") or [] if step in x["steps"]]
            warm = [x for x in r["runs"] if step in x["steps"]]
            parts = [x["breakdown"]["steps"].get(step, {}) for x in warm]
            split = "/".join(format(statistics.median(p.get(k, 0.0) for p in parts), ".1f")
                             for k in ("read", "compute", "write")) if parts else ""
            cells.append(f"{statistics.median(fresh):.1f} / " if fresh else "- / ")
            cells[-1] += f"{statistics.median(x['steps'][step] for x in warm):.1f} ({split})" if warm else "-"
        lines.append(f"| {step_name(step)} | " + " | ".join(cells) + " |")
    return lines


def run_group(run: dict[str, Any]) -> str:
    """A run's row in the backfill table: its job, and which part of it when the backfill splits the job."""
    steps = [step_name(k) for k in run["steps"]]
    if run["job"] == "predictions_job":
        return f"predictions_job ({', '.join(sorted(steps))})"
    if run["job"] == "ingest_job":
        features = [name for name in steps if name in FEATURE_STEPS]
        if not features:
            return "ingest_job (bronze, silver, labels)"
        if len(features) == len(steps):
            return "ingest_job (features)"
    return run["job"]


def backfill_table(r: dict[str, Any]) -> list[str]:
    """Runs grouped by job and asset selection (a history in windows is several range runs of one job)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for x in r["runs"]:
        groups.setdefault(run_group(x), []).append(x)
    lines = ["| runs | window | ok | seconds | CPU (tree) | planning | events | peak RSS |", "|---|---|---|---|---|---|---|---|"]
    for key, runs in groups.items():
        window = f"{runs[0]['window'].split('...')[0]}…{runs[-1]['window'].split('...')[-1]}"
        ok = "y" if all(x["success"] for x in runs) else f"{sum(not x['success'] for x in runs)} failed"
        lines.append(f"| {key} ×{len(runs)} | {window} | {ok} | {sum(x['seconds'] for x in runs):.1f} "
                     f"| {sum(x.get('cpu_s', 0.0) for x in runs):.1f} | {sum(x['planning_s'] for x in runs):.1f} "
                     f"| {sum(x['events_s'] for x in runs):.1f} | {max(x['peak_rss'] for x in runs) / 2**30:.2f} GiB |")
    total = r["total_s"]
    bookkeeping = sum(x["planning_s"] + x["events_s"] for x in r["runs"])
    peak = max(x["peak_rss"] for x in r["runs"])
    lines.append(f"| **total** | | | **{total:.1f}** (≤ {TARGET_BACKFILL_S:.0f}) | {sum(x.get('cpu_s', 0.0) for x in r['runs']):.1f} "
                 f"| {sum(x['planning_s'] for x in r['runs']):.1f} | {sum(x['events_s'] for x in r['runs']):.1f} "
                 f"| {peak / 2**30:.2f} GiB (≤ 4) |")
    lines.append(f"\nDagster planning + event writes: {bookkeeping:.1f} s = {bookkeeping / total:.1%} of the wall time "
                 f"(target ≤ {TARGET_BOOKKEEPING_SHARE:.0%}); the simulator warm-up before it: {r['warm_s']:.1f} s.")
    steps: dict[str, float] = {}
    for x in r["runs"]:
        if x["job"] in ("ingest_job", "weekly_features_job"):
            for k, v in x["steps"].items():
                steps[step_name(k)] = steps.get(step_name(k), 0.0) + v
    if steps:
        lines.append("\ningest and weekly feature steps, summed over their runs (s): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    if "reference" in r and steps:
        spark = {name: steps[name] for name in FEATURE_STEPS if name in steps}
        ref = r["reference"]["seconds"]
        spark_total = sum(spark.values())
        windowed = r["reference"].get("windowed_seconds", {})
        lines.append("\n| feature stage | Spark assets (step time: read + compute + checks + write) | pandas, one call "
                     "over the history | ratio | pandas, in the feature runs' windows | ratio |")
        lines.append("|---|---|---|---|---|---|")
        for name, seconds in spark.items():
            one, per_window = ref.get(name, 0.0), windowed.get(name, 0.0)
            lines.append(f"| {name} | {seconds:.1f} s | {one:.1f} s | {seconds / max(one, 1e-9):.2f} "
                         f"| {per_window:.1f} s | {seconds / max(per_window, 1e-9):.2f} |")
        lines.append(f"| all four (pandas incl. reading: {ref['read']:.1f} s / {windowed.get('read', 0.0):.1f} s) "
                     f"| {spark_total:.1f} s | {ref['total']:.1f} s | **{spark_total / ref['total']:.2f}** (≤ 2) "
                     f"| {windowed.get('total', 0.0):.1f} s | {spark_total / max(windowed.get('total', 0.0), 1e-9):.2f} |")
        lines.append(f"\npandas reference peak RSS {r['reference']['peak_rss'] / 2**30:.2f} GiB")
    return lines


def fresh_runs(args: argparse.Namespace, command: list[str], workdir: Path, size: int) -> list[dict[str, Any]]:
    """``--fresh-runs`` daily runs, each in a new process; with ``--spark-server`` all of them on one Spark Connect
    server started before the first (its start is not timed: it outlives runs), each ``--idle-s`` after the last."""
    from measure import RssSampler

    from athlete_platform import spark_server
    from athlete_platform.settings import SPARK_REMOTE_VAR

    env = dict(os.environ)
    server_dir = workdir / "spark-connect"
    if args.spark_server:
        began = time.perf_counter()
        state = spark_server.start(server_dir, port=args.spark_server_port)
        env[SPARK_REMOTE_VAR] = state.url
        print(f"== Spark Connect server at {state.url} (pid {state.pid}) started in {time.perf_counter() - began:.1f} s",
              flush=True)
    runs: list[dict[str, Any]] = []
    server_rss = RssSampler(root_pid=state.pid).start() if args.spark_server else None
    try:
        for index in range(args.fresh_runs):
            if args.spark_server and args.idle_s:
                time.sleep(args.idle_s)
            fresh_file = workdir / f"result_daily_{size}_fresh{index + 1}.json"
            print(f"== {size:,} athletes, run {index + 1} of {args.fresh_runs} in a new process"
                  + (f" on the server (idle {args.idle_s:.0f} s before)" if args.spark_server else ""), flush=True)
            if server_rss is not None:
                server_rss.new_phase()
            fresh = subprocess.run([*command[:-1], str(fresh_file), "--fresh-run"], env=env)
            if fresh.returncode == 0:
                run = json.loads(fresh_file.read_text())["runs"][0]
                if server_rss is not None:  # the server's JVM and Python workers work for the run: counted in
                    run.update(client_peak_rss=run["peak_rss"], server_peak_rss=server_rss.phase_peak_bytes,
                               server_cpu_s=server_rss.phase_cpu_s)
                    run["peak_rss"] += server_rss.phase_peak_bytes
                    run["cpu_s"] += run["server_cpu_s"]
                    print(f"     on the server: peak RSS {run['server_peak_rss'] / 2**30:.2f} GiB, CPU {run['server_cpu_s']:.1f} s"
                          f" -> together {run['peak_rss'] / 2**30:.2f} GiB, CPU {run['cpu_s']:.1f} s", flush=True)
                runs.append(run)
    finally:
        if server_rss is not None:
            server_rss.stop()
        if args.spark_server:
            spark_server.stop(server_dir)
    return runs


def parent_main(args: argparse.Namespace, argv: list[str]) -> int:
    from measure import load_average

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = args.athletes if args.mode == "daily" else args.athletes[:1]
    results = []
    print(f"scale benchmark ({args.mode}) sizes {sizes}, workdir {workdir}, {os.cpu_count()} cores, load {load_average()}",
          flush=True)
    for size in sizes:
        result_file = workdir / f"result_{args.mode}_{size}.json"
        child_argv = [a for a in argv if a not in ("--child",)]
        command = [sys.executable, __file__, *child_argv, "--child", "--size", str(size), "--result-file", str(result_file)]
        print(f"== {size:,} athletes", flush=True)
        began = time.perf_counter()
        completed = subprocess.run(command)
        if completed.returncode != 0:
            print(f"== {size:,} athletes FAILED (exit {completed.returncode}) after {time.perf_counter() - began:.0f} s")
            continue
        result = json.loads(result_file.read_text())
        if args.mode == "daily":
            result["fresh_runs"] = fresh_runs(args, command, workdir, size)
            result["spark_server"] = args.spark_server
        results.append(result)
    if not results:
        return 1
    lines = daily_table(results) if args.mode == "daily" else backfill_table(results[0])
    text = "\n".join(lines)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes")
    print(f"\nmeasured {stamp}, load average now {load_average()}\n\n{text}")
    (workdir / f"table_{args.mode}.md").write_text(text + "\n")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=("daily", "backfill"), default="daily")
    parser.add_argument("--athletes", type=int, nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=os.environ.get("SCALE_BENCHMARK_DIR", "/tmp/athlete_platform_scale"))
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31), help="daily: the day run")
    parser.add_argument("--history-days", type=int, default=120, help="daily: days of history before --day")
    parser.add_argument("--chunk-days", type=int, default=92, help="daily: days per preparation ingest run")
    parser.add_argument("--predicted-days", type=int, default=14, help="daily: days predicted before --day")
    parser.add_argument("--repeats", type=int, default=3, help="daily: runs in the process that prepared the tables")
    parser.add_argument("--fresh-runs", type=int, default=3,
                        help="daily: then runs each in a new process that starts Spark itself, as a scheduled run does")
    parser.add_argument("--spark-server", action="store_true",
                        help="daily: the new-process runs use one Spark Connect server (athlete_platform.spark_server)")
    parser.add_argument("--spark-server-port", type=int, default=15012, help=argparse.SUPPRESS)
    parser.add_argument("--idle-s", type=float, default=0.0,
                        help="daily, with --spark-server: seconds the server sits idle before each run (a schedule's "
                             "next run; Spark stops idle Python workers after a minute)")
    parser.add_argument("--window-days", type=int, default=92,
                        help="backfill: ingest and point-in-time predictions in range runs of this many days (0: one run)")
    parser.add_argument("--feature-window-days", type=int, default=365,
                        help="backfill: the three daily feature tables in range runs of this many days, after bronze, "
                             "silver and labels in --window-days runs (0: one run)")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1), help="backfill: first day")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31), help="backfill: last day")
    parser.add_argument("--max-trainings", type=int, default=4, help="backfill: weekly models (athlete.training_weeks)")
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                        help="backfill: the pandas reference of the feature stage (default on)")
    parser.add_argument("--keep", action="store_true", help="backfill: keep an earlier backfill's tables")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fresh-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.athletes is None:
        args.athletes = [1000, 3000, 10000] if args.mode == "daily" else [1000]
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sys.path.insert(0, str(BENCH_DIR))
    sys.path.insert(0, str(REPO_ROOT))  # this checkout's package, also before a child sets its PYTHONPATH
    if args.child:
        args.athletes = args.size
        return child_main(args)
    return parent_main(args, argv)


if __name__ == "__main__":
    sys.exit(main())
