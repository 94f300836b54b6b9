"""Leakage check of training rows against the rolling-feature table they claim to come from.

A training row is leak-free when

1. its ``as_of_date`` is set and strictly before its ``race_date`` (features "as of the end of" the race
   day already contain the race), and
2. a rolling-feature row exists for ``(athlete_id, as_of_date)``, and
3. every model feature of the training row equals that rolling row's value (NaN equals NaN): the
   features were *taken from* that row and not computed or patched from anything later.

The check recomputes the lookup from the rolling table instead of trusting the join that built the rows,
so a bug in the join, or a feature patched from the future afterwards, is caught. Pure pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from athlete_platform.model.contract import FEATURE_COLUMNS

LEAK_NOT_BEFORE_RACE: Final = "as_of_date_not_before_race"
LEAK_NO_FEATURE_ROW: Final = "no_rolling_row_for_as_of_date"
LEAK_FEATURES_DIFFER: Final = "features_differ_from_rolling_row"


@dataclass
class LeakReport:
    leaks: pd.DataFrame  # athlete_id, activity_id, race_date, as_of_date, reason, columns
    rows_checked: int

    @property
    def passed(self) -> bool:
        return self.leaks.empty

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.leaks["reason"].value_counts().items()} if not self.leaks.empty else {}


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def find_leaks(rows: pd.DataFrame, rolling: pd.DataFrame, *, rtol: float = 1e-12) -> LeakReport:
    """Rows of ``rows`` (training rows) that break the point-in-time rules; see the module docstring."""
    out_columns = ["athlete_id", "activity_id", "race_date", "as_of_date", "reason", "columns"]
    if rows.empty:
        return LeakReport(pd.DataFrame(columns=out_columns), 0)
    frame = rows.reset_index(drop=True)
    race_day = _days(frame["race_date"])
    as_of_day = _days(frame["as_of_date"])
    not_before = as_of_day.isna() | (as_of_day >= race_day)

    lookup = rolling.loc[:, ["athlete_id", "as_of_date", *FEATURE_COLUMNS]].copy()
    lookup["athlete_id"] = lookup["athlete_id"].astype("int64")
    lookup["_as_of_day"] = _days(lookup["as_of_date"])
    lookup = lookup.drop(columns=["as_of_date"]).drop_duplicates(["athlete_id", "_as_of_day"], keep="last")
    probe = pd.DataFrame({"athlete_id": frame["athlete_id"].astype("int64"), "_as_of_day": as_of_day, "_row": np.arange(len(frame))})
    found = probe.merge(lookup, on=["athlete_id", "_as_of_day"], how="left", indicator=True).sort_values("_row")
    no_row = (found["_merge"] != "both").to_numpy() & ~not_before.to_numpy()

    differing: list[list[str]] = [[] for _ in range(len(frame))]
    for column in FEATURE_COLUMNS:
        mine = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        source = pd.to_numeric(found[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        both_nan = np.isnan(mine) & np.isnan(source)
        with np.errstate(invalid="ignore"):
            close = np.isclose(mine, source, rtol=rtol, atol=0.0)
        for position in np.flatnonzero(~(both_nan | close)):
            differing[position].append(column)
    features_differ = np.array([bool(columns) for columns in differing]) & ~no_row & ~not_before.to_numpy()

    reasons = np.where(not_before, LEAK_NOT_BEFORE_RACE, np.where(no_row, LEAK_NO_FEATURE_ROW, LEAK_FEATURES_DIFFER))
    bad = not_before.to_numpy() | no_row | features_differ
    leaks = pd.DataFrame(
        {
            "athlete_id": frame["athlete_id"],
            "activity_id": frame["activity_id"],
            "race_date": frame["race_date"],
            "as_of_date": frame["as_of_date"],
            "reason": reasons,
            "columns": [",".join(c) if r == LEAK_FEATURES_DIFFER else "" for c, r in zip(differing, reasons)],
        }
    )[bad].reset_index(drop=True)
    return LeakReport(leaks, len(frame))
