"""Walk-forward evaluation of the race-time model on real runners (``../shared/realdata``), against Riegel and VDOT.

For every real file whose runner has at least ``--min-races`` detected races (``labels.race_detection``): the
file goes through the platform's pure chain (silver → features → race labels → point-in-time rows,
``model.history_tables``), then for each race day D a model is trained on the population prior (the
simulated athletes ``model/time_estimator`` adds to a small population) plus the runner's races strictly
before D, and predicts the races of D from the features of D−1 (``model.walk_forward``). Per distance:
MAE and MAPE of the model, Riegel and VDOT on the races all three can predict (a formula needs a best
effort in the last 90 days), and the coverage of the model's 80 % intervals.

    .venv/bin/python benchmarks/realdata_model_report.py
    .venv/bin/python benchmarks/realdata_model_report.py --variant no-correction   # population model only

The files are read where they are; nothing of them is written anywhere. Takes ~1-2 min per runner.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from athlete_platform.model.assets import TimeEstimatorConfig  # noqa: E402
from athlete_platform.model.history_tables import history_tables, records_from_file  # noqa: E402
from athlete_platform.model.population_prior import simulated_prior_rows  # noqa: E402
from athlete_platform.model.walk_forward import REFIT_DAYS, prior_interval_halfwidths, walk_forward, walk_forward_metrics  # noqa: E402

DEFAULT_REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
#: Home zones of the exports (their CSVs have UTC times only); API payloads carry their own.
TIMEZONES = {
    "aakashb_activities.csv": "Asia/Kolkata",
    "slalom007_activities.csv": "Europe/Budapest",
    "garethharcombe_activities.csv": "Pacific/Auckland",
    "michaeldik_activities.csv": "America/New_York",
}
VARIANTS = {"default": {}, "no-correction": {"athlete_correction": False}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--min-races", type=int, default=10)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    parser.add_argument("--refit-days", type=int, default=REFIT_DAYS,
                        help="refit the model after this many days (0: for every race day); as make athlete does")
    args = parser.parse_args(argv)
    if not args.realdata.is_dir():
        print(f"no real data at {args.realdata}")
        return 1
    config = TimeEstimatorConfig()
    params = config.estimator_params().__class__(**{**config.estimator_params().as_dict(), **VARIANTS[args.variant]})
    prior = simulated_prior_rows(config.prior_athletes)
    halfwidths = prior_interval_halfwidths(prior, params, n_folds=config.n_folds, gap_days=config.gap_days,
                                           min_train_races=config.min_train_races, min_train_days=config.min_train_days)
    print(f"# Walk-forward on real runners (variant {args.variant}; prior: {config.prior_athletes} simulated "
          f"athletes, {len(prior)} races)\n")
    files = sorted(p for p in args.realdata.iterdir() if p.suffix in (".csv", ".json") and "detailed" not in p.name
                   and "streams" not in p.name)
    for path in files:
        tables = history_tables(records_from_file(path, TIMEZONES.get(path.name)))
        rows = tables.rows
        if len(rows) < args.min_races:
            print(f"- {path.name}: {len(rows)} races, fewer than {args.min_races}: not evaluated")
            continue
        began = time.perf_counter()
        predictions = walk_forward(rows, prior, params, halfwidths, args.refit_days)
        table = walk_forward_metrics(predictions)
        print(f"\n## {path.name}: {len(rows)} races, {int(table.loc[(table['method'] == 'model') & (table['distance'] == 'all'), 'n'].iloc[0])} "
              f"with a 90-day best effort ({time.perf_counter() - began:.0f} s)\n")
        print("| distance | n | MAE model / Riegel / VDOT (s) | MAPE model / Riegel / VDOT (%) | 80 % coverage |")
        print("|---|---|---|---|---|")
        for distance in [d for d in ("5k", "10k", "21k", "42k", "all") if d in set(table["distance"])]:
            part = table[table["distance"] == distance].set_index("method")
            print(f"| {distance} | {int(part.loc['model', 'n'])} | "
                  + " / ".join(f"{part.loc[m, 'mae_s']:.1f}" for m in ("model", "riegel", "vdot")) + " | "
                  + " / ".join(f"{part.loc[m, 'mape_pct']:.2f}" for m in ("model", "riegel", "vdot"))
                  + f" | {part.loc['model', 'coverage80']:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
