"""Sensors: new Strava exports in the inbox, late race labels, and run-failure alerts.

* :func:`build_inbox_sensor` → ``strava_export_inbox_sensor``: watches ``settings.inbox_dir`` for Strava
  exports (a ``.zip``, an ``activities.csv``-like ``.csv``, or an unpacked folder holding
  ``activities.csv``). The cursor is ``{name: [mtime_ns, size]}`` of the files already handled, so a new file
  or a replaced one (new mtime or size) is picked up once. For each, it reads only the CSV (no activity
  files, and of it only the columns that date a row, one row at a time:
  ``StravaExportSource.scan_dates``) to find the local dates its activities cover and requests **one**
  ``ingest_job`` run over the partition range ``[earliest activity date, latest complete day]``: the features are incremental from D−1, so every day
  after the earliest new activity changes. An export with rows before the first partition, or rows that
  cannot be dated, also gets a run of the first partition alone, which quarantines them (not a range from
  the first partition: years without activities would cost Dagster bookkeeping for nothing). The run config binds the export
  path to the ``activity_source`` resource, with the rest of its (non-secret) config from the settings
  (``bindings.export_source_config``: a resource's run config replaces its bound config).
  Files changed in the last ``settle_seconds`` are left for a later tick (still being copied); an export
  that cannot be parsed is logged once and remembered (retried only when it changes) while the other files
  flow; a bad row inside a good export is no reason to stop (its run quarantines it). Needs
  ``ATHLETE_PLATFORM_SOURCE=strava_export`` (the resource must be the export source); otherwise it skips.
* :func:`build_race_labels_retrain_sensor` → ``race_labels_retrain_sensor``: reads new materializations of
  ``labels/race_results`` (cursor: event storage id). The training set of weekly partition W holds
  races *before* W's Monday, so only labels dated before the latest complete week's Monday change what that
  week's model would learn; when such labels arrive (a partition with rows — late or backfilled labels),
  it requests ``weekly_training_job`` for that latest complete week. Labels of recent days are left to the
  Monday schedule, so the daily run does not retrain every day. The first tick only sets the cursor.
* :func:`build_run_failure_alert_sensor` → ``run_failure_alert_sensor``: appends one JSON line per failed
  run to ``settings.home / "alerts.jsonl"``: time, run id, job, partition (or range), the run's failure
  message and each failed step's error type and message — never run config, resource config or tags
  beyond the partition ones, and values of secret-looking environment variables (names containing
  TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, API_KEY, PRIVATE_KEY) and bearer/token patterns are masked.

Module-level objects use :func:`athlete_platform.settings.load_settings` (the process environment), like
``definitions.py``; the builders take explicit settings for tests. All start RUNNING in production
(``ATHLETE_PLATFORM_ENV=databricks``) and STOPPED locally (``settings.automation_running_by_default``).
"""

import datetime as dt
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Optional

