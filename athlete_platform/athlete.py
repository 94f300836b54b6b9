"""``make athlete``: the whole graph for one person's own Strava data, over their entire history, then a summary.

    make athlete EXPORT=<export.zip | export folder | activities.csv> TIMEZONE=<Area/City>
    make athlete SOURCE=strava_api        # STRAVA_CLIENT_ID, STRAVA_CLIENT_SECRET, STRAVA_REFRESH_TOKEN set

Everything goes to ``$ATHLETE_PLATFORM_HOME`` (Delta tables, MLflow, reports) and the Dagster instance under
``$ATHLETE_PLATFORM_HOME/dagster_home`` (created with its ``dagster.yaml``), so ``dagster dev`` afterwards shows
every run and every partition. History: the source's earliest activity (not before the first daily partition)
to yesterday. The project's own jobs run in this order, each range as **one** run (single-run backfill):

1. ``ingest_job`` over the history: bronze → silver (+ quarantine) → activity/daily/rolling features, race labels;
2. ``weekly_features_job`` over the history's complete weeks;
3. ``weekly_training_job`` for the weeks :func:`training_weeks` picks (one run per model: training is weekly
   partitioned, each week its own MLflow run and registered version);
4. ``predictions_job`` over the history with ``point_in_time_model``: for every day D the newest version
   trained before D predicts from features of D−1; realized error and overtraining alerts for every day;
   then, over the last 90 days, the DLE performance estimate, feature drift and the report; when the last day
   has no report (no activity in the 30 days before it), the report of the last day with an activity.

A failed step does not hide the others: the runner reports every run's failures and prints what exists.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from athlete_platform.asset_keys import (
    ATHLETE_REPORTS,
    FEATURE_DRIFT,
    INFERENCE_LOG,
    OVERTRAINING_ALERTS,
    PERFORMANCE_ESTIMATE,
    PREDICTIONS,
    REALIZED_ERROR,
)
from athlete_platform.runner import (
    JobOutcome,
    local_instance,
    mlflow_cv_metrics,
    monday_on_or_before,
    quiet_environment,
    read_table,
    run_job,
    where_to_look,
)
from athlete_platform.settings import SettingsError, parse_timezone

SOURCES = ("strava_export", "strava_api", "simulator")
API_SECRETS = ("STRAVA_CLIENT_ID", "STRAVA_CLIENT_SECRET", "STRAVA_REFRESH_TOKEN")
#: run config of predictions_job: per day, the newest version trained before it (inference/lineage.py).
POINT_IN_TIME = {"ops": {"athlete_predictions": {"config": {"point_in_time_model": True}}}}
#: predictions_job in two runs. Over the whole history: predictions, inference log, realized error (each race
#: against the prediction made before it) and overtraining alerts. Over the last RECENT_MONITORING_DAYS only:
#: the DLE performance estimate, feature drift (both judge the serving model on recent inputs; per day of a
#: 12-year history they cost minutes and say nothing about today) and the report (which renders the last day).
RECENT_MONITORING_DAYS = 90


def prediction_assets() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(assets run over the whole history, assets run over the recent days) of ``predictions_job``."""
    return (PREDICTIONS, INFERENCE_LOG, REALIZED_ERROR, OVERTRAINING_ALERTS), (PERFORMANCE_ESTIMATE, FEATURE_DRIFT, ATHLETE_REPORTS)
#: Models trained over a whole history: each training run costs 10–25 s here (time-ordered CV, MLflow
#: logging), so a 12-year history gets one about every four years plus the latest week (each day is served
#: by the newest model trained before it).
MAX_TRAININGS = 4


class UsageError(ValueError):
    """A setting the user must fix (printed without a traceback)."""


