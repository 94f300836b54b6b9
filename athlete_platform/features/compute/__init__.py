"""Pandas computations of the four feature tables: activity, daily, weekly and rolling features.

One module per table (``activity``, ``daily``, ``weekly``, ``rolling``) and ``common`` for what they share
(:class:`FeatureParams`, sport rules, window lengths, array helpers). This package's namespace is the
public table API: callers write ``from athlete_platform.features import compute`` and
``compute.rolling_features(...)``; the names below are imported here explicitly from the module that
defines them (their one home), nothing else is re-exported.

Every function is pure (no I/O, no Spark, no Dagster) and works on one athlete or many; athletes never
influence each other, so the Spark wiring can call them on hash buckets of whole athletes
(``features.assets.athlete_bucket``). Null values are NaN in float columns (Arrow turns them into
nulls). Domain math lives in :mod:`athlete_platform.domain.training_load`,
:mod:`athlete_platform.domain.hr_zones` and :mod:`athlete_platform.domain.race_baselines` (VDOT); this
package only arranges it into tables.

Leakage rules: an activity's threshold pace and HRmax come only from activities that started strictly
before it; a rolling row for day D ("as of the end of D") uses only days ≤ D.
"""

from athlete_platform.features.compute.activity import (
    ACTIVITY_FEATURE_COLUMNS,
    ACTIVITY_INPUT_COLUMNS,
    activity_features,
)
from athlete_platform.features.compute.common import FeatureParams
from athlete_platform.features.compute.daily import DAILY_FEATURE_COLUMNS, DAILY_INPUT_COLUMNS, daily_features
from athlete_platform.features.compute.rolling import (
    RISK_ACWR,
    RISK_MONOTONY,
    RISK_TSB,
    ROLLING_FEATURE_COLUMNS,
    ROLLING_INPUT_COLUMNS,
    RollingState,
    rolling_features,
    state_from_previous_rows,
)
from athlete_platform.features.compute.weekly import WEEKLY_FEATURE_COLUMNS, WEEKLY_INPUT_COLUMNS, weekly_features

__all__ = [
    "ACTIVITY_FEATURE_COLUMNS",
    "ACTIVITY_INPUT_COLUMNS",
    "DAILY_FEATURE_COLUMNS",
    "DAILY_INPUT_COLUMNS",
    "RISK_ACWR",
    "RISK_MONOTONY",
    "RISK_TSB",
    "ROLLING_FEATURE_COLUMNS",
    "ROLLING_INPUT_COLUMNS",
    "WEEKLY_FEATURE_COLUMNS",
    "WEEKLY_INPUT_COLUMNS",
    "FeatureParams",
    "RollingState",
    "activity_features",
    "daily_features",
    "rolling_features",
    "state_from_previous_rows",
    "weekly_features",
]