from dagster import (
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from athlete_platform.asset_keys import RACE_RESULTS
from athlete_platform.jobs import ingest_job, weekly_training_job
from athlete_platform.partitions import FIRST_DAY, PARTITIONS_START, daily_partitions, weekly_partitions
from athlete_platform.runner import RANGE_END_TAG, RANGE_START_TAG
from athlete_platform.settings import PlatformSettings, load_settings

EXPORT_FILE_TAG = "athlete_platform/export_file"
ALERTS_FILE = "alerts.jsonl"
EXPORT_SUFFIXES = (".zip", ".csv")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")


def default_sensor_status(settings: PlatformSettings) -> DefaultSensorStatus:
    """RUNNING in production, STOPPED locally (``settings.automation_running_by_default``), unless a builder
    is given ``default_status``."""
    return DefaultSensorStatus.RUNNING if settings.automation_running_by_default else DefaultSensorStatus.STOPPED


# ======================================================================================================
# inbox → ingestion
# ======================================================================================================


def inbox_candidates(inbox: Path) -> dict[str, tuple[int, int]]:
    """``{name: (mtime_ns, size)}`` of the export-looking entries of the inbox (hidden/partial files ignored)."""
    found: dict[str, tuple[int, int]] = {}
    if not inbox.is_dir():
        return found
    for entry in sorted(inbox.iterdir()):
        name = entry.name
        if name.startswith(".") or name.lower().endswith(IGNORED_SUFFIXES):
            continue
        if entry.is_file() and name.lower().endswith(EXPORT_SUFFIXES):
            stat = entry.stat()
            found[name] = (stat.st_mtime_ns, stat.st_size)
        elif entry.is_dir() and (entry / "activities.csv").is_file():
            csv_stat = (entry / "activities.csv").stat()
            found[name] = (max(entry.stat().st_mtime_ns, csv_stat.st_mtime_ns), csv_stat.st_size)
    return found


def export_windows(path: Path, timezone: Optional[str], today: dt.date) -> tuple[list[tuple[dt.date, dt.date]], int]:
    """(partition windows covering every record, records) of an export, reading only its CSV. Records the first
    partition quarantines (before it, undated) make the first partition a window of its own
    (``ingest.assets.history_windows``).

    Raises ``StravaExportError`` when the export is unusable, ``ValueError`` when the time zone is unset.
    """
    from athlete_platform.ingest.assets import history_windows, partition_days
    from athlete_platform.resources.strava_export import StravaExportSource

    source = StravaExportSource(export_path=str(path), timezone=timezone, parse_activity_files=False)
    # Dates only, one row at a time (StravaExportSource.scan_dates): the daemon never holds the export's records.
    scan = source.scan_dates(until=today + dt.timedelta(days=2))
    return history_windows(partition_days(scan.dates, scan.unplaceable, FIRST_DAY)), scan.rows


def export_run_config(path: Path, settings: PlatformSettings) -> dict[str, Any]:
    """Run config binding the export path, with the rest of the source's config as definitions.py binds it."""
    from athlete_platform.resources.bindings import export_source_config

    return {"resources": {"activity_source": {"config": export_source_config(settings, str(path))}}}


def build_inbox_sensor(
    settings: Optional[PlatformSettings] = None,
    *,
    name: str = "strava_export_inbox_sensor",
    minimum_interval_seconds: int = 60,
    settle_seconds: float = 30.0,
    default_status: Optional[DefaultSensorStatus] = None,
) -> SensorDefinition:
    settings = settings or load_settings()

    @sensor(
        name=name,
        job=ingest_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status or default_sensor_status(settings),
        description=f"New Strava exports in {settings.inbox_dir} → one ingest_job range run per export "
        "(and one of the first partition when it quarantines some of its records).",
    )
    def _inbox_sensor(context: SensorEvaluationContext):
        from athlete_platform.resources.strava_export import StravaExportSource
        from athlete_platform.resources.strava_export.errors import StravaExportError

        if settings.source != "strava_export":
            return SkipReason(
                f"ATHLETE_PLATFORM_SOURCE is {settings.source!r}: exports in {settings.inbox_dir} are only "
                "ingested with the strava_export source"
            )
        try:  # a missing or unknown zone concerns every export: say so, and remember none of them
            StravaExportSource(timezone=settings.export_timezone).zone()
        except ValueError as err:
            return SkipReason(f"exports in {settings.inbox_dir} wait for the time zone: {err}")
        candidates = inbox_candidates(settings.inbox_dir)
        previous: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
        seen = {name: state for name, state in previous.items() if name in candidates}  # forget removed files
        now = time.time()
        today = dt.datetime.now(dt.timezone.utc).date()
        last_day_key = daily_partitions.get_last_partition_key()
        requests, skipped = [], []
        for file_name, (mtime_ns, size) in candidates.items():
            if seen.get(file_name) == [mtime_ns, size]:
                continue
            if now - mtime_ns / 1e9 < settle_seconds:
                skipped.append(f"{file_name}: changed in the last {settle_seconds:.0f} s, waiting")
                continue
            path = settings.inbox_dir / file_name
            try:
                windows, count = export_windows(path, settings.export_timezone, today)
            except (StravaExportError, OSError) as err:
                # Reported once and remembered in the cursor (retried when the file changes); other files flow.
                context.log.error(f"inbox: {file_name} is not a usable Strava export: {type(err).__name__}: {err}")
                seen[file_name] = [mtime_ns, size]
                continue
            if not windows:
                context.log.warning(f"inbox: {file_name} holds no activities")
                seen[file_name] = [mtime_ns, size]
                continue
            first, last = windows[-1]
            start_key = max(first.isoformat(), PARTITIONS_START)
            if last_day_key is None or start_key > last_day_key:
                # Only today's activities: their partition does not exist until the day is over.
                skipped.append(f"{file_name}: activities from {first} only; partition not complete yet")
                continue
            key = f"inbox:{file_name}:{mtime_ns}:{size}"
            ranges = [(start_key, last_day_key)]
            if len(windows) > 1:  # the first partition alone: it quarantines records before it or undated
                ranges.insert(0, (PARTITIONS_START, PARTITIONS_START))
            for number, (range_start, range_end) in enumerate(ranges):
                requests.append(
                    RunRequest(
                        run_key=key if number == len(ranges) - 1 else f"{key}:first_partition",
                        run_config=export_run_config(path, settings),
                        tags={RANGE_START_TAG: range_start, RANGE_END_TAG: range_end, EXPORT_FILE_TAG: file_name},
                    )
                )
            context.log.info(
                f"inbox: {file_name}: {count} records {windows[0][0]}..{last} → ingest_job "
                + ", ".join(f"{a}..{b}" for a, b in ranges)
            )
            seen[file_name] = [mtime_ns, size]
        if not requests:
            return SensorResult(
                skip_reason=SkipReason("; ".join(skipped) or "no new exports in the inbox"),
                cursor=json.dumps(seen, sort_keys=True),
            )
        return SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))

    return _inbox_sensor