# -- settings from the command line --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make athlete", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export", help="Strava bulk export: .zip, its unpacked folder, or activities.csv")
    parser.add_argument("--timezone", help="IANA zone of the athlete (e.g. Europe/Lisbon); required for a CSV export")
    parser.add_argument("--source", choices=SOURCES, help="default: strava_export with --export, else $ATHLETE_PLATFORM_SOURCE")
    parser.add_argument("--start", type=dt.date.fromisoformat,
                        help="first day (default: the earliest activity); with SOURCE=simulator, the simulated start")
    parser.add_argument("--end", type=dt.date.fromisoformat, help="last day (default: yesterday)")
    parser.add_argument("--max-trainings", type=int, default=MAX_TRAININGS,
                        help=f"most weekly models trained over the history (default {MAX_TRAININGS}; see training_weeks)")
    parser.add_argument("--min-weeks-between-trainings", type=int, default=13,
                        help="fewest weeks between two trainings, besides the latest week (default 13)")
    return parser.parse_args(argv)


def configure_environment(args: argparse.Namespace, environ: dict[str, str] | Any = os.environ) -> str:
    """Check the user's settings and put them where ``settings.load_settings`` and the resources read them.

    Returns the source. Raises :class:`UsageError` with what to set when something is missing.
    """
    source = args.source or ("strava_export" if args.export else environ.get("ATHLETE_PLATFORM_SOURCE") or "")
    if not source:
        raise UsageError(
            "say whose data to run: make athlete EXPORT=<export.zip | folder | activities.csv> TIMEZONE=<Area/City>, "
            "or make athlete SOURCE=strava_api with " + ", ".join(API_SECRETS) + " in the environment"
        )
    if source == "strava_export":
        export = args.export or environ.get("STRAVA_EXPORT_PATH")
        if not export:
            raise UsageError("EXPORT=<export.zip | folder | activities.csv> is required for a Strava export")
        path = Path(export).expanduser()
        if not path.exists():
            raise UsageError(f"EXPORT={export}: no such file or folder")
        timezone = args.timezone or environ.get("STRAVA_EXPORT_TIMEZONE")
        if not timezone:
            raise UsageError(
                f"TIMEZONE=<Area/City> is required for a Strava export ({path.name}): activities.csv has UTC "
                "start times only, and the local date decides each activity's day (e.g. TIMEZONE=Europe/Lisbon)"
            )
        try:
            parse_timezone(timezone)
        except SettingsError as err:
            raise UsageError(str(err).replace("STRAVA_EXPORT_TIMEZONE", "TIMEZONE")) from None
        environ["STRAVA_EXPORT_PATH"] = str(path.resolve())
        environ["STRAVA_EXPORT_TIMEZONE"] = timezone
    elif source == "strava_api":
        missing = [name for name in API_SECRETS if not environ.get(name)]
        if missing:
            raise UsageError(f"SOURCE=strava_api needs {', '.join(missing)} in the environment")
    environ["ATHLETE_PLATFORM_SOURCE"] = source
    return source


# -- the plan ------------------------------------------------------------------------------------------


def first_partition_needed(source: Any, *, first_day: dt.date, until: dt.date) -> dt.date | None:
    """The first daily partition the history must cover: where bronze stores the source's earliest record
    (``ingest.assets.partition_dates``: records before the first partition, or undatable ones, are kept —
    and quarantined — in the first partition). ``None`` when the source has nothing up to ``until``.

    The source is read once for this (an export without its activity files). The API is not: listing a whole
    account costs rate-limited requests, so its history starts at the first partition.
    """
    from athlete_platform.ingest.assets import partition_dates

    if source.source_name == "strava_api":
        return first_day
    if "parse_activity_files" in type(source).model_fields:
        source = source.model_copy(update={"parse_activity_files": False})
    result = source.fetch(first_day, until + dt.timedelta(days=1), include_earlier=True)
    return min(partition_dates(result, first_day), default=None)


