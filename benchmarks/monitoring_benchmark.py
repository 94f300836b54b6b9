"""The recent-days monitoring step of the backfill, alone: ``predictions_job`` with ``feature_drift`` and
``performance_estimate`` over a range, on an existing home (e.g. a copy of ``scale_benchmark.py backfill``'s).

Runs the two assets as the backfill does (``athlete.run_job`` on ``athlete.definitions_for(defs, settings)``
and the home's persistent instance), prints each step's seconds and the process tree's peak RSS, and, with
``--compare DIR``, checks the written partitions against ``DIR/baseline_<asset>.parquet`` (saved from an
earlier run) with ``assert_frame_equal`` after sorting. ``--profile FILE`` writes a cProfile of the run.

    ATHLETE_PLATFORM_HOME=/tmp/home .venv/bin/python benchmarks/monitoring_benchmark.py \\
        --first 2025-10-03 --last 2025-12-31 --compare /tmp/baseline

The home's Delta tables get new versions (deltalake writes new files, never edits old ones in place).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
ASSETS = {"feature_drift": ("monitoring_date",), "performance_estimate": ("prediction_date",)}


def compare(delta_root: Path, baseline_dir: Path, first: dt.date, last: dt.date, assets: list[str]) -> None:
    import pandas as pd
    from deltalake import DeltaTable

    sort_keys = {"feature_drift": ["monitoring_date", "feature"],
                 "performance_estimate": ["prediction_date", "model_version", "distance"]}
    for name in assets:
        date_column = ASSETS[name][0]
        now = DeltaTable(str(delta_root / "monitoring" / name)).to_pandas()
        before = pd.read_parquet(baseline_dir / f"baseline_{name}.parquet")

        def window(frame: pd.DataFrame) -> pd.DataFrame:
            days = pd.to_datetime(frame[date_column]).dt.date
            frame = frame[(days >= first) & (days <= last)]
            return frame.sort_values(sort_keys[name]).reset_index(drop=True)[sorted(frame.columns)]

        pd.testing.assert_frame_equal(window(now), window(before), check_exact=True)
        print(f"{name}: {len(window(now))} rows identical to the baseline", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=dt.date.fromisoformat, default=dt.date(2025, 10, 3))
    parser.add_argument("--last", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    parser.add_argument("--assets", nargs="+", choices=sorted(ASSETS), default=sorted(ASSETS))
    parser.add_argument("--compare", type=Path, help="directory of baseline_<asset>.parquet to compare with")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    args = parser.parse_args()

    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
    sys.path.insert(0, str(REPO_ROOT))
    sys.path.insert(0, str(BENCH_DIR))
    from athlete_platform.runner import local_instance, quiet_environment

    quiet_environment()
    from measure import RssSampler

    from athlete_platform import athlete
    from athlete_platform.asset_keys import FEATURE_DRIFT, PERFORMANCE_ESTIMATE
    from athlete_platform.definitions import defs, settings

    keys = {"feature_drift": FEATURE_DRIFT, "performance_estimate": PERFORMANCE_ESTIMATE}
    home = Path(os.environ["ATHLETE_PLATFORM_HOME"])
    instance = local_instance(home / "dagster_home")
    definitions = athlete.definitions_for(defs, settings)
    rss = RssSampler().start()
    baseline = rss.new_phase()
    profiler = cProfile.Profile() if args.profile else None
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    outcome = athlete.run_job(definitions, instance, "predictions_job", first=args.first.isoformat(),
                              last=args.last.isoformat(), asset_selection=[keys[a] for a in args.assets])
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    seconds = time.perf_counter() - began
    steps = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(outcome.run_id)}
    print(f"RESULT success={outcome.success} wall {seconds:.1f} s, peak RSS {rss.phase_peak_bytes / 2**30:.2f} GiB "
          f"(baseline {baseline / 2**30:.2f}); steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()),
          flush=True)
    rss.stop()
    if not outcome.success:
        raise SystemExit(f"run failed: {outcome.errors}")
    if args.compare:
        compare(settings.delta_root, args.compare, args.first, args.last, args.assets)


if __name__ == "__main__":
    main()