# ======================================================================================================
# new race labels → retrain
# ======================================================================================================


def _row_count(record: Any) -> int:
    metadata = record.asset_materialization.metadata if record.asset_materialization else {}
    for key in ("dagster/row_count", "rows"):
        if key in metadata:
            return int(getattr(metadata[key], "value", metadata[key]) or 0)
    return 0


def build_race_labels_retrain_sensor(
    settings: Optional[PlatformSettings] = None,
    *,
    name: str = "race_labels_retrain_sensor",
    minimum_interval_seconds: int = 600,
    default_status: Optional[DefaultSensorStatus] = None,
    batch: int = 1000,
) -> SensorDefinition:
    @sensor(
        name=name,
        job=weekly_training_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status or default_sensor_status(settings or load_settings()),
        description=(
            "Race labels dated before the latest complete training week arrive (late or backfilled) → "
            "retrain that week."
        ),
    )
    def _retrain_sensor(context: SensorEvaluationContext):
        instance = context.instance
        if context.cursor is None:
            latest = instance.fetch_materializations(RACE_RESULTS, limit=1).records
            cursor = str(latest[0].storage_id) if latest else "0"
            return SensorResult(skip_reason=SkipReason("cursor initialised"), cursor=cursor)
        after = int(context.cursor)
        week_key = weekly_partitions.get_last_partition_key()
        if week_key is None:
            return SkipReason("no complete training week yet")
        week_start = dt.date.fromisoformat(week_key)
        relevant: list[str] = []
        newest = after
        while True:
            records = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=RACE_RESULTS, after_storage_id=newest), limit=batch, ascending=True
            ).records
            for record in records:
                newest = max(newest, record.storage_id)
                partition = record.partition_key
                if partition and dt.date.fromisoformat(partition) < week_start and _row_count(record) > 0:
                    relevant.append(partition)
            if len(records) < batch:
                break
        if not relevant:
            return SensorResult(
                skip_reason=SkipReason(f"no new race labels before {week_start} (training week {week_key})"),
                cursor=str(newest),
            )
        context.log.info(
            f"{len(relevant)} race-label partition(s) dated before {week_start} arrived "
            f"({min(relevant)}..{max(relevant)}): retraining week {week_key}"
        )
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key=f"retrain:{week_key}:{newest}",
                    partition_key=week_key,
                    tags={"athlete_platform/trigger": "new_race_labels",
                          "athlete_platform/label_partitions": f"{min(relevant)}..{max(relevant)}"},
                )
            ],
            cursor=str(newest),
        )

    return _retrain_sensor


