"""The daily graph (bronze through rolling features) and two simulated athletes of records to run it on, shared by the
feature-asset tests and the Spark Connect tests."""

import datetime as dt

import numpy as np

from athlete_platform.features.assets import activity_features, athlete_daily_features, athlete_rolling_features
from athlete_platform.ingest.assets import raw_activities
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.support.static_source import run_activity

DAILY_GRAPH = [raw_activities, silver_activities, activity_features, athlete_daily_features, athlete_rolling_features]
FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 2, 19)


def two_athletes() -> list[dict]:
    """Athlete 1 runs most days with gaps; athlete 2 starts later, runs rarely, has no HR."""
    rng = np.random.default_rng(7)
    records, next_id = [], 1000
    day = FIRST
    while day <= LAST:
        if rng.random() < 0.6:
            km = float(rng.uniform(5, 16))
            records.append(run_activity(next_id, day.isoformat(), athlete_id=1, distance=km * 1000,
                                        moving_time=int(km * rng.uniform(270, 330))))
            next_id += 1
        if day >= dt.date(2025, 1, 20) and rng.random() < 0.25:
            records.append(run_activity(next_id, day.isoformat(), athlete_id=2, distance=8000.0,
                                        moving_time=2700, average_heartrate=None))
            next_id += 1
        day += dt.timedelta(days=1)
    return records
