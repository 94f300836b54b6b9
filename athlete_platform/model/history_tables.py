"""Source records → silver → rolling features → race labels → point-in-time rows, all in pandas.

The same pure functions the assets run (``silver.parsing.parse_record``, ``features.compute``,
``labels.race_detection``, ``model.training_set``), chained in memory with no Spark, Dagster or MLflow: for
tests, for the model benchmarks and for the walk-forward evaluation of real runners
(:mod:`athlete_platform.model.walk_forward`). Silver keeps the latest version of a duplicated activity and
leaves out records the parser rejects, as the silver asset does (which quarantines them).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from athlete_platform.features import compute
from athlete_platform.labels.race_detection import DetectionParams, detect_races
from athlete_platform.model.training_set import point_in_time_join
from athlete_platform.resources.sources import SourceRecord
from athlete_platform.silver.parsing import SILVER_COLUMNS, Rejection, parse_record

INGESTED_AT = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class HistoryTables:
    start: dt.date
    end: dt.date  # exclusive
    silver: pd.DataFrame  # SILVER_COLUMNS
    rolling: pd.DataFrame  # compute.ROLLING_FEATURE_COLUMNS
    races: pd.DataFrame  # race_detection.RACE_RESULT_COLUMNS
    rows: pd.DataFrame  # training_set.TRAINING_ROW_COLUMNS: each race with its features of the day before
    rejected: int


def records_from_file(path: Path, timezone: str | None = None, athlete_id: int = 1,
                      parse_activity_files: bool = False) -> list[SourceRecord]:
    """Every record of one file: a Strava bulk export (zip, folder or ``activities.csv``; ``timezone`` = the
    athlete's home zone, the CSV has UTC times only) or a JSON list of API ``SummaryActivity`` objects (local
    dates from ``start_date_local``, athlete ids from the payload)."""
    from athlete_platform.resources.strava_export import StravaExportSource

    path = Path(path)
    if path.suffix == ".json":
        summaries = json.loads(path.read_text("utf-8"))
        return [SourceRecord("strava_api", int(a.get("athlete", {}).get("id") or athlete_id),
                             dt.date.fromisoformat(a["start_date_local"][:10]), a) for a in summaries]
    source = StravaExportSource(export_path=str(path), athlete_id=athlete_id, timezone=timezone,
                                parse_activity_files=parse_activity_files)
    return source.fetch(dt.date(1970, 1, 1), dt.date(2100, 1, 1)).records


def silver_from_records(records: Iterable[SourceRecord]) -> tuple[pd.DataFrame, int]:
    """Silver rows of ``records`` (later records of one activity id win) and how many were rejected."""
    latest: dict[int, dict] = {}
    rejected = 0
    for seq, record in enumerate(records):
        try:
            parsed = parse_record(
                source=record.source, athlete_id=record.athlete_id, activity_date=record.activity_date,
                payload=record.payload_json(), streams=record.streams_json(), content_hash=record.content_hash(),
                ingested_at=INGESTED_AT, record_seq=seq,
            )
        except Rejection:
            rejected += 1
            continue
        latest[parsed.row["activity_id"]] = parsed.row
    silver = pd.DataFrame(list(latest.values()), columns=SILVER_COLUMNS)
    silver["workout_type"] = silver["workout_type"].astype("Int64")
    return silver.sort_values(["activity_date", "athlete_id", "activity_id"], kind="stable").reset_index(drop=True), rejected


def rolling_from_silver(silver: pd.DataFrame, start: dt.date, end: dt.date,
                        feature_config: compute.FeatureParams | None = None) -> pd.DataFrame:
    """activity_features → daily_features → rolling_features over ``[start, end)`` in one batch."""
    activity = compute.activity_features(silver, None, None, feature_config)
    daily = compute.daily_features(activity, {}, start, end, feature_config)
    rolling = compute.rolling_features(daily, None, feature_config)
    return rolling


def history_tables(records: Iterable[SourceRecord], *, start: dt.date | None = None, end: dt.date | None = None,
                   detection: DetectionParams | None = None,
                   feature_config: compute.FeatureParams | None = None) -> HistoryTables:
    """Every table of ``records`` from ``start`` (default: the first activity) to ``end`` (exclusive; default:
    the day after the last activity)."""
    silver, rejected = silver_from_records(records)
    if silver.empty:
        raise ValueError("no record reached silver")
    start = start or min(silver["activity_date"])
    end = end or max(silver["activity_date"]) + dt.timedelta(days=1)
    silver = silver[(silver["activity_date"] >= start) & (silver["activity_date"] < end)].reset_index(drop=True)
    rolling = rolling_from_silver(silver, start, end, feature_config)
    races = detect_races(silver, None, detection).races
    rows = point_in_time_join(races, rolling).rows
    return HistoryTables(start, end, silver, rolling, races, rows, rejected)