def training_weeks(race_dates: Iterable[dt.date], weeks: Sequence[dt.date], *, max_trainings: int = MAX_TRAININGS,
                   min_weeks_between: int = 13) -> list[dt.date]:
    """Mondays of the weekly partitions to train on, for a long history in a few runs.

    ``weeks``: the available weekly partitions (Mondays, ascending). Always the first week (the earliest model,
    so predictions start early) and the last week (the model for today). In between, a week where races
    appeared since the previous training (a race dated before Monday W is in W's training set) once at least
    ``spacing`` weeks have passed, with ``spacing = max(min_weeks_between, len(weeks) / (max_trainings − 1))``:
    at most ``max_trainings`` models whatever the history's length, each one trained on new races.
    """
    weeks = sorted(weeks)
    if not weeks:
        return []
    if max_trainings < 1:
        raise ValueError("max_trainings must be at least 1")
    races = sorted(race_dates)
    if max_trainings == 1 or len(weeks) == 1:
        return [weeks[-1]]
    spacing = max(min_weeks_between, math.ceil(len(weeks) / (max_trainings - 1)))

    def races_before(monday: dt.date) -> int:
        return bisect.bisect_left(races, monday)

    chosen, last_index = [weeks[0]], 0
    for index in range(1, len(weeks) - 1):
        if index - last_index >= spacing and races_before(weeks[index]) > races_before(weeks[last_index]):
            chosen.append(weeks[index])
            last_index = index
    chosen = chosen[: max_trainings - 1]  # room for the latest week
    chosen.append(weeks[-1])
    return chosen


@dataclass
class Plan:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def weeks(self) -> tuple[dt.date, dt.date] | None:
        """First and last Monday of the complete weeks in the history (weekly partitions)."""
        first = monday_on_or_before(self.start)
        last = monday_on_or_before(self.end + dt.timedelta(days=1)) - dt.timedelta(weeks=1)
        return (first, last) if last >= first else None


# -- the summary ---------------------------------------------------------------------------------------


@dataclass
class Summary:
    """What the run produced, read back from the tables (the printed summary and the tests use it)."""

    start: dt.date
    end: dt.date
    athletes: list[int] = field(default_factory=list)
    rows_in: int = 0
    silver: int = 0
    quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    superseded_duplicates: int = 0
    races: int = 0
    races_by_distance_reason: dict[str, dict[str, int]] = field(default_factory=dict)
    trained_weeks: list[str] = field(default_factory=list)
    registered_versions: list[str] = field(default_factory=list)
    latest_model: dict[str, Any] = field(default_factory=dict)
    cv_metrics: Any = None  # pandas DataFrame (model vs Riegel vs VDOT per distance) or None
    walk_forward: Any = None  # model vs Riegel vs VDOT per distance, walk-forward (model.walk_forward)
    prediction_days: int = 0
    days_with_prediction: int = 0
    days_without_model: int = 0
    days_inactive: int = 0
    model_versions_used: list[str] = field(default_factory=list)
    realized: Any = None  # per distance: races, MAE, MAPE, 80 % coverage of the predictions made before races
    report_pngs: list[str] = field(default_factory=list)
    runs: list[JobOutcome] = field(default_factory=list)


