"""The weekly table: one row per athlete and Monday-based week with volume, load, Foster monotony and
strain, long run and rest days."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from athlete_platform.domain import training_load as tl
from athlete_platform.features.compute.common import as_days, float_column, to_date_objects, typed_empty

WEEKLY_FEATURE_COLUMNS: Final[Mapping[str, str]] = {
    "athlete_id": "int64",
    "week_start": "object",  # datetime.date, a Monday
    "volume_km": "float64",
    "load": "float64",
    "monotony": "float64",
    "strain": "float64",
    "long_run_km": "float64",
    "run_count": "int64",
    "rest_days": "int64",
    "days_covered": "int64",
}

#: The daily feature columns :func:`weekly_features` reads (the Spark asset ships only these to pandas).
WEEKLY_INPUT_COLUMNS: Final = (
    "athlete_id",
    "date",
    "daily_load",
    "distance_km",
    "longest_run_km",
    "run_count",
    "activity_count",
)


def weekly_features(daily_df: pd.DataFrame) -> pd.DataFrame:
    """One row per athlete per Monday-based week present in ``daily_df``.

    Columns (see :data:`WEEKLY_FEATURE_COLUMNS`): volume_km (running km), load (sum of daily_load),
    monotony (Foster over the 7 calendar days, population SD, SD = 0 → 10, clamped to [0, 10]),
    strain = load × monotony, long_run_km (longest single run), run_count, rest_days (daily rows with
    no activity), days_covered (daily rows present).

    Partial weeks (the athlete's first week, or the current week): days without a daily row enter
    monotony/strain as rest days (load 0, Runalyze's always-7-days rule) but are *not* counted in
    rest_days; days_covered < 7 marks them. Pass whole weeks of daily rows for whole-week values.
    """
    if daily_df.empty:
        return typed_empty(WEEKLY_FEATURE_COLUMNS)
    # Sums in (athlete, date) order whatever order the rows come in (Spark does not keep one), so a
    # week's float sums do not change in the last bit with the row order.
    daily_df = daily_df.iloc[
        np.lexsort((as_days(daily_df["date"]), daily_df["athlete_id"].astype("int64").to_numpy()))
    ]
    days = as_days(daily_df["date"])
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    week_start = (days - weekday.astype("timedelta64[D]")).astype("datetime64[ns]")
    frame = pd.DataFrame(
        {
            "athlete_id": daily_df["athlete_id"].astype("int64").to_numpy(),
            "_week": week_start,
            "volume_km": float_column(daily_df, "distance_km"),
            "load": np.nan_to_num(float_column(daily_df, "daily_load"), nan=0.0),
            "long_run_km": float_column(daily_df, "longest_run_km"),
            "run_count": daily_df["run_count"].astype("int64").to_numpy(),
            "rest_days": (daily_df["activity_count"].astype("int64").to_numpy() == 0).astype(np.int64),
            "days_covered": 1,
        }
    )
    if pd.DataFrame({"athlete_id": frame["athlete_id"], "_day": days}).duplicated().any():
        raise ValueError("daily_df has duplicate (athlete_id, date) rows")
    grouped = frame.groupby(["athlete_id", "_week"], sort=True)
    weekly = grouped.agg(
        volume_km=("volume_km", "sum"),
        load=("load", "sum"),
        long_run_km=("long_run_km", "max"),
        run_count=("run_count", "sum"),
        rest_days=("rest_days", "sum"),
        days_covered=("days_covered", "sum"),
    ).reset_index()
    week_matrix = np.zeros((len(weekly), 7))
    week_matrix[grouped.ngroup().to_numpy(), weekday] = frame["load"].to_numpy()
    weekly["monotony"] = tl.monotony_of_weeks(week_matrix)
    weekly["strain"] = week_matrix.sum(axis=1) * weekly["monotony"].to_numpy()
    weekly["week_start"] = to_date_objects(weekly["_week"].to_numpy(dtype="datetime64[ns]"))
    counts = {"run_count": "int64", "rest_days": "int64", "days_covered": "int64"}
    return weekly[list(WEEKLY_FEATURE_COLUMNS)].astype(counts)
