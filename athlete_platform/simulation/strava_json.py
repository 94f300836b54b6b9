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
import json
from functools import lru_cache
from json.encoder import encode_basestring_ascii
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


# Payload JSON rendered straight from the columns: byte for byte ``json.dumps(activity_record(...), sort_keys=True,
# default=str)`` (what ``SourceRecord.payload_json`` stores in bronze, hence the content hash), without building the
# dicts nor running the generic encoder, the bulk of a simulated bronze window's cost. The templates spell out the
# keys in sorted order, floats go through ``%r`` (``float.__repr__``, as json writes finite floats; rows with a
# non-finite value fall back to json) and strings through json's own ASCII escaping.
# test_simulator pins the identity on whole windows (runs and non-runs, with and without HR, every broken kind).
_SPLIT_WITH_HR = ('{"average_heartrate": %r, "average_speed": %r, "distance": %r, "elapsed_time": %d, '
                  '"elevation_difference": %r, "moving_time": %d, "pace_zone": %d, "split": %d}')
_SPLIT_WITHOUT_HR = ('{"average_speed": %r, "distance": %r, "elapsed_time": %d, "elevation_difference": %r, '
                     '"moving_time": %d, "pace_zone": %d, "split": %d}')


@lru_cache(maxsize=65536)
def _json_string(text: str) -> str:
    return encode_basestring_ascii(text)


_UNIX_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _timestamps(unix_seconds: np.ndarray) -> list[str]:
    """:func:`_format_timestamp` of many moments at once ("2025-07-10T06:30:00Z")."""
    return [text + "Z" for text in np.datetime_as_string(unix_seconds.astype("datetime64[s]"), unit="s").tolist()]