def summarize(delta_root: Path, mlflow_uri: str, plan: Plan, prediction_start: dt.date | None,
              runs: list[JobOutcome]) -> Summary:
    import pandas as pd

    from athlete_platform.model.assets import GATE_COLUMNS

    def table(*path: str, columns: list[str] | None = None) -> pd.DataFrame:
        frame = read_table(delta_root, *path, columns=columns)
        return frame if frame is not None else pd.DataFrame(columns=columns or [])

    summary = Summary(start=plan.start, end=plan.end, runs=runs)
    bronze = table("ingest", "raw_activities", columns=["athlete_id", "activity_id"])
    silver = table("silver", "activities", columns=["athlete_id", "activity_id"])
    quarantine = table("silver", "quarantine", columns=["reject_fields"])
    summary.rows_in, summary.silver, summary.quarantined = len(bronze), len(silver), len(quarantine)
    summary.athletes = sorted(int(a) for a in pd.concat([bronze["athlete_id"], silver["athlete_id"]]).dropna().unique())
    summary.quarantine_by_reason = {str(k): int(v) for k, v in quarantine["reject_fields"].value_counts().items()}
    # Every record received is either in silver, quarantined, or an older version of a silver activity.
    summary.superseded_duplicates = summary.rows_in - summary.silver - summary.quarantined

    races = table("labels", "race_results", columns=["race_date", "distance_bucket", "detection_reason"])
    summary.races = len(races)
    if len(races):
        crosstab = races.groupby(["distance_bucket", "detection_reason"]).size()
        for (distance, reason), count in crosstab.items():
            summary.races_by_distance_reason.setdefault(str(distance), {})[str(reason)] = int(count)

    estimator = table("model", "time_estimator")
    registered = table("model", "registered_time_estimator", columns=["training_week", "version"])
    summary.trained_weeks = sorted(str(w) for w in estimator.get("training_week", []))
    summary.registered_versions = sorted((str(v) for v in registered["version"]), key=int)
    if len(estimator):
        latest = estimator.sort_values("training_week").iloc[-1]
        summary.latest_model = {k: latest[k] for k in ("training_week", "run_id", "model_kind", "train_rows",
                                                        *GATE_COLUMNS.values())}
        summary.cv_metrics = mlflow_cv_metrics(mlflow_uri, latest["run_id"])
        summary.walk_forward = runner_walk_forward(table("model", "training_set"))

    if prediction_start is not None:
        predictions = table("inference", "athlete_predictions", columns=["prediction_date", "model_version"])
        days = pd.to_datetime(predictions["prediction_date"]).dt.date if len(predictions) else pd.Series([], dtype=object)
        in_range = predictions[(days >= prediction_start) & (days <= plan.end)] if len(predictions) else predictions
        summary.prediction_days = (plan.end - prediction_start).days + 1
        summary.days_with_prediction = int(pd.to_datetime(in_range["prediction_date"]).dt.date.nunique()) if len(in_range) else 0
        summary.model_versions_used = sorted({str(v) for v in in_range["model_version"]}, key=int)
        summary.days_without_model, summary.days_inactive = _days_without_prediction(
            delta_root, prediction_start, plan.end, set(pd.to_datetime(in_range["prediction_date"]).dt.date)
            if len(in_range) else set(),
        )
    realized = table("monitoring", "realized_error")
    if len(realized):
        summary.realized = realized.groupby("distance_bucket").agg(
            races=("abs_error_s", "size"), mae_s=("abs_error_s", "mean"), mape_pct=("abs_pct_error", "mean"),
            coverage80=("within_80_interval", "mean"),
        ).reset_index()
    reports = table("monitoring", "athlete_reports", columns=["report_date", "png_path"])
    summary.report_pngs = [str(p) for p in reports.sort_values(["report_date", "png_path"])["png_path"]]
    return summary


def runner_walk_forward(training_set: Any) -> Any:
    """For each of the runner's races on D, a model trained on the prior and their races before D (the
    training asset's settings), scoring features of D−1: model vs Riegel vs VDOT (``model.walk_forward``)."""
    from athlete_platform.model.assets import TimeEstimatorConfig
    from athlete_platform.model.walk_forward import runner_report

    if training_set.empty:
        return None
    latest = training_set[training_set["training_week"] == training_set["training_week"].max()]
    return runner_report(latest.drop(columns=["training_week"]).reset_index(drop=True), TimeEstimatorConfig())


