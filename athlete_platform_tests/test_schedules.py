"""Schedules: resolved from a Definitions like definitions.py builds, evaluated at given instants."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetCheckKey, DagsterInstance, build_schedule_context

from athlete_platform.asset_keys import FEATURE_DRIFT, PREDICTIONS
from athlete_platform.jobs import DAILY_KEYS, WEEKLY_TRAINING_KEYS
from athlete_platform.schedules import build_schedules
from athlete_platform.settings import PlatformSettings
from athlete_platform_tests.support.definitions import platform_definitions

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return platform_definitions(tmp_path_factory.mktemp("home"))


def tick(defs, name: str, local: dt.datetime):
    schedule = defs.resolve_schedule_def(name)
    context = build_schedule_context(instance=DagsterInstance.ephemeral(),
                                     scheduled_execution_time=local.replace(tzinfo=SAO_PAULO))
    return schedule, schedule.evaluate_tick(context)


def test_daily_0500_tick_on_2026_03_10_requests_2026_03_09(defs):
    schedule, result = tick(defs, "daily_schedule", dt.datetime(2026, 3, 10, 5, 0))
    assert schedule.cron_schedule == "0 5 * * *"
    assert schedule.execution_timezone == "America/Sao_Paulo"
    assert schedule.job_name == "daily_job"
    [request] = result.run_requests
    assert request.partition_key == "2026-03-09"


def test_schedules_and_sensors_start_stopped_locally_and_running_in_production(tmp_path):
    from athlete_platform.sensors import (
        build_inbox_sensor,
        build_race_labels_retrain_sensor,
        build_run_failure_alert_sensor,
    )

    for environment, expected in (("local", "STOPPED"), ("databricks", "RUNNING")):
        settings = PlatformSettings(environment=environment, home=tmp_path)
        sensors = [build_inbox_sensor(settings), build_race_labels_retrain_sensor(settings),
                   build_run_failure_alert_sensor(settings)]
        statuses = {item.name: item.default_status.value for item in [*build_schedules(settings), *sensors]}
        assert statuses == dict.fromkeys(
            ["daily_schedule", "weekly_training_schedule", "weekly_features_schedule", "strava_export_inbox_sensor",
             "race_labels_retrain_sensor", "run_failure_alert_sensor"], expected), environment


def test_daily_tick_given_in_utc_uses_the_sao_paulo_day(defs):
    schedule = defs.resolve_schedule_def("daily_schedule")
    at = dt.datetime(2026, 3, 10, 8, 0, tzinfo=dt.timezone.utc)  # = 05:00 in Sao Paulo (UTC−3)
    result = schedule.evaluate_tick(build_schedule_context(instance=DagsterInstance.ephemeral(), scheduled_execution_time=at))
    assert [r.partition_key for r in result.run_requests] == ["2026-03-09"]
    _, new_year = tick(defs, "daily_schedule", dt.datetime(2026, 1, 1, 5, 0))
    assert [r.partition_key for r in new_year.run_requests] == ["2025-12-31"]


def test_weekly_training_tick_on_monday_requests_the_week_that_just_ended(defs):
    schedule, result = tick(defs, "weekly_training_schedule", dt.datetime(2026, 3, 9, 6, 0))  # a Monday
    assert schedule.cron_schedule == "0 6 * * 1"
    [request] = result.run_requests
    assert request.partition_key == "2026-03-02"  # week 2026-03-02..03-08
    _, features = tick(defs, "weekly_features_schedule", dt.datetime(2026, 3, 9, 5, 30))
    assert [r.partition_key for r in features.run_requests] == ["2026-03-02"]


def test_jobs_cover_the_right_assets_and_their_checks(defs):
    daily = defs.resolve_job_def("daily_job")
    assert set(daily.asset_layer.executable_asset_keys) == set(DAILY_KEYS)
    checks = {key for key in daily.asset_layer.asset_graph.asset_check_keys if key.asset_key in set(DAILY_KEYS)}
    assert AssetCheckKey(PREDICTIONS, "no_feature_leakage") in checks
    assert AssetCheckKey(FEATURE_DRIFT, "feature_drift") in checks
    weekly = defs.resolve_job_def("weekly_training_job")
    assert set(weekly.asset_layer.executable_asset_keys) == set(WEEKLY_TRAINING_KEYS)
    assert daily.partitions_def.get_serializable_unique_identifier() != weekly.partitions_def.get_serializable_unique_identifier()
