"""An ActivitySource serving records given in code: lets tests put exact (also broken) data into bronze."""

import datetime as dt
from typing import Any

from athlete_platform.resources.sources import ActivitySource, FetchResult, SourceRecord, UnplaceableRecord


class StaticSource(ActivitySource):
    """``records``: {"athlete_id", "activity_date" (ISO), "activity", "streams"?}; ``unplaceable``: the
    keyword arguments of :class:`UnplaceableRecord` (``activity_date`` ISO or absent), returned with every
    fetch as a real source does."""

    records: list[dict[str, Any]]
    unplaceable: list[dict[str, Any]] = []

    @property
    def source_name(self) -> str:
        return "static"

    def fetch(self, start: dt.date, end: dt.date, log: Any = None, *, include_earlier: bool = False) -> FetchResult:
        result = FetchResult()
        for item in self.records:
            day = dt.date.fromisoformat(item["activity_date"])
            earlier = day < start
            if (earlier and not include_earlier) or day >= end:
                continue
            record = SourceRecord(
                source="static",
                athlete_id=item["athlete_id"],
                activity_date=day,
                activity=item["activity"],
                streams=item.get("streams"),
            )
            (result.earlier if earlier else result.records).append(record)
        for item in self.unplaceable:
            day = item.get("activity_date")
            result.unplaceable.append(
                UnplaceableRecord(**{**item, "source": "static",
                                     "activity_date": dt.date.fromisoformat(day) if day else None})
            )
        return result


def run_activity(activity_id: int, day: str, *, athlete_id: int = 1, distance: float = 10000.0,
                 moving_time: int = 3000, average_heartrate: float | None = 150.0, **overrides: Any) -> dict:
    """A valid Strava-shaped run on a local date (09:00 local, UTC-3)."""
    activity = {
        "id": activity_id,
        "athlete": {"id": athlete_id},
        "name": "Morning Run",
        "type": "Run",
        "sport_type": "Run",
        "workout_type": 0,
        "start_date": f"{day}T12:00:00Z",
        "start_date_local": f"{day}T09:00:00Z",
        "timezone": "(GMT-03:00) America/Sao_Paulo",
        "distance": distance,
        "moving_time": moving_time,
        "elapsed_time": moving_time + 60,
        "total_elevation_gain": 42.0,
        "average_speed": distance / moving_time if moving_time else 0.0,
        "max_speed": distance / moving_time * 1.3 if moving_time else 0.0,
        "has_heartrate": average_heartrate is not None,
        "manual": False,
    }
    if average_heartrate is not None:
        activity.update(average_heartrate=average_heartrate, max_heartrate=average_heartrate + 20)
    activity.update(overrides)
    return {"athlete_id": athlete_id, "activity_date": day, "activity": activity}
