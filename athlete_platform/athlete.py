"""``make athlete``: the whole graph for one person's own Strava data, over their entire history, then a summary
(:mod:`athlete_platform.athlete_summary`).

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
from dataclasses import dataclass
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
from athlete_platform.athlete_summary import Summary, print_summary, summarize
from athlete_platform.runner import (
    JobOutcome,
    local_instance,
    monday_on_or_before,
    quiet_environment,
    read_table,
    run_job,
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
    summary = summarize(settings.delta_root, settings.mlflow_tracking_uri, plan.start, plan.end, prediction_start, runs)
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
