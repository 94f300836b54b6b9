"""``make athlete`` (athlete_platform/athlete.py): settings checks, the training cadence, and one whole run.

The end-to-end test runs the runner's own code path (``athlete.run``) on one simulated runner over a short
history, into a temporary ``ATHLETE_PLATFORM_HOME`` with a persistent Dagster instance, and checks the summary's
accounting against the tables and the instance, and that a prediction exists for every day the runner is active.
"""

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from athlete_platform import athlete, athlete_summary
from athlete_platform.asset_keys import ATHLETE_REPORTS, PREDICTIONS, SILVER_ACTIVITIES
from athlete_platform.resources.simulator_source import SimulatorSource
from athlete_platform.runner import COARSE_PLANNED_EVENTS, local_instance, read_table

# -- settings ----------------------------------------------------------------------------------------------


def test_a_csv_export_without_timezone_stops_with_a_clear_message(tmp_path, monkeypatch, capsys):
    export = tmp_path / "activities.csv"
    export.write_text("Activity ID,Activity Date,Activity Type\n1,\"Feb 22, 2021, 10:30:06 AM\",Run\n")
    for name in ("STRAVA_EXPORT_TIMEZONE", "STRAVA_EXPORT_PATH", "ATHLETE_PLATFORM_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATHLETE_PLATFORM_HOME", str(tmp_path / "home"))

    assert athlete.main(["--export", str(export)]) == 2

    message = capsys.readouterr().err
    assert "TIMEZONE=<Area/City> is required" in message and "activities.csv" in message
    assert not (tmp_path / "home").exists()  # stopped before anything was created


def test_settings_the_user_must_fix_are_named(tmp_path):
    export = tmp_path / "activities.csv"
    export.write_text("Activity ID\n")

    def configure(*argv: str, environ=None):
        return athlete.configure_environment(athlete.parse_args(list(argv)), {} if environ is None else environ)

    with pytest.raises(athlete.UsageError, match="not an IANA time zone"):
        configure("--export", str(export), "--timezone", "Mars/Olympus")
    with pytest.raises(athlete.UsageError, match="no such file"):
        configure("--export", str(tmp_path / "missing.zip"), "--timezone", "Europe/Lisbon")
    with pytest.raises(athlete.UsageError, match="STRAVA_CLIENT_SECRET, STRAVA_REFRESH_TOKEN"):
        configure("--source", "strava_api", environ={"STRAVA_CLIENT_ID": "1"})
    with pytest.raises(athlete.UsageError, match="say whose data"):
        configure()
    environ: dict[str, str] = {}
    assert configure("--export", str(export), "--timezone", "Europe/Lisbon", environ=environ) == "strava_export"
    assert environ == {"STRAVA_EXPORT_PATH": str(export.resolve()), "STRAVA_EXPORT_TIMEZONE": "Europe/Lisbon",
                       "ATHLETE_PLATFORM_SOURCE": "strava_export"}


# -- training cadence --------------------------------------------------------------------------------------


def mondays(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(weeks=i) for i in range(count)]


