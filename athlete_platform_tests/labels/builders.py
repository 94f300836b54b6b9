"""Silver-shaped activities for the race-label tests: a run on a day after DAY0, a history of easy runs, a frame."""

import datetime as dt

import pandas as pd

DAY0 = dt.date(2024, 3, 4)


def run(activity_id: int, day_offset: int, *, name: str = "Morning Run", distance_m: float = 8_000.0,
        pace: float = 330.0, workout_type=None, sport: str = "run", athlete_id: int = 1, elapsed_extra: float = 30.0) -> dict:
    day = DAY0 + dt.timedelta(days=day_offset)
    moving = distance_m / 1000.0 * pace
    return {
        "athlete_id": athlete_id, "activity_id": activity_id, "activity_date": day,
        "start_date_utc": pd.Timestamp(day).tz_localize("UTC") + pd.Timedelta(hours=9),
        "name": name, "sport": sport, "workout_type": workout_type, "distance_m": distance_m,
        "moving_time_s": moving, "elapsed_time_s": moving + elapsed_extra, "pace_s_per_km": pace,
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out["workout_type"] = out["workout_type"].astype("Int64")
    return out


def training_weeks(athlete_id: int = 1, first_id: int = 1000, days: int = 40) -> list[dict]:
    """Easy runs (330 s/km) every other day before DAY0 + days: the athlete's "typical" pace."""
    return [run(first_id + i, -days + 2 * i, athlete_id=athlete_id) for i in range(days // 2)]
