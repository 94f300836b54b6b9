"""Check levels shared by the monitoring assets: ok / warn / error rows, the check result they give, and the
small markdown tables their metadata shows."""

from typing import Any, Optional

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

OK, WARN, ERROR = "ok", "warn", "error"  # a table row's ``level``


def severity_of(levels) -> Optional[AssetCheckSeverity]:
    """None when every level is ok; else the worst (ERROR over WARN)."""
    levels = set(levels)
    if ERROR in levels:
        return AssetCheckSeverity.ERROR
    if WARN in levels:
        return AssetCheckSeverity.WARN
    return None


def level_check(check_name: str, asset_key: AssetKey, levels, metadata: dict[str, Any]) -> AssetCheckResult:
    severity = severity_of(levels)
    return AssetCheckResult(
        check_name=check_name,
        asset_key=asset_key,
        passed=severity is None,
        severity=severity or AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def level_of(value: float, warn: float, error: float) -> str:
    if value is None or not np.isfinite(value):
        return OK
    if value > error:
        return ERROR
    if value > warn:
        return WARN
    return OK


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


def md_table(frame: pd.DataFrame, limit: int = 30) -> MetadataValue:
    return MetadataValue.md(markdown_table(frame, limit))
