"""Sensors evaluated with build_sensor_context / build_run_status_sensor_context on an ephemeral instance."""

import datetime as dt
import json
import os
import time

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    MetadataValue,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
    validate_run_config,
)

from athlete_platform.asset_keys import RACE_RESULTS
from athlete_platform.partitions import daily_partitions, weekly_partitions
from athlete_platform.sensors import (
    build_inbox_sensor,
    build_race_labels_retrain_sensor,
    build_run_failure_alert_sensor,
    redact,
)
from athlete_platform.settings import PlatformSettings
from athlete_platform_tests.support.definitions import platform_definitions

HEADER = "Activity ID,Activity Date,Activity Name,Activity Type,Elapsed Time,Distance,Moving Time\n"


def export_csv(path, rows: list[tuple[int, str]]) -> None:
    """rows: (activity id, 'Activity Date' in the export's UTC format)."""
    path.write_text(HEADER + "".join(f'{i},"{when}",Run {i},Run,3000,10000,2950\n' for i, when in rows))


def age(path, seconds: float = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


@pytest.fixture()
def settings(tmp_path):
    settings = PlatformSettings(environment="local", home=tmp_path, source="strava_export",
                                export_timezone="America/Sao_Paulo")
    settings.inbox_dir.mkdir(parents=True)
    return settings


@pytest.fixture()
def defs(settings):
    sensors = [build_inbox_sensor(settings), build_race_labels_retrain_sensor(), build_run_failure_alert_sensor(settings)]
    return platform_definitions(settings.home, sensors=sensors)


def evaluate(defs, name: str, instance, cursor=None):
    sensor = defs.resolve_sensor_def(name)
    return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


# -- inbox ---------------------------------------------------------------------------------------------


def test_new_export_requests_one_ingest_range_run_from_its_first_local_day(defs, settings):
    instance = DagsterInstance.ephemeral()
    export = settings.inbox_dir / "export_2025.csv"
    # 01:30 UTC on 2025-03-03 is still 2025-03-02 in Sao Paulo: the range starts on the local date.
    export_csv(export, [(1, "Mar 3, 2025, 1:30:00 AM"), (2, "Mar 10, 2025, 10:00:00 AM"), (3, "Apr 1, 2025, 9:00:00 AM")])
    age(export)
    (settings.inbox_dir / ".hidden.csv").write_text(HEADER)
    (settings.inbox_dir / "upload.zip.part").write_text("partial")

    result = evaluate(defs, "strava_export_inbox_sensor", instance)
    [request] = result.run_requests
    assert request.job_name in (None, "ingest_job")
    assert request.tags["dagster/asset_partition_range_start"] == "2025-03-02"
    assert request.tags["dagster/asset_partition_range_end"] == daily_partitions.get_last_partition_key()
    source_config = request.run_config["resources"]["activity_source"]["config"]
    # the source's whole config as settings give it (a resource's run config replaces its bound config);
    # no STRAVA_ATHLETE_ID: the source takes the export's own id or derives one
    assert source_config == {"export_path": str(export), "timezone": "America/Sao_Paulo"}
    assert json.loads(result.cursor) == {"export_2025.csv": [export.stat().st_mtime_ns, export.stat().st_size]}
    # the run config is valid for the job (the export source resource bound as definitions.py binds it)
    validated = validate_run_config(defs.resolve_job_def("ingest_job"), request.run_config)
    assert validated["resources"]["activity_source"]["config"]["export_path"] == str(export)
    assert validated["resources"]["activity_source"]["config"].get("athlete_id") is None

    again = evaluate(defs, "strava_export_inbox_sensor", instance, cursor=result.cursor)
    assert not again.run_requests and "no new exports" in again.skip_message

    export_csv(export, [(4, "Jan 5, 2025, 12:00:00 PM")])  # replaced: picked up again, from its own dates
    age(export, 600)
    third = evaluate(defs, "strava_export_inbox_sensor", instance, cursor=result.cursor)
    [request] = third.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2025-01-05"
    assert request.run_key != result.run_requests[0].run_key


def test_an_export_with_history_before_the_first_partition_runs_from_the_first_partition(tmp_path):
    settings = PlatformSettings(environment="local", home=tmp_path, source="strava_export",
                                export_timezone="Europe/Lisbon", export_athlete_id=4242)
    settings.inbox_dir.mkdir(parents=True)
    defs = platform_definitions(settings.home, sensors=[build_inbox_sensor(settings)])
    export = settings.inbox_dir / "old.csv"
    export_csv(export, [(1, "May 4, 1991, 9:00:00 AM"), (2, "Mar 10, 2025, 10:00:00 AM")])  # a 1991 race
    age(export)
    first_partition, history = evaluate(defs, "strava_export_inbox_sensor", DagsterInstance.ephemeral()).run_requests
    # the first partition alone quarantines the 1991 row; the history run starts at the 2025 activity, so the
    # years in between cost nothing
    first_key = daily_partitions.get_first_partition_key()
    assert (first_partition.tags["dagster/asset_partition_range_start"],
            first_partition.tags["dagster/asset_partition_range_end"]) == (first_key, first_key)
    assert history.tags["dagster/asset_partition_range_start"] == "2025-03-10"
    assert history.tags["dagster/asset_partition_range_end"] == daily_partitions.get_last_partition_key()
    assert first_partition.run_key != history.run_key
    for request in (first_partition, history):
        assert request.run_config["resources"]["activity_source"]["config"] == {
            "export_path": str(export), "athlete_id": 4242, "timezone": "Europe/Lisbon"}
        validate_run_config(defs.resolve_job_def("ingest_job"), request.run_config)


def test_a_file_still_being_written_or_unusable_is_not_run(defs, settings):
    instance = DagsterInstance.ephemeral()
    fresh = settings.inbox_dir / "fresh.csv"
    export_csv(fresh, [(1, "Mar 3, 2025, 1:30:00 PM")])  # mtime = now: wait for it to settle
    broken = settings.inbox_dir / "broken.csv"
    broken.write_text("not,a,strava,export\n1,2,3,4\n")
    age(broken)
    result = evaluate(defs, "strava_export_inbox_sensor", instance)
    assert not result.run_requests
    assert "fresh.csv" in result.skip_message
    assert set(json.loads(result.cursor)) == {"broken.csv"}  # remembered: not re-parsed until it changes


def test_inbox_sensor_skips_unless_the_source_is_the_strava_export(tmp_path):
    settings = PlatformSettings(environment="local", home=tmp_path, source="simulator")
    sensor = build_inbox_sensor(settings)
    defs = platform_definitions(tmp_path, sensors=[sensor], source="simulator")
    result = evaluate(defs, "strava_export_inbox_sensor", DagsterInstance.ephemeral())
    assert not result.run_requests and "strava_export" in result.skip_message


# -- race labels → retraining --------------------------------------------------------------------------


def report_labels(instance, day: dt.date, rows: int) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=RACE_RESULTS, partition=day.isoformat(),
                             metadata={"dagster/row_count": MetadataValue.int(rows)})
    )