def _days_without_prediction(delta_root: Path, first: dt.date, last: dt.date, predicted: set[dt.date]) -> tuple[int, int]:
    """(days before any model could serve them, days the runner was inactive) among days without a prediction.

    Inactive as inference defines it: no activity on D−42..D−1 (``inference.assets.ACTIVE_WINDOW_DAYS``).
    """
    import pandas as pd

    from athlete_platform.inference.assets import ACTIVE_WINDOW_DAYS

    daily = read_table(delta_root, "features", "athlete_daily_features", columns=["date", "activity_count"])
    active_days: set[dt.date] = set()
    if daily is not None and len(daily):
        activity_days = sorted(set(pd.to_datetime(daily.loc[daily["activity_count"] > 0, "date"]).dt.date))
        for day in activity_days:
            active_days.update(day + dt.timedelta(days=k) for k in range(1, ACTIVE_WINDOW_DAYS + 1))
    missing = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    missing = [day for day in missing if day not in predicted]
    inactive = sum(1 for day in missing if day not in active_days)
    return len(missing) - inactive, inactive


def distance_rank(name: str) -> int:
    """Where a distance bucket goes in the summary: 5k, 10k, 21k, 42k, then "all" and anything else (not
    alphabetically, which puts 42k before 5k)."""
    from athlete_platform.domain.running import STANDARD_DISTANCES_M

    order = [*STANDARD_DISTANCES_M, "all"]
    return order.index(name) if name in order else len(order)


def in_distance_order(frame: Any, column: str) -> Any:
    """``frame``'s rows by :func:`distance_rank` of ``column``."""
    return frame.sort_values(column, key=lambda names: names.map(distance_rank), kind="stable")


def latest_model_heading(latest: Any) -> str:
    """The line above the CV table: the latest training, and when a blocking gate failed, that it was not
    registered (the versions before it serve), so that its CV is not read as the served model's."""
    from athlete_platform.model.assets import GATE_COLUMNS

    failed = [check for check, column in GATE_COLUMNS.items() if latest.get(column) is not None and not latest[column]]
    verdict = (f"; not registered: its blocking check{'s' if len(failed) > 1 else ''} {' and '.join(failed)} failed"
               if failed else "")
    return (f"latest model (week {latest['training_week']}, {latest['model_kind']}, {latest['train_rows']} races, "
            f"MLflow run {latest['run_id']}{verdict}): time-ordered CV on this runner's races, model vs Riegel vs VDOT (s):")


CV_COLUMNS = ["distance", "races", "model_mae_s", "riegel_mae_s", "vdot_mae_s", "model_mape_pct", "coverage80"]


def cv_table(metrics: Any) -> str:
    """The latest model's CV metrics per distance as printed: the distances the runner raced, whole race counts,
    "-" where a figure is missing (no 80 % interval for a classical formula), then the distances without a race."""
    import pandas as pd

    raced = metrics["races"].fillna(0) > 0
    shown = metrics.loc[raced, CV_COLUMNS].copy()
    for column in CV_COLUMNS[1:]:  # None (not logged) as NaN, so that it prints as "-" and the numbers align
        shown[column] = pd.to_numeric(shown[column], errors="coerce")
    text = shown.round(2).astype({"races": "int64"}).to_string(index=False, na_rep="-")
    unraced = list(metrics.loc[~raced, "distance"])
    return text + (f"\n(no race at {', '.join(unraced)})" if unraced else "")