def athlete_payloads(athlete: SimulatedAthlete, start: dt.date, end: dt.date,
                     history_start: dt.date) -> list[tuple[int, dt.date, int, str]]:
    """(athlete id, local date, activity id, payload JSON) of the records :func:`athlete_records` gives for the
    same window, in the same order, the payload being exactly what ``json.dumps(activity, sort_keys=True,
    default=str)`` writes for its activity dict (the values computed as :func:`activity_record` does)."""
    first_day = max(start, history_start).toordinal()
    table, profile = athlete.activities, athlete.profile
    low = int(np.searchsorted(table.day, first_day, side="left"))
    high = int(np.searchsorted(table.day, end.toordinal(), side="left"))
    if high <= low:
        return []
    rows = slice(low, high)
    # Splits of the window's rows are contiguous (appended row after row): one conversion for all of them,
    # computed exactly as _splits_metric computes them row by row (elementwise numpy, same operations).
    split_low, split_high = int(table.split_start[low]), int(table.split_end[high - 1])
    split_rows = slice(split_low, split_high)
    split_distance = table.split_distance_dm[split_rows] / 10.0
    split_moving = table.split_moving_time_s[split_rows]
    split_speed = np.round(split_distance / split_moving, 2)
    finite_splits = np.isfinite(split_speed)
    split_columns = ((table.split_heartrate_tenths[split_rows] / 10.0).tolist(), split_speed.tolist(),
                     split_distance.tolist(), table.split_elapsed_time_s[split_rows].tolist(),
                     (table.split_elevation_dm[split_rows] / 10.0).tolist(), split_moving.tolist(),
                     table.split_pace_zone[split_rows].tolist())

    days = table.day[rows].astype(np.int64)
    start_seconds = table.start_local_s[rows].astype(np.int64)
    utc_offsets = np.array([_utc_offset_seconds(profile.timezone, day, seconds // 3600)
                            for day, seconds in zip(days.tolist(), start_seconds.tolist())], dtype=np.int64)
    local_unix = (days - _UNIX_EPOCH_ORDINAL) * 86400 + start_seconds
    has_hr = table.has_heartrate[rows]
    finite = (np.isfinite(table.distance_m[rows]) & np.isfinite(table.elevation_gain_m[rows])
              & np.isfinite(table.max_speed[rows]) & (~has_hr | np.isfinite(table.average_heartrate[rows])))
    split_first, split_end = table.split_start[rows] - split_low, table.split_end[rows] - split_low
    non_finite_before = np.concatenate([[0], np.cumsum(~finite_splits)])  # non-finite splits before each split
    finite = (finite & (non_finite_before[split_end] == non_finite_before[split_first])).tolist()
    split_first, split_end = split_first.tolist(), split_end.tolist()

    athlete_id = profile.athlete_id
    athlete_json = '{"athlete": {"id": %d, "resource_state": 1}, ' % athlete_id
    timezone_json = _json_string(strava_timezone_label(profile.timezone))
    sport_json = [_json_string(name) for name in SPORT_NAMES]
    dates = [dt.date.fromordinal(day) for day in days.tolist()]
    names = [_json_string(name) for name in table.names[low:high]]
    output: list[tuple[int, dt.date, int, str]] = []
    for (offset, activity_id, local_date, sport, distance, moving_time, elapsed_time, elevation_gain, max_speed, hr,
         average_heartrate, max_heartrate, broken, workout_type, name, start_date, start_date_local, utc_offset,
         first, end, duplicated) in zip(
            range(high - low), table.activity_id[rows].tolist(), dates, table.sport[rows].tolist(),
            table.distance_m[rows].tolist(), table.moving_time_s[rows].tolist(), table.elapsed_time_s[rows].tolist(),
            table.elevation_gain_m[rows].tolist(), table.max_speed[rows].tolist(), has_hr.tolist(),
            table.average_heartrate[rows].tolist(), table.max_heartrate[rows].tolist(),
            table.broken_kind[rows].tolist(),
            table.workout_type[rows].tolist(), names, _timestamps(local_unix - utc_offsets), _timestamps(local_unix),
            utc_offsets.tolist(), split_first, split_end, table.duplicated[rows].tolist()):
        if not finite[offset]:  # json writes NaN/Infinity where %r writes nan/inf: let json write the row
            payload = json.dumps(activity_record(athlete, low + offset), sort_keys=True, default=str)
            output.append((athlete_id, local_date, activity_id, payload))
            if duplicated:
                output.append((athlete_id, local_date, activity_id, payload))
            continue
        distance = round(distance, 1)
        average_speed = round(distance / moving_time, 3) if moving_time else 0.0
        average_heartrate = round(average_heartrate, 1) if hr else None
        max_heartrate = float(max_heartrate) if hr else None
        with_moving_time = True
        if broken == BROKEN_NEGATIVE_DISTANCE:
            distance = -distance
        elif broken == BROKEN_ZERO_DISTANCE:
            distance = 0.0
            average_speed = 0.0
        elif broken == BROKEN_MISSING_MOVING_TIME:
            with_moving_time = False
        elif broken == BROKEN_HEARTRATE_300:
            average_heartrate = max_heartrate = 300.0
        is_run = sport == SPORT_RUN
        # Keys in sorted order, as json.dumps(sort_keys=True) writes them.
        parts = [athlete_json]
        if average_heartrate is not None:
            parts.append('"average_heartrate": %r, ' % average_heartrate)
        parts.append('"average_speed": %r, "commute": false, "distance": %r, "elapsed_time": %d, '
                     '"has_heartrate": %s, "id": %d, "manual": false, '
                     % (average_speed, distance, elapsed_time, "true" if hr else "false", activity_id))
        if max_heartrate is not None:
            parts.append('"max_heartrate": %r, ' % max_heartrate)
        parts.append('"max_speed": %r, ' % round(max_speed, 2))
        if with_moving_time:
            parts.append('"moving_time": %d, ' % moving_time)
        parts.append('"name": %s, "resource_state": 2, ' % name)
        if is_run:
            parts.append('"splits_metric": [%s], ' % _splits_json(split_columns, first, end, hr))
        parts.append('"sport_type": %s, "start_date": "%s", "start_date_local": "%s", "timezone": %s, '
                     '"total_elevation_gain": %r, "trainer": false, "type": %s, "utc_offset": %r'
                     % (sport_json[sport], start_date, start_date_local, timezone_json, round(elevation_gain, 1),
                        sport_json[sport], float(utc_offset)))
        if is_run:
            parts.append(', "workout_type": %d' % workout_type)
        parts.append("}")
        payload = "".join(parts)
        output.append((athlete_id, local_date, activity_id, payload))
        if duplicated:
            output.append((athlete_id, local_date, activity_id, payload))
    return output


def _splits_json(split_columns: tuple[list, ...], first: int, end: int, has_hr: bool) -> str:
    """The split objects of one run (between the brackets), as _splits_metric's dicts serialize with sorted keys."""
    heartrates, speeds, distances, elapsed, elevations, moving, zones = split_columns
    if has_hr:
        return ", ".join([_SPLIT_WITH_HR % (heartrates[i], speeds[i], distances[i], elapsed[i], elevations[i],
                                            moving[i], zones[i], i - first + 1) for i in range(first, end)])
    return ", ".join([_SPLIT_WITHOUT_HR % (speeds[i], distances[i], elapsed[i], elevations[i], moving[i], zones[i],
                                           i - first + 1) for i in range(first, end)])