def test_late_race_labels_retrain_the_latest_complete_week(defs):
    instance = DagsterInstance.ephemeral()
    week_key = weekly_partitions.get_last_partition_key()
    week_start = dt.date.fromisoformat(week_key)
    report_labels(instance, week_start - dt.timedelta(days=30), 2)  # before the sensor starts: not re-read

    first = evaluate(defs, "race_labels_retrain_sensor", instance)
    assert not first.run_requests and first.cursor

    report_labels(instance, week_start + dt.timedelta(days=1), 3)  # after the week's Monday: next week's job
    report_labels(instance, week_start - dt.timedelta(days=3), 0)  # a day without races
    quiet = evaluate(defs, "race_labels_retrain_sensor", instance, cursor=first.cursor)
    assert not quiet.run_requests and int(quiet.cursor) > int(first.cursor)

    report_labels(instance, week_start - dt.timedelta(days=200), 4)  # a late/backfilled race
    fired = evaluate(defs, "race_labels_retrain_sensor", instance, cursor=quiet.cursor)
    [request] = fired.run_requests
    assert request.partition_key == week_key
    assert request.job_name in (None, "weekly_training_job")
    assert request.tags["athlete_platform/trigger"] == "new_race_labels"
    assert not evaluate(defs, "race_labels_retrain_sensor", instance, cursor=fired.cursor).run_requests


