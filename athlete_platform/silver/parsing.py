"""The typed contract of a silver activity, and the one parser every source's records go through.

Pure Python: no Spark, no Dagster. ``parse_record`` turns one bronze row (a Strava-API-shaped activity
JSON plus optional streams) into either a typed silver row (and its HR profile) or a rejection that
names the record and every offending field. Nothing is fixed silently: a value outside the contract
is rejected with its reason, never clipped or replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from athlete_platform.domain import hr_zones
from athlete_platform.domain.running import RUN_SPORTS

# Strava sport types (API `sport_type`/`type`, or the export's display names without spaces) -> our vocabulary.
SPORT_VOCABULARY: dict[str, str] = {
    "run": "run",
    "trailrun": "trail_run",
    "virtualrun": "treadmill_run",
    "ride": "ride",
    "virtualride": "ride",
    "mountainbikeride": "ride",
    "gravelride": "ride",
    "ebikeride": "ride",
    "emountainbikeride": "ride",
    "velomobile": "ride",
    "handcycle": "ride",
    "swim": "swim",
    "walk": "walk",
    "hike": "hike",
    "weighttraining": "strength",
    "workout": "strength",
    "crossfit": "strength",
    "hiit": "strength",
    "highintensityintervaltraining": "strength",
    "pilates": "strength",
    "yoga": "other",
}
DISTANCE_SPORTS = RUN_SPORTS + ("ride", "swim", "walk", "hike")

# Plausibility bounds (documented in README "Data contract"). Outside them a record is quarantined.
MIN_RUN_DISTANCE_M = 200.0  # "25-metre runs" are recording accidents, not training
RUN_PACE_S_PER_KM = (120.0, 1200.0)  # 2:00/km (faster than the 1500 m world record pace) .. 20:00/km
HR_RANGE_BPM = (25.0, 250.0)
MAX_DURATION_S = 48 * 3600.0

SILVER_COLUMNS = [
    "athlete_id", "activity_id", "activity_date", "start_date_utc", "start_date_local", "timezone", "name",
    "sport", "raw_sport_type", "workout_type", "distance_m", "moving_time_s", "elapsed_time_s",
    "moving_min", "elapsed_min", "elevation_gain_m", "average_speed_mps", "max_speed_mps", "pace_s_per_km",
    "average_hr", "max_hr", "has_heartrate", "manual", "trainer", "source", "content_hash", "ingested_at",
    "record_seq",
]
PROFILE_COLUMNS = ["athlete_id", "activity_id", "activity_date", "hr_source", "hr_bpm", "seconds"]


class Rejection(Exception):
    """A record that breaks the contract; ``problems`` maps field -> reason."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems.items()))


@dataclass
class ParsedActivity:
    row: dict[str, Any]
    hr_profile: dict[str, Any] | None


def normalize_sport(raw: str | None) -> str:
    key = "".join((raw or "").split()).lower()
    return SPORT_VOCABULARY.get(key, "other")


def _number(activity: dict[str, Any], field: str, problems: dict[str, str], *, required: bool) -> float | None:
    value = activity.get(field)
    if value is None or value == "":
        if required:
            problems[field] = "missing"
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems[field] = f"not a number: {value!r}"
        return None
    if not math.isfinite(number):
        problems[field] = f"not finite: {value!r}"
        return None
    return number


def _timestamp(activity: dict[str, Any], field: str, problems: dict[str, str]) -> dt.datetime | None:
    value = activity.get(field)
    if not value:
        problems[field] = "missing"
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems[field] = f"not an ISO timestamp: {value!r}"
        return None
    return parsed


def hr_profile_from_streams(streams: dict[str, Any]) -> tuple[list[float], list[float]] | None:
    """HR profile of a Strava streams response (``hr_zones.profile_from_stream`` documents the weighting)."""
    heartrate = (streams.get("heartrate") or {}).get("data")
    if not heartrate:
        return None
    time_s = (streams.get("time") or {}).get("data")
    profile = hr_zones.profile_from_stream(time_s, heartrate)
    return (profile.hr_bpm.tolist(), profile.seconds.tolist()) if profile.total_seconds > 0 else None


def hr_profile_from_splits(splits: list[dict[str, Any]]) -> tuple[list[float], list[float]] | None:
    """Per-split average HR weighted by the split's moving time (elapsed when moving is absent)."""
    with_hr = [
        (float(split["average_heartrate"]), float(split.get("moving_time") or split.get("elapsed_time") or 0))
        for split in splits or []
        if split.get("average_heartrate")
    ]
    with_hr = [(hr, seconds) for hr, seconds in with_hr if hr > 0 and seconds > 0]
    if not with_hr:
        return None
    profile = hr_zones.profile_from_splits([hr for hr, _ in with_hr], [seconds for _, seconds in with_hr])
    return profile.hr_bpm.tolist(), profile.seconds.tolist()