def print_summary(summary: Summary, settings: Any, dagster_home: Path) -> None:
    import pandas as pd

    print(f"\n=== athlete summary: {summary.start}..{summary.end} ({(summary.end - summary.start).days + 1} days), "
          f"athlete(s) {', '.join(map(str, summary.athletes)) or '-'} ===")
    print(f"records in: {summary.rows_in}  → silver: {summary.silver}, quarantined: {summary.quarantined}, "
          f"superseded duplicates: {summary.superseded_duplicates}")
    for reason, count in summary.quarantine_by_reason.items():
        print(f"  quarantined for {reason}: {count}")
    print(f"races: {summary.races}")
    for distance, reasons in sorted(summary.races_by_distance_reason.items(), key=lambda item: distance_rank(item[0])):
        print(f"  {distance}: " + ", ".join(f"{count} by {reason}" for reason, count in sorted(reasons.items())))
    print(f"models trained for weeks: {', '.join(summary.trained_weeks) or 'none'}; "
          f"registered versions: {', '.join(summary.registered_versions) or 'none'}")
    if summary.cv_metrics is not None:
        print(latest_model_heading(summary.latest_model))
        print(cv_table(summary.cv_metrics))
    if summary.walk_forward is not None:
        table = summary.walk_forward
        print("walk-forward on this runner's races (each race predicted from the features of the day before by a "
              "model trained on earlier data only, refitted every quarter (at most 16 times), the runner's newer races in its "
              "correction), MAE (s) and 80 % coverage:")
        wide = table.pivot(index="distance", columns="method", values="mae_s").round(1)
        wide["races"] = table[table["method"] == "model"].set_index("distance")["n"]
        wide["coverage80"] = table[table["method"] == "model"].set_index("distance")["coverage80"].round(2)
        print(in_distance_order(wide.reset_index(), "distance").to_string(index=False))
    if summary.prediction_days:
        print(f"predictions: {summary.days_with_prediction} of {summary.prediction_days} days "
              f"(no model trained before the day yet: {summary.days_without_model}, runner inactive for 42 days: "
              f"{summary.days_inactive}); model versions used: {', '.join(summary.model_versions_used) or 'none'}")
    if summary.realized is not None:
        print("served predictions vs races (prediction made before each race, 80 % interval coverage):")
        print(in_distance_order(pd.DataFrame(summary.realized), "distance_bucket").round(2).to_string(index=False))
    for run in summary.runs:
        status = "ok" if run.success else f"FAILED: {'; '.join(run.errors) or ', '.join(run.failed_steps)}"
        print(f"  run {run.name} [{run.window}] {run.seconds:.0f} s: {status}")
    for line in where_to_look(settings, dagster_home):
        print(line)
    if summary.report_pngs:
        print(f"Latest report: {summary.report_pngs[-1]}")


# -- main ----------------------------------------------------------------------------------------------


def definitions_for(defs: Any, settings: Any, source: Any = None) -> Any:
    """``defs`` (assets, checks, jobs, schedules, sensors) with the resources of ``settings`` — its home's
    tables and MLflow — and, when given, another ``activity_source`` (``SOURCE=simulator``: one runner)."""
    from dagster import Definitions

    from athlete_platform.resources.environments import resources_for

    resources = resources_for(settings)
    if source is not None:
        resources["activity_source"] = source
    return Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs, schedules=defs.schedules,
        sensors=defs.sensors, resources=resources,
    )


def simulated_runner(start: dt.date) -> Any:
    """One simulated runner from ``start`` (the simulator's defaults otherwise): ``SOURCE=simulator``."""
    from athlete_platform.resources.simulator_source import SimulatorSource

    return SimulatorSource(n_athletes=1, history_start=start.isoformat())


def report_as_of_last_activity(defs: Any, instance: Any, delta_root: Path, end: dt.date) -> JobOutcome | None:
    """The report of the last day with an activity, when the history's last day has none: a report charts the
    athletes with an activity in the 30 days up to its day (``monitoring.reports.top_athletes``), so a runner
    whose export stops a month or more before today would get no chart at all. None when ``end`` has a report."""
    reports = read_table(delta_root, "monitoring", "athlete_reports", columns=["report_date"])
    activities = read_table(delta_root, "silver", "activities", columns=["activity_date"])
    if (reports is not None and end in set(reports["report_date"])) or activities is None or activities.empty:
        return None
    last_active = max(activities["activity_date"])
    return run_job(defs, instance, "predictions_job", first=last_active.isoformat(), asset_selection=[ATHLETE_REPORTS])


