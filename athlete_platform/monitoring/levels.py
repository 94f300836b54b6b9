"""Check levels shared by the monitoring assets: ok / warn / error rows, the check result they give, and the
small markdown tables their metadata shows (``frames.markdown_table`` as Dagster markdown)."""

from typing import Any, Optional

import numpy as np
import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from athlete_platform.frames import markdown_table

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


def md_table(frame: pd.DataFrame, limit: int = 30) -> MetadataValue:
    return MetadataValue.md(markdown_table(frame, limit))
