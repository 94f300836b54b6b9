"""Race-time model report on a simulated population, in pandas (no Spark, no Dagster, no MLflow).

Simulator → silver (``parse_record``) → rolling features (``features.compute``) → race labels
(``labels.race_detection``) → point-in-time training set (``model.training_set``) → time-ordered
cross-validation with a 43-day gap (``model.estimator``), printing per distance the MAE / RMSE / MAPE of
the model and of the Riegel and VDOT baselines on the same folds, and the coverage of the 80 % intervals
(each fold's intervals calibrated on earlier folds only).

    .venv/bin/python benchmarks/model_report.py                 # 60 athletes × 3 years, default model
    .venv/bin/python benchmarks/model_report.py --compare       # + the other model variants
    .venv/bin/python benchmarks/model_report.py --athletes 20 --years 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from athlete_platform.model.estimator import EstimatorParams  # noqa: E402
from athlete_platform.model.training import cross_validate, metrics_markdown  # noqa: E402
from athlete_platform.model.simulated_data import build_tables  # noqa: E402
from athlete_platform.model.training_set import point_in_time_join  # noqa: E402
from athlete_platform.simulation.config import SimulatorParams  # noqa: E402

VARIANTS = {
    "gbm_pooled, Riegel offset (default)": {},
    "gbm_pooled, VDOT offset": {"offset": "vdot"},
    "gbm_per_distance, Riegel offset": {"model_kind": "gbm_per_distance"},
    "gbm_pooled, squared loss": {"loss": "squared_error"},
    "Riegel formula as the model": {"model_kind": "baseline"},
    "constant (trivial)": {"model_kind": "constant"},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--athletes", type=int, default=60)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2023-01-01", help="first simulated day (ISO)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--gap-days", type=int, default=43)
    parser.add_argument("--min-train-races", type=int, default=300)
    parser.add_argument("--compare", action="store_true", help="also evaluate the other model variants")
    args = parser.parse_args(argv)

    start = dt.date.fromisoformat(args.start)
    end = dt.date(start.year + args.years, start.month, start.day)
    config = SimulatorParams(seed=args.seed, n_athletes=args.athletes, history_start=start)
    began = time.perf_counter()
    tables = build_tables(config, end)
    join = point_in_time_join(tables.races, tables.rolling)
    rows = join.rows
    truth = {race.activity_id for athlete in tables.population() for race in athlete.races if start <= race.date < end}
    detected = set(tables.races["activity_id"])
    in_silver = truth & set(tables.silver["activity_id"])
    print(f"# Race-time model report: {args.athletes} simulated athletes, {start} .. {end} (seed {args.seed})\n")
    print(f"- silver activities: {len(tables.silver)} (rejected records: {tables.rejected})")
    print(f"- races detected: {len(tables.races)}; simulator truth in the window: {len(truth)}, of which "
          f"{len(truth - in_silver)} quarantined in silver (broken records); missed among silver races: "
          f"{len(in_silver - detected)}; detected but not races: {len(detected - truth)}")
    print(f"- training rows: {len(rows)} (races without an earlier feature row: {len(join.unmatched)}); "
          f"rows without a 90-day best effort (baseline fallback): {int(rows['best_effort_10k_s'].isna().sum())}")
    print(f"- by distance: {rows['distance_bucket'].value_counts().to_dict()}")
    print(f"- data built in {time.perf_counter() - began:.1f} s\n")

    variants = VARIANTS if args.compare else {k: v for k, v in list(VARIANTS.items())[:1]}
    summary = []
    for label, overrides in variants.items():
        began = time.perf_counter()
        cv = cross_validate(rows, EstimatorParams(**overrides), n_folds=args.folds, gap_days=args.gap_days,
                            min_train_races=args.min_train_races)
        seconds = time.perf_counter() - began
        if not summary:
            print(f"## {label}\n")
            print("Folds (expanding window, gap ≥ {} days):".format(args.gap_days))
            for fold in cv.folds:
                print(f"- fold {fold.index}: train {fold.train.size} races ≤ {fold.train_end}, test {fold.test.size} "
                      f"races {fold.test_start} .. {fold.test_end} (gap {fold.gap_days} d)")
            print()
            print(metrics_markdown(cv))
            print("\n80 % interval coverage (folds ≥ 1, calibrated on earlier folds):",
                  ", ".join(f"{r['distance']} {r['coverage']:.1%} (n={r['n']})" for r in cv.coverage.to_dict("records")))
            print(f"\nCV time {seconds:.1f} s\n")
        summary.append((label, cv, seconds))
    if args.compare:
        print("## Variants (out-of-fold, all folds)\n")
        print("| variant | MAE all s | MAE 5k | MAE 10k | MAE 21k | MAE 42k | MAPE all % | coverage all | CV s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, cv, seconds in summary:
            cover = cv.coverage.loc[cv.coverage["distance"] == "all", "coverage"]
            cells = [f"{cv.metric('model', d):.1f}" for d in ("all", "5k", "10k", "21k", "42k")]
            print(f"| {label} | " + " | ".join(cells) + f" | {cv.metric('model', 'all', 'mape_pct'):.2f} | "
                  f"{float(cover.iloc[0]):.1%} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
