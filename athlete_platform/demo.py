"""``make demo``: the whole graph on simulated athletes, as the schedules would run it, then a summary.

Runs the project's own jobs from ``definitions.defs`` against the local Dagster instance
(``$ATHLETE_PLATFORM_HOME/dagster_home``, see :mod:`athlete_platform.runner`), so every run, materialization
and check shows up in ``dagster dev`` afterwards:

1. ``ingest_job`` over the history range, one run (single-run backfill): bronze → silver → features, labels;
2. ``weekly_features_job`` over the same weeks, one run;
3. ``weekly_training_job`` for two weeks: the first model becomes @champion, the second is gated and
   registered as @challenger;
4. ``daily_job`` over the prediction range, one run: ingestion, predictions (the challenger scoring the same
   rows in the shadow, inference log only), monitoring, reports, and ``model/champion_decision`` as of the
   range's last day: promote, demote or keep, on the races of the range neither model trained on.

By default the prediction range is the 30 days ending yesterday (in the partitions' time zone) and the history
the two years before it, so the UI's latest partitions are filled; the same date always gives the same demo.
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


#: Days of ``daily_job`` at the end of the demo, and years of history ingested before them.
PREDICT_DAYS = 30
HISTORY_YEARS = 2


def latest_complete_day(now: dt.datetime | None = None) -> dt.date:
    """Yesterday in the partitions' time zone: the newest daily partition (today's is not one yet)."""
    from zoneinfo import ZoneInfo

    from athlete_platform.partitions import PARTITION_TIMEZONE

    zone = ZoneInfo(PARTITION_TIMEZONE)
    local_now = now.astimezone(zone) if now is not None else dt.datetime.now(zone)
    return local_now.date() - dt.timedelta(days=1)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def default_window(yesterday: dt.date, predict_days: int = PREDICT_DAYS) -> tuple[dt.date, dt.date]:
    """(first day ingested, first prediction day) so that predictions end on ``yesterday`` and the UI's
    latest partitions are filled; a pure function of the date, so a given day always runs the same demo
    (the simulated athletes do not depend on it: ``SimulatorSource.history_start`` is fixed)."""
    predict_start = yesterday - dt.timedelta(days=predict_days - 1)
    return years_before(predict_start, HISTORY_YEARS), predict_start


def parse_args(argv: list[str] | None = None, *, yesterday: dt.date | None = None) -> argparse.Namespace:
    """Arguments; unset dates default to :func:`default_window` of ``yesterday`` (default: the latest
    complete day in the partitions' time zone)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=None,
                        help=f"first day ingested (default: {HISTORY_YEARS} years before the first prediction day)")
    parser.add_argument("--predict-start", type=dt.date.fromisoformat, default=None,
                        help="first prediction day (default: so that predictions end yesterday)")
    parser.add_argument("--predict-days", type=int, default=PREDICT_DAYS, help="days of daily_job from --predict-start")
    args = parser.parse_args(argv)
    if args.predict_days < 1:
        parser.error("--predict-days must be at least 1")
    args.predict_start = args.predict_start or default_window(yesterday or latest_complete_day(), args.predict_days)[1]
    args.start = args.start or years_before(args.predict_start, HISTORY_YEARS)
    if args.start >= args.predict_start:
        parser.error(f"--start {args.start} must be before the first prediction day {args.predict_start}")
    return args


def print_model_metrics(settings: Any, estimator: Any) -> None:
    """Time-ordered CV metrics of the newest model vs the Riegel and VDOT baselines, from its MLflow run."""
    latest = estimator.sort_values("training_week").iloc[-1]
    metrics = mlflow_cv_metrics(settings.mlflow_tracking_uri, latest["run_id"]).drop(columns=["races"])
    print(f"model trained for week {latest['training_week']} (MLflow run {latest['run_id']}), time-ordered CV:")
    print(metrics.round(2).to_string(index=False))


def print_champion_vs_challenger(races: Any, log: Any, decisions: Any) -> None:
    """One day's realized error of the champion and the challenger (the day of the range with the most races
    both predicted), then the champion decision."""
    import pandas as pd

    from athlete_platform.model.promotion import common_rows, errors_by_version

    if races is not None and log is not None and len(log) and log["model_version"].nunique() > 1:
        shared = common_rows(log, sorted(log["model_version"].astype(str).unique()))
        days = pd.to_datetime(races["race_date"]).dt.date
        scored = set(zip(shared["athlete_id"].astype("int64"), pd.to_datetime(shared["prediction_date"]).dt.date))
        counts = pd.Series([(a, d) in scored for a, d in zip(races["athlete_id"].astype("int64"), days)]).groupby(days.to_numpy()).sum()
        if counts.max() > 0:
            day = counts.idxmax()
            table = errors_by_version(races[days == day], log)
            cells = [f"{row['model_role']} v{row['model_version']} MAE {row['mae_s']:.0f} s, MAPE {row['mape_pct']:.1f} %"
                     for row in table.to_dict("records")]
            print(f"realized error on {day} ({int(table['races'].max())} races, same inputs): " + " vs ".join(cells))
    if decisions is not None and len(decisions):
        last = decisions.sort_values("decision_date").iloc[-1]
        print(f"champion decision as of {last['decision_date']}: {last['action']} "
              f"(champion v{last['champion_before']} -> v{last['champion_after']}): {last['reason']}")


def summarize(settings: Any, timings: dict[str, float], dagster_home: Any) -> None:
    def table(*path: str):
        return read_table(settings.delta_root, *path)

    silver, quarantine, races = table("silver", "activities"), table("silver", "quarantine"), table("labels", "race_results")
    predictions, registered = table("inference", "athlete_predictions"), table("model", "registered_time_estimator")
    estimator, realized = table("model", "time_estimator"), table("monitoring", "realized_error")
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
    print_champion_vs_challenger(races, table("inference", "inference_log"), table("model", "champion_decision"))
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
