"""Small pandas/Arrow helpers shared by the asset modules: dates, typed empty frames, Arrow tables, the small
markdown tables shown in Dagster metadata, and the stored rows a step's checks read back after its write."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import AssetKey, DagsterType

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


def markdown_table(frame: pd.DataFrame, limit: int = 30) -> str:
    """A small markdown table (no dependency on ``tabulate``); floats with 3 significant decimals."""
    if frame.empty:
        return "no rows"

    def cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if not np.isfinite(value) else f"{value:.3f}".rstrip("0").rstrip(".")
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.head(limit).itertuples(index=False)]
    if len(frame) > limit:
        lines.append(f"\n… {len(frame) - limit} more rows")
    return "\n".join(lines)


def stored_rows(io_manager: Any, asset_key: AssetKey, columns: list[str], partition_column: str,
                start: dt.date, end: dt.date) -> pd.DataFrame:
    """``columns`` of a table's stored rows in ``[start, end)``: what a step's checks read after its write."""
    table = io_manager.read_rows(asset_key.path, columns, partition_column=partition_column, start=start, end=end)
    return pd.DataFrame(columns=columns) if table is None else table.to_pandas()