def run(defs: Any, settings: Any, *, start: dt.date | None = None, end: dt.date | None = None,
        max_trainings: int = MAX_TRAININGS, min_weeks_between: int = 13) -> tuple[Summary, Path]:
    """The whole graph for the configured source over its history, in one persistent instance."""
    from athlete_platform.partitions import daily_partitions, weekly_partitions

    dagster_home = settings.home / "dagster_home"
    instance = local_instance(dagster_home)
    first_partition = daily_partitions.start.date()
    end = end or dt.date.fromisoformat(daily_partitions.get_last_partition_key())
    if start is None:
        source = defs.resources["activity_source"].process_config_and_initialize()
        start = first_partition_needed(source, first_day=first_partition, until=end)
        if start is None:
            raise UsageError(f"the source has no activity between {first_partition} and {end}")
    start = max(start, first_partition)
    plan = Plan(start=start, end=end)
    print(f"athlete-platform: {settings.source} history {plan.start}..{plan.end} ({plan.days} days)")
    print(f"Dagster instance: {dagster_home}; data: {settings.home}\n", flush=True)

    runs: list[JobOutcome] = []
    runs.append(run_job(defs, instance, "ingest_job", first=plan.start.isoformat(), last=plan.end.isoformat()))
    prediction_start = None
    if runs[-1].success and plan.weeks is not None:
        first_week, last_week = plan.weeks
        runs.append(run_job(defs, instance, "weekly_features_job", first=first_week.isoformat(), last=last_week.isoformat()))
        available = [dt.date.fromisoformat(k) for k in weekly_partitions.get_partition_keys()]
        weeks = [w for w in available if first_week < w <= last_week]  # W trains on races before W
        races = read_table(settings.delta_root, "labels", "race_results", columns=["race_date"])
        race_days = [] if races is None else list(races["race_date"])
        for week in training_weeks(race_days, weeks, max_trainings=max_trainings, min_weeks_between=min_weeks_between):
            runs.append(run_job(defs, instance, "weekly_training_job", first=week.isoformat()))
        trained = [dt.date.fromisoformat(r.first) for r in runs if r.name == "weekly_training_job" and r.success]
        if trained:
            history_assets, recent_assets = prediction_assets()
            prediction_start = max(plan.start, min(trained))
            runs.append(run_job(defs, instance, "predictions_job", first=prediction_start.isoformat(),
                                last=plan.end.isoformat(), run_config=POINT_IN_TIME, asset_selection=history_assets))
            recent = max(prediction_start, plan.end - dt.timedelta(days=RECENT_MONITORING_DAYS - 1))
            runs.append(run_job(defs, instance, "predictions_job", first=recent.isoformat(), last=plan.end.isoformat(),
                                asset_selection=recent_assets))
            last_report = report_as_of_last_activity(defs, instance, settings.delta_root, plan.end)
            if last_report is not None:
                runs.append(last_report)
        else:
            print("no model was trained (see the errors above): no predictions, monitoring or report", flush=True)
    summary = summarize(settings.delta_root, settings.mlflow_tracking_uri, plan, prediction_start, runs)
    return summary, dagster_home


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_environment()
    try:
        configure_environment(args)
        from athlete_platform.definitions import defs, settings
        from athlete_platform.partitions import daily_partitions

        if settings.environment != "local":
            raise UsageError("make athlete runs locally: unset ATHLETE_PLATFORM_ENV (or set it to local)")
        if settings.source == "simulator":
            defs = definitions_for(defs, settings, simulated_runner(args.start or daily_partitions.start.date()))
        started = time.monotonic()
        summary, dagster_home = run(defs, settings, start=args.start, end=args.end, max_trainings=args.max_trainings,
                                    min_weeks_between=args.min_weeks_between_trainings)
    except (UsageError, SettingsError) as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2
    print_summary(summary, settings, dagster_home)
    print(f"total: {time.monotonic() - started:.0f} s")
    return 0 if all(r.success for r in summary.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