# -- run failures → alerts.jsonl -----------------------------------------------------------------------


def test_failed_run_is_recorded_as_a_json_line_without_secrets(settings, monkeypatch):
    secret = "sup3r-s3cret-refresh-value"
    monkeypatch.setenv("STRAVA_REFRESH_TOKEN", secret)

    @asset(partitions_def=daily_partitions)
    def exploding():
        raise RuntimeError(f"token refresh failed for refresh_token={secret} (Authorization: Bearer abc.def.ghi)")

    job = define_asset_job("exploding_job", selection=[exploding])
    instance = DagsterInstance.ephemeral()
    job_def = Definitions(assets=[exploding], jobs=[job]).resolve_job_def("exploding_job")
    result = job_def.execute_in_process(instance=instance, partition_key="2026-03-09", raise_on_error=False)
    assert not result.success

    sensor = build_run_failure_alert_sensor(settings)
    context = build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    sensor(context)

    [line] = (settings.home / "alerts.jsonl").read_text().splitlines()
    alert = json.loads(line)
    assert alert["run_id"] == result.run_id and alert["job"] == "exploding_job"
    assert alert["partition"] == "2026-03-09"
    assert alert["failed_steps"][0]["step"] == "exploding"
    assert "RuntimeError" in alert["failed_steps"][0]["error"] and "token refresh failed" in alert["failed_steps"][0]["error"]
    assert secret not in line and "abc.def.ghi" not in line and "***" in line
    assert "run_config" not in alert and "tags" not in alert


def test_redact_masks_secret_env_values_and_token_patterns():
    env = {"DATABRICKS_TOKEN": "dapi-123456789", "HOME": "/root", "SHORT_TOKEN": "abc"}
    text = "using dapi-123456789 at /root, access_token: xyz987 and Bearer qwerty"
    masked = redact(text, env)
    assert "dapi-123456789" not in masked and "xyz987" not in masked and "qwerty" not in masked
    assert "/root" in masked


def test_a_bad_export_is_reported_once_and_good_ones_keep_flowing(defs, settings):
    """A cell of nan/inf/1e400 made the sensor raise on every tick, so a good export beside it never ran.
    Now such an export runs (its bad rows are quarantined), an unusable one is reported once and remembered,
    and the others are requested."""
    instance = DagsterInstance.ephemeral()
    poisoned = settings.inbox_dir / "poisoned.csv"
    poisoned.write_text(HEADER + '1,"Mar 3, 2025, 1:30:00 PM",Run,Run,nan,1e400,inf\n'
                        '2,"Mar 4, 2025, 1:30:00 PM",Run,Run,3000,10000,2950\n')
    good = settings.inbox_dir / "good.csv"
    export_csv(good, [(3, "Mar 5, 2025, 1:30:00 PM")])
    broken = settings.inbox_dir / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    for path in (poisoned, good, broken):
        age(path)

    first = evaluate(defs, "strava_export_inbox_sensor", instance)
    requested = {r.tags["athlete_platform/export_file"]: r.tags for r in first.run_requests}
    assert set(requested) == {"poisoned.csv", "good.csv"}
    assert requested["poisoned.csv"]["dagster/asset_partition_range_start"] == "2025-03-03"
    assert set(json.loads(first.cursor)) == {"poisoned.csv", "good.csv", "broken.zip"}

    again = evaluate(defs, "strava_export_inbox_sensor", instance, cursor=first.cursor)
    assert not again.run_requests and again.cursor == first.cursor  # nothing re-read, nothing re-reported
