"""Small pandas/Arrow helpers shared by the inference, monitoring and report assets."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
from dagster import DagsterType

#: Input type for a pandas input that may legitimately be ``None`` (a partition mapping reaching before
#: the first partition). ``typing_type`` stays ``pd.DataFrame`` so the Delta IO manager still loads pandas;
#: ``Optional[pd.DataFrame]`` would hide that from it.
PandasOrNone = DagsterType(
    type_check_fn=lambda _context, value: value is None or isinstance(value, pd.DataFrame),
    name="PandasDataFrameOrNone",
    typing_type=pd.DataFrame,
    description="A pandas DataFrame, or None when the mapped upstream window lies before the first partition.",
)


def as_dates(values: pd.Series) -> pd.Series:
    """Dates, Timestamps or ISO strings → ``datetime.date`` objects."""
    return pd.to_datetime(values).dt.date


def window_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The calendar days of ``[start, end)``."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


def to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A frame as an Arrow table with exactly ``schema`` (so an empty day keeps typed columns)."""
    if frame.empty:
        return schema.empty_table()
    return pa.Table.from_pandas(frame.loc[:, schema.names], schema=schema, preserve_index=False)


def or_empty(frame: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if frame is None else frame