def parse_record(
    *,
    source: str,
    athlete_id: int,
    activity_date: dt.date,
    payload: str,
    streams: str | None,
    content_hash: str,
    ingested_at: dt.datetime,
    record_seq: int,
) -> ParsedActivity:
    """Parse one bronze row. Raises :class:`Rejection` naming every field that breaks the contract."""
    problems: dict[str, str] = {}
    try:
        activity = json.loads(payload)
    except json.JSONDecodeError as error:
        raise Rejection({"payload": f"invalid JSON ({error.msg})"}) from None
    if not isinstance(activity, dict):
        raise Rejection({"payload": "not a JSON object"})

    activity_id = activity.get("id")
    if not isinstance(activity_id, int) or isinstance(activity_id, bool) or activity_id <= 0:
        problems["id"] = f"not a positive integer: {activity_id!r}"
    raw_sport = activity.get("sport_type") or activity.get("type")
    if not raw_sport:
        problems["sport_type"] = "missing (and no type)"
    sport = normalize_sport(raw_sport)
    start_utc = _timestamp(activity, "start_date", problems)
    start_local = _timestamp(activity, "start_date_local", problems)
    if start_local is not None and start_local.date() != activity_date:
        problems["start_date_local"] = f"local date {start_local.date()} is not the record's partition date {activity_date}"

    distance = _number(activity, "distance", problems, required=True)
    moving = _number(activity, "moving_time", problems, required=True)
    elapsed = _number(activity, "elapsed_time", problems, required=True)
    elevation = _number(activity, "total_elevation_gain", problems, required=False)
    avg_speed = _number(activity, "average_speed", problems, required=False)
    max_speed = _number(activity, "max_speed", problems, required=False)
    avg_hr = _number(activity, "average_heartrate", problems, required=False)
    max_hr = _number(activity, "max_heartrate", problems, required=False)

    if distance is not None and distance < 0:
        problems["distance"] = f"negative: {distance}"
    if moving is not None and not 0 < moving <= MAX_DURATION_S:
        problems["moving_time"] = f"must be in (0, {MAX_DURATION_S:.0f}] s: {moving}"
    if elapsed is not None and not 0 < elapsed <= MAX_DURATION_S:
        problems["elapsed_time"] = f"must be in (0, {MAX_DURATION_S:.0f}] s: {elapsed}"
    if sport in DISTANCE_SPORTS and distance is not None and distance == 0:
        problems["distance"] = f"zero distance for a {sport}"
    if sport in RUN_SPORTS and distance is not None and 0 < distance < MIN_RUN_DISTANCE_M:
        problems["distance"] = f"{distance:.0f} m is too short for a run (< {MIN_RUN_DISTANCE_M:.0f} m)"
    for field, value in (("average_heartrate", avg_hr), ("max_heartrate", max_hr)):
        if value is not None and not HR_RANGE_BPM[0] <= value <= HR_RANGE_BPM[1]:
            problems[field] = f"{value:.0f} bpm outside the plausible {HR_RANGE_BPM[0]:.0f}-{HR_RANGE_BPM[1]:.0f}"
    if avg_hr is not None and max_hr is not None and avg_hr > max_hr + 0.5 and not problems.keys() & {"average_heartrate", "max_heartrate"}:
        problems["average_heartrate"] = f"average {avg_hr:.0f} above max {max_hr:.0f}"

    pace = None
    if distance and moving and distance > 0 and sport in DISTANCE_SPORTS and "distance" not in problems:
        pace = moving / (distance / 1000.0)
        if sport in RUN_SPORTS and not RUN_PACE_S_PER_KM[0] <= pace <= RUN_PACE_S_PER_KM[1]:
            problems["average_speed"] = (
                f"run pace {pace:.0f} s/km outside the plausible {RUN_PACE_S_PER_KM[0]:.0f}-{RUN_PACE_S_PER_KM[1]:.0f} s/km"
            )
    if problems:
        raise Rejection(problems)

    workout_type = activity.get("workout_type")
    has_hr = avg_hr is not None
    row = {
        "athlete_id": int(athlete_id),
        "activity_id": int(activity_id),
        "activity_date": activity_date,
        "start_date_utc": start_utc.astimezone(dt.timezone.utc),
        "start_date_local": start_local.replace(tzinfo=None),
        "timezone": activity.get("timezone"),
        "name": activity.get("name"),
        "sport": sport,
        "raw_sport_type": str(raw_sport),
        "workout_type": int(workout_type) if workout_type not in (None, "") else None,
        "distance_m": distance,
        "moving_time_s": moving,
        "elapsed_time_s": elapsed,
        "moving_min": moving / 60.0,
        "elapsed_min": elapsed / 60.0,
        "elevation_gain_m": elevation,
        "average_speed_mps": avg_speed if avg_speed is not None else (distance / moving if distance else None),
        "max_speed_mps": max_speed,
        "pace_s_per_km": pace,
        "average_hr": avg_hr,
        "max_hr": max_hr,
        "has_heartrate": has_hr,
        "manual": bool(activity.get("manual", False)),
        "trainer": bool(activity.get("trainer", False)),
        "source": source,
        "content_hash": content_hash,
        "ingested_at": ingested_at,
        "record_seq": int(record_seq),
    }
    profile = None
    stream_profile = hr_profile_from_streams(json.loads(streams)) if streams else None
    split_profile = None if stream_profile else hr_profile_from_splits(activity.get("splits_metric") or [])
    if has_hr and (stream_profile or split_profile):
        bpm, seconds = stream_profile or split_profile
        profile = {
            "athlete_id": int(athlete_id),
            "activity_id": int(activity_id),
            "activity_date": activity_date,
            "hr_source": "stream" if stream_profile else "splits",
            "hr_bpm": bpm,
            "seconds": seconds,
        }
    return ParsedActivity(row=row, hr_profile=profile)
