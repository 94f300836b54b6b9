"""Point-in-time training rows: each race joined with the athlete's features as they were *before* it.

For a race on day R the features come from the athlete's ``features/athlete_rolling_features`` row
with the greatest ``as_of_date < R`` ("as of the end of" that day), never the row of day R itself: that
row already contains the race (its load, its pace, its best effort). The join is an ASOF join
(``pandas.merge_asof(..., by="athlete_id", allow_exact_matches=False, direction="backward")``), not an
equality join on dates. Races without any earlier feature row (the athlete's first recorded day) cannot
be training rows; they are returned in ``unmatched`` so the asset reports them.

Pure pandas: no Dagster, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Mapping

import numpy as np
import pandas as pd

from athlete_platform.labels.race_detection import RACE_RESULT_COLUMNS
from athlete_platform.model.contract import FEATURE_COLUMNS

#: Columns of a training row (pandas dtypes); the asset adds ``training_week`` (the partition's Monday).
TRAINING_ROW_COLUMNS: Final[Mapping[str, str]] = {
    **RACE_RESULT_COLUMNS,
    "as_of_date": "object",  # datetime.date: the feature row used, always < race_date
    "feature_age_days": "int64",  # race_date - as_of_date (1 when the athlete has a row for the day before)
    **{name: "float64" for name in FEATURE_COLUMNS},
}


@dataclass
class PointInTimeJoin:
    rows: pd.DataFrame  # TRAINING_ROW_COLUMNS, sorted by race_date, athlete_id, activity_id
    unmatched: pd.DataFrame  # race rows (RACE_RESULT_COLUMNS) without an earlier feature row


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def empty_training_rows() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in TRAINING_ROW_COLUMNS.items()})


def point_in_time_join(races: pd.DataFrame, rolling: pd.DataFrame) -> PointInTimeJoin:
    """Join every race with the athlete's latest rolling-feature row strictly before the race date."""
    race_columns = list(RACE_RESULT_COLUMNS)
    if races.empty:
        return PointInTimeJoin(empty_training_rows(), races.reindex(columns=race_columns))
    missing = [c for c in ("athlete_id", "as_of_date", *FEATURE_COLUMNS) if c not in rolling.columns]
    if missing:
        raise KeyError(f"rolling features lack columns {missing}")
    left = races.loc[:, race_columns].copy()
    left["athlete_id"] = left["athlete_id"].astype("int64")
    left["_race_day"] = _days(left["race_date"])
    left = left.sort_values("_race_day", kind="stable")
    right = rolling.loc[:, ["athlete_id", "as_of_date", *FEATURE_COLUMNS]].copy()
    right["athlete_id"] = right["athlete_id"].astype("int64")
    right["_as_of_day"] = _days(right["as_of_date"])
    right = right.drop(columns=["as_of_date"]).sort_values("_as_of_day", kind="stable")
    for column in FEATURE_COLUMNS:
        right[column] = pd.to_numeric(right[column], errors="coerce").astype("float64")
    joined = pd.merge_asof(
        left,
        right,
        left_on="_race_day",
        right_on="_as_of_day",
        by="athlete_id",
        allow_exact_matches=False,  # the row of the race day itself already contains the race
        direction="backward",
    )
    matched = joined["_as_of_day"].notna()
    unmatched = joined.loc[~matched, race_columns].reset_index(drop=True)
    rows = joined[matched].copy()
    rows["as_of_date"] = rows["_as_of_day"].dt.date
    rows["feature_age_days"] = (rows["_race_day"] - rows["_as_of_day"]).dt.days.astype("int64")
    rows = rows.sort_values(["race_date", "athlete_id", "activity_id"], kind="stable").reset_index(drop=True)
    rows = rows.loc[:, list(TRAINING_ROW_COLUMNS)]
    return PointInTimeJoin(rows.astype({k: v for k, v in TRAINING_ROW_COLUMNS.items() if v != "object"}), unmatched)


def races_before(races: pd.DataFrame, cutoff) -> pd.DataFrame:
    """Races strictly before ``cutoff`` (a date): what a model trained at ``cutoff`` may know."""
    if races.empty:
        return races
    return races[_days(races["race_date"]) < np.datetime64(pd.Timestamp(cutoff).date(), "ns")]