def test_training_weeks_first_last_and_only_after_new_races():
    weeks = mondays(dt.date(2015, 1, 5), 12 * 52)  # 12 years of weekly partitions
    races = [dt.date(2015 + year, 5, 10) for year in range(12)]  # one race a year, in May
    chosen = athlete.training_weeks(races, weeks, max_trainings=12, min_weeks_between=13)

    assert chosen[0] == weeks[0] and chosen[-1] == weeks[-1]
    assert len(chosen) <= 12 and chosen == sorted(set(chosen))
    spacing = max(13, -(-len(weeks) // 11))
    for before, week in zip(chosen[:-2], chosen[1:-1]):
        assert (week - before).days >= 7 * spacing
        assert any(before <= race < week for race in races)  # a new race since the previous model


def test_training_weeks_without_new_races_trains_first_and_last_only():
    weeks = mondays(dt.date(2020, 1, 6), 200)
    assert athlete.training_weeks([], weeks) == [weeks[0], weeks[-1]]
    assert athlete.training_weeks([dt.date(2020, 3, 1)], weeks, max_trainings=1) == [weeks[-1]]
    assert athlete.training_weeks([], []) == []


# -- end to end --------------------------------------------------------------------------------------------

START, END = dt.date(2025, 3, 3), dt.date(2025, 6, 29)  # 119 days, Monday to Sunday


def runner() -> SimulatorSource:
    # More broken records and re-sent duplicates than the default, so four months have both to account for.
    return SimulatorSource(n_athletes=1, history_start=START.isoformat(), broken_rate=0.08, duplicate_rate=0.06)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("athlete_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATHLETE_PLATFORM_HOME", str(home))  # reports read the home at run time
        patch.delenv("ATHLETE_PLATFORM_ENV", raising=False)
        patch.setenv(COARSE_PLANNED_EVENTS, "1")  # as make athlete runs (runner.quiet_environment)
        from athlete_platform.definitions import defs
        from athlete_platform.settings import load_settings

        settings = load_settings()
        run_defs = athlete.definitions_for(defs, settings, runner())
        summary, dagster_home = athlete.run(run_defs, settings, end=END, max_trainings=2)
        yield summary, settings, dagster_home


def test_every_run_succeeds_over_the_whole_history(finished_run):
    summary, _, _ = finished_run
    assert START <= summary.start <= START + dt.timedelta(days=7) and summary.end == END  # first activity..end
    assert [r.name for r in summary.runs] == [
        "ingest_job", "weekly_features_job", "weekly_training_job", "weekly_training_job", "predictions_job",
        "predictions_job",  # every day: predictions, realized error, alerts; then the recent days: DLE, drift, report
    ]
    assert all(r.success for r in summary.runs), [r.errors for r in summary.runs]


def test_summary_accounts_for_every_record(finished_run):
    summary, settings, dagster_home = finished_run
    bronze = read_table(settings.delta_root, "ingest", "raw_activities")
    silver = read_table(settings.delta_root, "silver", "activities")
    quarantine = read_table(settings.delta_root, "silver", "quarantine")

    assert (summary.rows_in, summary.silver, summary.quarantined) == (len(bronze), len(silver), len(quarantine))
    assert summary.quarantined > 0 and sum(summary.quarantine_by_reason.values()) == summary.quarantined
    # superseded duplicates as silver counted them itself (Spark, in the range run's materialization metadata)
    record = local_instance(dagster_home).get_latest_materialization_event(SILVER_ACTIVITIES)
    counted = record.asset_materialization.metadata["duplicates_superseded"].value
    assert summary.superseded_duplicates == counted > 0
    assert summary.rows_in == summary.silver + summary.quarantined + summary.superseded_duplicates
    assert summary.athletes == sorted(silver["athlete_id"].unique().tolist()) and len(summary.athletes) == 1

    races = read_table(settings.delta_root, "labels", "race_results")
    assert summary.races == len(races)
    assert sum(sum(r.values()) for r in summary.races_by_distance_reason.values()) == len(races)


def test_a_prediction_for_every_active_day_from_a_model_trained_before_it(finished_run):
    summary, settings, dagster_home = finished_run
    predictions = read_table(settings.delta_root, "inference", "athlete_predictions")
    days = pd.to_datetime(predictions["prediction_date"]).dt.date
    first_model_week = dt.date.fromisoformat(summary.trained_weeks[0])

    silver = read_table(settings.delta_root, "silver", "activities")
    activity_days = set(pd.to_datetime(silver["activity_date"]).dt.date)
    expected = {
        first_model_week + dt.timedelta(days=i) for i in range((END - first_model_week).days + 1)
    }
    active = {d for d in expected if any(d - dt.timedelta(days=k) in activity_days for k in range(1, 43))}
    assert set(days) == active and not predictions.duplicated(["athlete_id", "prediction_date"]).any()
    assert summary.prediction_days == len(expected)
    assert summary.days_with_prediction == len(active)
    assert summary.days_without_model == 0 and summary.days_inactive == len(expected) - len(active)
    # point in time: each day's model was trained on data strictly before it
    registered = read_table(settings.delta_root, "model", "registered_time_estimator")
    trained = {str(v): pd.Timestamp(w).date() for v, w in zip(registered["version"], registered["training_week"])}
    assert all(trained[str(v)] <= d for v, d in zip(predictions["model_version"], days))
    assert summary.report_pngs and all(p.endswith(".png") for p in summary.report_pngs)

    # The Dagster instance (what `dagster dev` shows) records every partition of the range runs.
    instance = local_instance(dagster_home)
    history = {(summary.start + dt.timedelta(days=i)).isoformat() for i in range((END - summary.start).days + 1)}
    assert instance.get_materialized_partitions(SILVER_ACTIVITIES) == history
    assert {d.isoformat() for d in expected} <= instance.get_materialized_partitions(PREDICTIONS)


def test_a_runner_with_no_activity_before_the_end_gets_the_report_of_the_last_day_with_one(finished_run):
    """A report charts the athletes active in the 30 days up to its day: an export that stops earlier than
    that got no chart at all. The runner then renders the report of the last day with an activity."""
    from athlete_platform.definitions import defs

    _, settings, dagster_home = finished_run
    run_defs, instance = athlete.definitions_for(defs, settings, runner()), local_instance(dagster_home)
    assert athlete.report_as_of_last_activity(run_defs, instance, settings.delta_root, END) is None  # END has one
    last_active = max(read_table(settings.delta_root, "silver", "activities", columns=["activity_date"])["activity_date"])

    outcome = athlete.report_as_of_last_activity(run_defs, instance, settings.delta_root, END + dt.timedelta(days=60))
    assert outcome is not None and outcome.success and outcome.first == outcome.last == last_active.isoformat()
    event = instance.get_latest_materialization_event(ATHLETE_REPORTS)
    assert event.run_id == outcome.run_id and event.asset_materialization.partition == last_active.isoformat()
    reports = read_table(settings.delta_root, "monitoring", "athlete_reports")
    charted = reports[reports["report_date"] == last_active]
    assert len(charted) == 1 and all(Path(p).is_file() for p in charted["png_path"])


def test_the_printed_summary_accounts_for_records_races_models_and_the_report(finished_run, capsys):
    summary, settings, dagster_home = finished_run
    athlete_summary.print_summary(summary, settings, dagster_home)
    printed = capsys.readouterr().out
    assert (f"records in: {summary.rows_in}  → silver: {summary.silver}, quarantined: {summary.quarantined}, "
            f"superseded duplicates: {summary.superseded_duplicates}") in printed
    assert f"races: {summary.races}" in printed and not re.search(r"\b(nan|NaN|None)\b", printed)
    raced = [line.split(":")[0].strip() for line in printed.splitlines() if " by " in line and line.startswith("  ")]
    assert raced == sorted(raced, key=athlete_summary.distance_rank)
    assert athlete_summary.latest_model_heading(summary.latest_model) in printed
    assert f"Latest report: {summary.report_pngs[-1]}" in printed
