"""The model of an older commit on a real runner's races: the "before" of ``realdata_model_report.py``.

An older commit's estimator (trained, as it was served, on 60 simulated athletes only) scores the race rows
that *today's* pipeline builds for one real export, so both versions are compared on the same races:

    git worktree add /tmp/before 05fd7fa      # the commit before the per-athlete model
    .venv/bin/python benchmarks/legacy_model_on_real_runner.py --code /tmp/before \\
        ../shared/realdata/aakashb_activities.csv Asia/Kolkata

Prints MAE of that model, Riegel and VDOT (races with a 90-day best effort) and its 80 % interval coverage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_LEGACY = """
import datetime as dt, pickle, sys
import numpy as np
from athlete_platform.domain.simulator import SimulatorConfig
from athlete_platform.model import contract
from athlete_platform.model.baselines import baseline_for_rows
from athlete_platform.model.estimator import EstimatorParams, own_distance_prediction, train_time_estimator
from athlete_platform.model.simulated_data import build_tables
from athlete_platform.model.training_set import point_in_time_join

tables = build_tables(SimulatorConfig(seed=42, n_athletes=60, history_start=dt.date(2023, 1, 1)), dt.date(2026, 1, 1))
rows = point_in_time_join(tables.races, tables.rolling).rows
model = train_time_estimator(rows, EstimatorParams(), n_folds=4, gap_days=43, min_train_races=100).model
real = pickle.load(open(sys.argv[1], "rb"))
pred, lo, hi = own_distance_prediction(model.predict(contract.model_input(real)), real["distance_bucket"])
truth = real["official_time_s"].to_numpy()
riegel = baseline_for_rows(real, real["distance_bucket"], "riegel")
vdot = baseline_for_rows(real, real["distance_bucket"], "vdot")
ok = np.isfinite(riegel) & np.isfinite(vdot)
mae = lambda p: float(np.mean(np.abs(p[ok] - truth[ok])))
print(f"{len(real)} races, {int(ok.sum())} with a best effort: MAE model {mae(pred):.1f} s, Riegel {mae(riegel):.1f} s, "
      f"VDOT {mae(vdot):.1f} s; 80 % coverage {np.mean((truth[ok] >= lo[ok]) & (truth[ok] <= hi[ok])):.0%}")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", type=Path, required=True, help="a checkout (worktree) of the older commit")
    parser.add_argument("export", type=Path)
    parser.add_argument("timezone")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from athlete_platform.model.history_tables import history_tables, records_from_file

    rows = history_tables(records_from_file(args.export, args.timezone)).rows
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.pkl"
        path.write_bytes(pickle.dumps(rows))
        # A separate interpreter with the old checkout first on the path: the two versions never mix.
        return subprocess.call([sys.executable, "-W", "ignore", "-c", f"import sys; sys.path.insert(0, {str(args.code)!r})\n"
                                + _LEGACY, str(path)], cwd=str(args.code))


if __name__ == "__main__":
    raise SystemExit(main())
