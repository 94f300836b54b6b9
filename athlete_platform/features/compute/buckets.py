"""The bodies of the feature assets' Spark ``cogroup(...).applyInPandas`` calls, one call per athlete bucket.

They live here, not next to the assets, because Spark pickles them into its Python workers: a worker imports
the module of every function it unpickles, and this package imports only pandas, NumPy and the domain math,
where the asset modules import Dagster and PySpark (about a second and 150 MB more in every worker).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from athlete_platform.features.compute.activity import activity_features
from athlete_platform.features.compute.common import FeatureParams, as_day, as_days
from athlete_platform.features.compute.rolling import ROLLING_FEATURE_COLUMNS, rolling_features, state_from_previous_rows


def activity_features_for_athletes(activities: pd.DataFrame, hr_profiles: pd.DataFrame, *, start: dt.date,
                                   config: FeatureParams) -> pd.DataFrame:
    """Score the bucket's activities dated from ``start``; the earlier ones serve as history."""
    if activities.empty:
        return activity_features(activities, None, None, config)
    in_window = as_days(activities["activity_date"]) >= as_day(start)
    return activity_features(activities[in_window], hr_profiles, activities[~in_window], config)


def rolling_for_athletes(daily: pd.DataFrame, previous: pd.DataFrame, *, start: dt.date,
                         config: FeatureParams) -> pd.DataFrame:
    """Continue each athlete's recursion from its row of the day before the window (``previous``).

    Athletes with rolling rows but no daily rows in the bucket get no rows (nothing to advance); an athlete with
    daily rows before the window but no rolling row the day before it is an error (its state is unknown)."""
    columns = list(ROLLING_FEATURE_COLUMNS)
    if daily.empty:
        return pd.DataFrame(columns=columns)
    days = as_days(daily["date"])
    history, new = daily[days < as_day(start)], daily[days >= as_day(start)]
    day_before = start - dt.timedelta(days=1)
    if not previous.empty:
        previous = previous[as_days(previous["as_of_date"]) == as_day(day_before)]
        previous = previous[previous["athlete_id"].isin(daily["athlete_id"]).to_numpy()]
    continuing = set(previous["athlete_id"].astype("int64")) if not previous.empty else set()
    without_state = sorted(set(history["athlete_id"].astype("int64")) - continuing)
    if without_state:
        raise ValueError(
            f"athlete {int(without_state[0])} has daily features before {start} but no rolling features for "
            f"{day_before}: materialize athlete_rolling_features for {day_before} (or a range ending there) first"
        )
    states = state_from_previous_rows(previous, history, config)
    return rolling_features(new, states, config)[columns]
