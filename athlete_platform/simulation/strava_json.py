"""Strava-shaped records of a simulated athlete's activities.

Records
-------
Strava API v3 SummaryActivity-shaped dicts (plus ``splits_metric`` for runs, as in a
DetailedActivity): ``id, resource_state, athlete{id}, name, type, sport_type, workout_type`` (runs:
0 default, 1 race, 2 long run and 3 workout for athletes that tag them), ``start_date`` (UTC, 'Z'),
``start_date_local`` (wall clock with a 'Z' suffix, as Strava does), ``timezone``
("(GMT-03:00) America/Sao_Paulo": standard offset), ``utc_offset``, ``distance, moving_time,
elapsed_time, total_elevation_gain, average_speed, max_speed, has_heartrate, average_heartrate,
max_heartrate`` (the two HR keys omitted without HR), ``manual, trainer, commute``, and for runs
``splits_metric``: per km (the last one partial; a tail under 20 m joins the previous km)
``distance, elapsed_time, moving_time, split, average_speed, average_heartrate`` (omitted without
HR), ``elevation_difference`` (loop courses: sums to 0), ``pace_zone`` (1-5 from split speed /
true threshold speed: < 0.78, < 0.88, < 0.95, < 1.03, above). Max HR of a 5K/10K race is within 4 bpm
of HRmax (so HRmax can be estimated from the data).
Activity ids are ``((days since 1970 x 1e6) + athlete index) x 10 + slot``: unique across athletes,
increasing with the day.

Data-quality defects (on purpose, so the pipeline's checks have work)
---------------------------------------------------------------------
* duplicates: ``duplicate_rate`` (0.5 %) of all activities are emitted twice, identical (same id).
* broken records: ``broken_rate`` (1 %) of runs are corrupted in exactly one way (``BROKEN_KINDS``):
  ``negative_distance`` (``distance`` negated), ``zero_distance`` (``distance`` and ``average_speed``
  0.0), ``missing_moving_time`` (key ``moving_time`` absent), ``heartrate_300``
  (``average_heartrate`` and ``max_heartrate`` 300; only runs with HR). ``start_date_local`` is never
  broken: every record can be placed on a date. The latent truth keeps the real activity (its load
  counts).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from athlete_platform.simulation.config import (
    BROKEN_HEARTRATE_300,
    BROKEN_MISSING_MOVING_TIME,
    BROKEN_NEGATIVE_DISTANCE,
    BROKEN_ZERO_DISTANCE,
    SPORT_NAMES,
    SPORT_RUN,
)
from athlete_platform.simulation.truth import ActivityTable, SimulatedAthlete


@lru_cache(maxsize=8192)
def _utc_offset_seconds(timezone: str, day_ordinal: int, hour: int) -> int:
    local = dt.datetime.combine(dt.date.fromordinal(day_ordinal), dt.time(hour), ZoneInfo(timezone))
    offset = local.utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@lru_cache(maxsize=64)
def strava_timezone_label(timezone: str, year: int = 2024) -> str:
    """Strava's "(GMT-03:00) America/Sao_Paulo": the zone's standard (non-DST) offset."""
    zone = ZoneInfo(timezone)
    offsets = []
    for month in (1, 7):
        offset = dt.datetime(year, month, 1, 12, tzinfo=zone).utcoffset()
        assert offset is not None
        offsets.append(int(offset.total_seconds()))
    standard = min(offsets)
    sign = "+" if standard >= 0 else "-"
    hours, minutes = divmod(abs(standard) // 60, 60)
    return f"(GMT{sign}{hours:02d}:{minutes:02d}) {timezone}"


def _format_timestamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def activity_record(athlete: SimulatedAthlete, row: int) -> dict:
    """The Strava-shaped dict of row ``row`` of the athlete's activity table (corruption applied)."""
    table, profile = athlete.activities, athlete.profile
    day = int(table.day[row])
    start_s = int(table.start_local_s[row])
    local_start = dt.datetime.combine(dt.date.fromordinal(day), dt.time()) + dt.timedelta(seconds=start_s)
    utc_offset = _utc_offset_seconds(profile.timezone, day, start_s // 3600)
    utc_start = local_start - dt.timedelta(seconds=utc_offset)
    sport = int(table.sport[row])
    sport_name = SPORT_NAMES[sport]
    distance = round(float(table.distance_m[row]), 1)
    moving_time = int(table.moving_time_s[row])
    has_hr = bool(table.has_heartrate[row])
    record: dict = {
        "resource_state": 2,
        "id": int(table.activity_id[row]),
        "athlete": {"id": profile.athlete_id, "resource_state": 1},
        "name": table.names[row],
        "type": sport_name,
        "sport_type": sport_name,
        "start_date": _format_timestamp(utc_start),
        "start_date_local": _format_timestamp(local_start),
        "timezone": strava_timezone_label(profile.timezone),
        "utc_offset": float(utc_offset),
        "distance": distance,
        "moving_time": moving_time,
        "elapsed_time": int(table.elapsed_time_s[row]),
        "total_elevation_gain": round(float(table.elevation_gain_m[row]), 1),
        "average_speed": round(distance / moving_time, 3) if moving_time else 0.0,
        "max_speed": round(float(table.max_speed[row]), 2),
        "has_heartrate": has_hr,
        "manual": False,
        "trainer": False,
        "commute": False,
    }
    if sport == SPORT_RUN:
        record["workout_type"] = int(table.workout_type[row])
    if has_hr:
        record["average_heartrate"] = round(float(table.average_heartrate[row]), 1)
        record["max_heartrate"] = float(table.max_heartrate[row])
    if sport == SPORT_RUN:
        record["splits_metric"] = _splits_metric(table, row, has_hr)
    broken = int(table.broken_kind[row])
    if broken == BROKEN_NEGATIVE_DISTANCE:
        record["distance"] = -distance
    elif broken == BROKEN_ZERO_DISTANCE:
        record["distance"] = 0.0
        record["average_speed"] = 0.0
    elif broken == BROKEN_MISSING_MOVING_TIME:
        del record["moving_time"]
    elif broken == BROKEN_HEARTRATE_300:
        record["average_heartrate"] = 300.0
        record["max_heartrate"] = 300.0
    return record


def _splits_metric(table: ActivityTable, row: int, has_hr: bool) -> list[dict]:
    first, end = int(table.split_start[row]), int(table.split_end[row])
    distances = table.split_distance_dm[first:end] / 10.0
    moving = table.split_moving_time_s[first:end]
    speeds = np.round(distances / moving, 2).tolist()
    splits = [
        {
            "distance": distance,
            "elapsed_time": elapsed,
            "elevation_difference": elevation,
            "moving_time": moving_time,
            "split": index + 1,
            "average_speed": speed,
            "pace_zone": zone,
        }
        for index, (distance, elapsed, elevation, moving_time, speed, zone) in enumerate(zip(
            distances.tolist(), table.split_elapsed_time_s[first:end].tolist(),
            (table.split_elevation_dm[first:end] / 10.0).tolist(), moving.tolist(), speeds,
            table.split_pace_zone[first:end].tolist()))
    ]
    if has_hr:
        for split, value in zip(splits, (table.split_heartrate_tenths[first:end] / 10.0).tolist()):
            split["average_heartrate"] = value
    return splits


def athlete_records(athlete: SimulatedAthlete, start: dt.date, end: dt.date,
                    history_start: dt.date) -> list[tuple[int, dt.date, dict]]:
    """(athlete id, local date, activity dict) for the athlete's activities in ``[start, end)``.

    Nothing before ``history_start`` is emitted (the burn-in only builds the latent state);
    duplicated activities appear twice, back to back.
    """
    first_day = max(start, history_start).toordinal()
    table = athlete.activities
    low = int(np.searchsorted(table.day, first_day, side="left"))
    high = int(np.searchsorted(table.day, end.toordinal(), side="left"))
    output: list[tuple[int, dt.date, dict]] = []
    athlete_id = athlete.profile.athlete_id
    for row in range(low, high):
        local_date = dt.date.fromordinal(int(table.day[row]))
        output.append((athlete_id, local_date, activity_record(athlete, row)))
        if table.duplicated[row]:
            output.append((athlete_id, local_date, activity_record(athlete, row)))
    return output