# ======================================================================================================
# run failures → alerts.jsonl
# ======================================================================================================

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|PRIVATE_KEY", re.IGNORECASE)
SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:access_token|refresh_token|client_secret|password|api_key|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
)
MAX_MESSAGE_CHARS = 2000


def redact(text: str, environ: Optional[dict[str, str]] = None) -> str:
    """Mask values of secret-looking environment variables and token-looking patterns."""
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if value and len(value) >= 6 and SECRET_NAME.search(key):
            text = text.replace(value, "***")
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + "***", text)
    return text


def _error_text(error: Any) -> str:
    if error is None:
        return ""
    cls = getattr(error, "cls_name", None)
    message = (getattr(error, "message", "") or "").strip()
    cause = getattr(error, "cause", None)
    text = f"{cls}: {message}" if cls else message
    if cause is not None and getattr(cause, "message", None):
        text += f" (caused by {getattr(cause, 'cls_name', '')}: {cause.message.strip()})"
    return text


def failure_alert(context: RunFailureSensorContext) -> dict[str, Any]:
    """The alert record of a failed run (see the module docstring for what is and is not included)."""
    run = context.dagster_run
    tags = run.tags or {}
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        steps.append({"step": event.step_key, "error": redact(_error_text(error))[:MAX_MESSAGE_CHARS]})
    return {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": tags.get("dagster/partition"),
        "partition_range": (
            f"{tags[RANGE_START_TAG]}...{tags[RANGE_END_TAG]}" if RANGE_START_TAG in tags and RANGE_END_TAG in tags else None
        ),
        "error": redact(context.failure_event.message or "")[:MAX_MESSAGE_CHARS],
        "failed_steps": steps,
    }


def build_run_failure_alert_sensor(
    settings: Optional[PlatformSettings] = None,
    *,
    name: str = "run_failure_alert_sensor",
    default_status: Optional[DefaultSensorStatus] = None,
) -> SensorDefinition:
    settings = settings or load_settings()
    alerts_path = settings.home / ALERTS_FILE

    @run_failure_sensor(
        name=name,
        default_status=default_status or default_sensor_status(settings),
        description=f"Appends one JSON line per failed run to {alerts_path} (no secrets, no run config).",
    )
    def _run_failure_alert(context: RunFailureSensorContext):
        alert = failure_alert(context)
        alerts_path.parent.mkdir(parents=True, exist_ok=True)
        with alerts_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(alert, sort_keys=True) + "\n")
        context.log.info(f"alert recorded for failed run {alert['run_id']} of {alert['job']} in {alerts_path}")

    return _run_failure_alert


# -- the objects definitions.py registers --------------------------------------------------------------
_settings = load_settings()
strava_export_inbox_sensor = build_inbox_sensor(_settings)
race_labels_retrain_sensor = build_race_labels_retrain_sensor(_settings)
run_failure_alert_sensor = build_run_failure_alert_sensor(_settings)

SENSORS = [strava_export_inbox_sensor, race_labels_retrain_sensor, run_failure_alert_sensor]
