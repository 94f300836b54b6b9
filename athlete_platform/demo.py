"""``make demo``: the whole graph on simulated athletes, as the schedules would run it, then a summary.

Runs the project's own jobs from ``definitions.defs`` against the local Dagster instance
(``$ATHLETE_PLATFORM_HOME/dagster_home``, see :mod:`athlete_platform.runner`), so every run, materialization
and check shows up in ``dagster dev`` afterwards:

1. ``ingest_job`` over the history range, one run (single-run backfill): bronze → silver → features, labels;
2. ``weekly_features_job`` over the same weeks, one run;
3. ``weekly_training_job`` for two weeks: the first model becomes @champion, the second is gated, registered
   as @challenger and promoted only if it beats the champion;
4. ``daily_job`` over the prediction range, one run: ingestion, predictions, inference log, monitoring, reports.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from athlete_platform.runner import (
    local_instance,
    mlflow_cv_metrics,
    monday_on_or_before,
    quiet_environment,
    read_table,
    run_job,
    where_to_look,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 1, 1), help="first day ingested")
    parser.add_argument(
        "--predict-start", type=dt.date.fromisoformat, default=dt.date(2025, 11, 1), help="first prediction day"
    )
    parser.add_argument("--predict-days", type=int, default=30, help="days of daily_job after --predict-start")
    return parser.parse_args(argv)


def print_model_metrics(settings: Any, estimator: Any) -> None:
    """Time-ordered CV metrics of the newest model vs the Riegel and VDOT baselines, from its MLflow run."""
    latest = estimator.sort_values("training_week").iloc[-1]
    metrics = mlflow_cv_metrics(settings.mlflow_tracking_uri, latest["run_id"]).drop(columns=["races"])
    print(f"model trained for week {latest['training_week']} (MLflow run {latest['run_id']}), time-ordered CV:")
    print(metrics.round(2).to_string(index=False))


def summarize(settings: Any, timings: dict[str, float], dagster_home: Any) -> None:
    def table(*path: str):
        return read_table(settings.delta_root, *path)

    silver, quarantine, races = table("silver", "activities"), table("silver", "quarantine"), table("feature_store", "race_results")
    predictions, registered = table("gold", "athlete_predictions"), table("models", "registered_time_estimator")
    estimator, realized = table("models", "time_estimator"), table("monitoring", "realized_error")
    print("\n=== athlete-platform demo summary ===")
    if silver is not None:
        print(f"athletes: {silver['athlete_id'].nunique()}, activities in silver: {len(silver)}, "
              f"quarantined: {0 if quarantine is None else len(quarantine)}")
    if quarantine is not None and len(quarantine):
        print("quarantine reasons (fields):", quarantine["reject_fields"].value_counts().to_dict())
    if races is not None:
        print(f"races detected: {len(races)} {races['distance_bucket'].value_counts().to_dict()}")
    if estimator is not None:
        print_model_metrics(settings, estimator)
    if registered is not None:
        for row in registered.sort_values("training_week").to_dict("records"):
            print(f"registry: {row['model_name']} v{row['version']} (week {row['training_week']}): "
                  f"aliases now [{row['aliases']}], promoted={row['promoted']}: {row['reason']}")
    if predictions is not None:
        print(f"predictions: {len(predictions)} rows over {predictions['prediction_date'].nunique()} days, "
              f"model versions used: {sorted(predictions['model_version'].astype(str).unique())}")
    if realized is not None and len(realized):
        print(f"realized error on {len(realized)} races: MAE {realized['abs_error_s'].mean():.0f} s"
              if "abs_error_s" in realized.columns else f"realized error rows: {len(realized)}")
    print("timings (s):", {name: round(seconds) for name, seconds in timings.items()})
    print()
    for line in where_to_look(settings, dagster_home):
        print(line)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_environment()
    from athlete_platform.definitions import defs, settings

    if settings.environment != "local" or settings.source != "simulator":
        print("the demo runs on the embedded default with the simulator: unset ATHLETE_PLATFORM_ENV/SOURCE", file=sys.stderr)
        return 2
    dagster_home = settings.home / "dagster_home"
    instance = local_instance(dagster_home)
    history_end = args.predict_start - dt.timedelta(days=1)
    predict_end = args.predict_start + dt.timedelta(days=args.predict_days - 1)
    late_week = monday_on_or_before(args.predict_start)
    early_week = late_week - dt.timedelta(weeks=8)
    print(f"athlete-platform demo: history {args.start}..{history_end}, predictions {args.predict_start}..{predict_end}")
    print(f"Dagster instance: {instance.root_directory}; data: {settings.home}\n")

    timings: dict[str, float] = {}
    steps = [
        ("ingest_job", dict(first=args.start.isoformat(), last=history_end.isoformat())),
        ("weekly_features_job", dict(first=monday_on_or_before(args.start).isoformat(), last=(late_week - dt.timedelta(weeks=1)).isoformat())),
        ("weekly_training_job", dict(first=early_week.isoformat())),
        ("weekly_training_job", dict(first=late_week.isoformat())),
        ("daily_job", dict(first=args.predict_start.isoformat(), last=predict_end.isoformat())),
    ]
    all_succeeded = True
    for name, window in steps:
        outcome = run_job(defs, instance, name, **window)
        timings[f"{name} {window['first']}"] = outcome.seconds
        all_succeeded &= outcome.success
        if not outcome.success and name != "weekly_training_job":
            print(f"stopping: {name} failed; open `dagster dev` to see the run's events")
            break
    summarize(settings, timings, dagster_home)
    return 0 if all_succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
