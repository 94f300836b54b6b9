"""Learning curve of the race-time model: does it improve (or hold) as athletes are added?

For each population size (same simulator seed, 2023-01-01 .. 2025-12-31): simulator → silver → features →
race labels → point-in-time rows in pandas (``model.simulated_data``), then the time-ordered CV the training
asset runs, with the asset's own defaults (``TimeEstimatorConfig``). Per distance: MAE and RMSE of the model,
Riegel, VDOT and the **oracle bound** — the simulator's true VDOT on race morning (Daniels-Gilbert time) times
the median course/weather/day-form factor of that distance, i.e. the best any model can do when only the
race-day noise is left — and the coverage of the model's 80 % intervals.

``--platform N`` then runs the platform's own assets at N athletes on real Delta tables and a real MLflow
store (``model/training_set`` → ``model/time_estimator`` with its blocking gates →
``model/registered_time_estimator``, then ``inference/athlete_predictions`` for the next day with the champion)
and prints the gates, the registered version and how many active athletes got predictions.

    .venv/bin/python benchmarks/model_learning_curve.py                         # 60, 300, 1000, 3000
    .venv/bin/python benchmarks/model_learning_curve.py --sizes 60 300 --platform 0
    .venv/bin/python benchmarks/model_learning_curve.py --sizes 1000 --platform 1000

Populations are cached under ``--workdir`` (a 3,000-athlete build takes several minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from athlete_platform.domain.race_baselines import vdot_race_time  # noqa: E402
from athlete_platform.model.contract import DISTANCES_M  # noqa: E402
from athlete_platform.model.estimator import DISTANCE_KEYS  # noqa: E402
from athlete_platform.model.training import cross_validate  # noqa: E402
from athlete_platform.simulation.config import SimulatorParams  # noqa: E402

START, END = dt.date(2023, 1, 1), dt.date(2026, 1, 1)
SEED = 42
CHUNK_ATHLETES = 250


def population_tables(athletes: int, workdir: Path, *, keep_tables: bool = False) -> dict:
    """Training rows and oracle VDOTs of ``athletes`` simulated athletes (cached); with ``keep_tables`` also
    the race, rolling and daily tables the platform run writes. Built in chunks of athletes — each athlete's
    records, features and labels depend on that athlete alone, so the result is the same as one build —
    to keep memory bounded (3,000 athletes in one pandas build need > 18 GB)."""
    cache = workdir / f"population_{athletes}_seed{SEED}{'_tables' if keep_tables else ''}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from athlete_platform.simulation.population import simulate_athlete
    from athlete_platform.simulation.strava_json import athlete_records
    from athlete_platform.features import compute
    from athlete_platform.model.history_tables import rolling_from_silver, silver_from_records
    from athlete_platform.labels.race_detection import detect_races
    from athlete_platform.model.training_set import point_in_time_join
    from athlete_platform.resources.sources import SourceRecord

    config = SimulatorParams(seed=SEED, n_athletes=athletes, history_start=START)
    began = time.perf_counter()
    parts: dict[str, list[pd.DataFrame]] = {"rows": [], "races": [], "rolling": [], "daily": []}
    true_vdot: dict[int, float] = {}
    for first in range(0, athletes, CHUNK_ATHLETES):
        records = []
        for index in range(first, min(first + CHUNK_ATHLETES, athletes)):
            athlete = simulate_athlete(config, index, END)
            true_vdot.update({race.activity_id: race.true_vdot for race in athlete.races})
            records += [SourceRecord("simulator", a, day, activity)
                        for a, day, activity in athlete_records(athlete, START, END, START)]
        silver, _ = silver_from_records(records)
        rolling = rolling_from_silver(silver, START, END)
        races = detect_races(silver, None).races
        parts["rows"].append(point_in_time_join(races, rolling).rows)
        if keep_tables:
            parts["races"].append(races)
            parts["rolling"].append(rolling)
            parts["daily"].append(compute.daily_features(compute.activity_features(silver, None, None), {}, START, END))
        print(f"  {min(first + CHUNK_ATHLETES, athletes):,} of {athletes:,} athletes built", flush=True)
    data = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items() if frames}
    data["rows"] = data["rows"].sort_values(["race_date", "athlete_id", "activity_id"], kind="stable").reset_index(drop=True)
    data["true_vdot"], data["build_s"] = true_vdot, time.perf_counter() - began
    cache.write_bytes(pickle.dumps(data))
    return data


def oracle_times(oof: pd.DataFrame, true_vdot: dict[int, float]) -> np.ndarray:
    """Daniels-Gilbert time at the true VDOT, scaled per distance by the median actual/ideal factor."""
    ideal = np.array([vdot_race_time(true_vdot[a], DISTANCES_M[d]) if a in true_vdot else np.nan
                      for a, d in zip(oof["activity_id"], oof["distance_bucket"])])
    out = np.full(len(oof), np.nan)
    for distance in DISTANCE_KEYS:
        mask = (oof["distance_bucket"] == distance).to_numpy() & np.isfinite(ideal)
        if mask.any():
            out[mask] = ideal[mask] * np.exp(np.median(np.log(oof["official_time_s"].to_numpy()[mask] / ideal[mask])))
    return out


def curve_row(athletes: int, data: dict) -> list[dict]:
    from athlete_platform.model.assets import TimeEstimatorConfig

    config = TimeEstimatorConfig()
    began = time.perf_counter()
    cv = cross_validate(data["rows"], config.estimator_params(), n_folds=config.n_folds, gap_days=config.gap_days,
                        min_train_races=config.min_train_races, min_train_days=config.min_train_days)
    seconds = time.perf_counter() - began
    oof = cv.oof.copy()
    oof["oracle_s"] = oracle_times(oof, data["true_vdot"])
    coverage = dict(zip(cv.coverage["distance"], cv.coverage["coverage"]))
    records = []
    for distance in [*DISTANCE_KEYS, "all"]:
        part = oof if distance == "all" else oof[oof["distance_bucket"] == distance]
        error = {m: part[f"{m}_s"] - part["official_time_s"] for m in ("model", "riegel", "vdot", "oracle")}
        records.append({
            "athletes": athletes, "distance": distance, "n": len(part),
            **{f"{m}_mae": float(np.nanmean(np.abs(e))) for m, e in error.items()},
            **{f"{m}_rmse": float(np.sqrt(np.nanmean(e**2))) for m, e in error.items()},
            "coverage": coverage.get(distance, float("nan")),
            "train_rows": len(data["rows"]), "cv_s": seconds,
            "folds": "; ".join(f"≤{f.train_end} {f.train.size}→{f.test.size}" for f in cv.folds),
        })
    return records


def print_curve(records: list[dict]) -> None:
    print("| athletes | distance | races tested | MAE model / Riegel / VDOT / oracle (s) | below Riegel | "
          "RMSE model / Riegel / VDOT / oracle (s) | 80 % coverage |")
    print("|---|---|---|---|---|---|---|")
    for r in records:
        print(f"| {r['athletes']:,} | {r['distance']} | {r['n']:,} | {r['model_mae']:.1f} / {r['riegel_mae']:.1f} / "
              f"{r['vdot_mae']:.1f} / {r['oracle_mae']:.1f} | {1 - r['model_mae'] / r['riegel_mae']:.0%} | "
              f"{r['model_rmse']:.1f} / {r['riegel_rmse']:.1f} / {r['vdot_rmse']:.1f} / {r['oracle_rmse']:.1f} | "
              f"{r['coverage']:.1%} |")


def platform_run(athletes: int, data: dict, workdir: Path) -> None:
    """The platform's training and prediction assets on real Delta tables and a real MLflow store."""
    from dagster import AssetSpec, DagsterInstance, ResourceDefinition, materialize
    from deltalake import DeltaTable, write_deltalake
    import pyarrow as pa

    from athlete_platform.features.assets import athlete_daily_features, athlete_rolling_features
    from athlete_platform.asset_keys import PREDICTIONS
    from athlete_platform.inference.assets import athlete_predictions
    from athlete_platform.labels.assets import RACE_RESULTS_SCHEMA, race_results
    from athlete_platform.model.assets import time_estimator, training_set
    from athlete_platform.model.registration_asset import registered_time_estimator
    from athlete_platform.resources.delta_io import DeltaTableIOManager
    from athlete_platform.resources.mlflow_resource import MlflowResource
    from athlete_platform.resources.spark import SparkResource

    root = Path(tempfile.mkdtemp(prefix=f"platform_{athletes}_", dir=workdir))
    delta = root / "delta"
    for asset, frame, schema in ((race_results, data["races"], RACE_RESULTS_SCHEMA),
                                 (athlete_rolling_features, data["rolling"], None),
                                 (athlete_daily_features, data["daily"], None)):
        path = delta.joinpath(*asset.key.path)
        path.mkdir(parents=True)
        write_deltalake(str(path), pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
    spark = SparkResource(master="local[1]")
    resources = {
        "spark": spark,
        "io_manager": DeltaTableIOManager(root_uri=str(delta), spark=spark),
        "pyspark_step_launcher": ResourceDefinition.none_resource(),
        "mlflow": MlflowResource(tracking_uri=f"sqlite:///{(root / 'mlflow.db').as_posix()}",
                                 artifact_location=str(root / "mlflow-artifacts"), model_name="time_estimator"),
    }

    def spec(assets_def):
        return AssetSpec(assets_def.key, partitions_def=assets_def.partitions_def,
                         metadata=dict(assets_def.metadata_by_key[assets_def.key]))

    instance = DagsterInstance.ephemeral()
    week, day = "2025-12-22", "2025-12-31"
    began = time.perf_counter()
    trained = materialize([spec(race_results), spec(athlete_rolling_features), training_set, time_estimator,
                           registered_time_estimator], partition_key=week, resources=resources, instance=instance,
                          raise_on_error=False)
    train_s = time.perf_counter() - began
    print(f"\n## The platform's training assets at {athletes:,} athletes (week {week}): "
          f"{'SUCCESS' if trained.success else 'FAILURE'} in {train_s:.0f} s")
    for event in trained.get_asset_check_evaluations():
        print(f"- check {event.check_name}: {'passed' if event.passed else 'FAILED'} "
              f"({event.metadata.get('result').value if event.metadata.get('result') else ''})")
    for event in trained.asset_materializations_for_node("model__registered_time_estimator"):
        print(f"- registered v{event.metadata['version'].value}, aliases {event.metadata['aliases'].value}")
    if not trained.success:
        return
    began = time.perf_counter()
    predicted = materialize([spec(athlete_rolling_features), spec(athlete_daily_features), athlete_predictions],
                            partition_key=day, resources=resources, instance=instance, raise_on_error=False)
    rows = DeltaTable(str(delta.joinpath(*PREDICTIONS.path))).to_pandas() if predicted.success else pd.DataFrame()
    last = pd.Timestamp(day) - pd.Timedelta(days=1)
    daily = data["daily"]
    recent = pd.to_datetime(daily["date"]) >= last - pd.Timedelta(days=41)
    active = daily.loc[recent & (daily["activity_count"] > 0), "athlete_id"].nunique()
    print(f"- daily predictions for {day}: {'SUCCESS' if predicted.success else 'FAILURE'} in "
          f"{time.perf_counter() - began:.0f} s, {len(rows):,} rows for {active:,} athletes active in the 42 days before")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60, 300, 1000, 3000])
    parser.add_argument("--platform", type=int, default=1000, help="athletes for the platform run (0: none)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "athlete_platform_learning_curve")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    records = []
    for athletes in args.sizes:
        data = population_tables(athletes, args.workdir)
        rows = curve_row(athletes, data)
        records += rows
        print(f"{athletes:,} athletes: {len(data['rows']):,} training rows, built in {data['build_s']:.0f} s, "
              f"CV {rows[0]['cv_s']:.0f} s; folds {rows[0]['folds']}", flush=True)
    print()
    print_curve(records)
    if args.platform:
        platform_run(args.platform, population_tables(args.platform, args.workdir, keep_tables=True), args.workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
