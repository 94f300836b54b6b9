"""What training and inference agree on: feature columns, targets, output columns, names.

Training (``athlete_platform.model``) and inference (``athlete_platform.inference``) both build the model
input with :func:`model_input` from rows of ``features/athlete_rolling_features``, so there is one
feature code path and no training/serving skew.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from athlete_platform.domain.running import STANDARD_DISTANCES_M

DISTANCES_M: Final = STANDARD_DISTANCES_M  # the model serves every standard race distance

#: Columns of athlete_rolling_features fed to the model, in order.
FEATURE_COLUMNS: Final = (
    "ctl",
    "atl",
    "tsb",
    "acwr_ewma_7_28",
    "pace_trend_30d",
    "best_pace_30d",
    "distance_30d_km",
    "activity_count_30d",
    "consistency_30d",
    "monotony_7d",
    "rest_days_14d",
    "best_effort_5k_s",
    "best_effort_10k_s",
    "best_effort_21k_s",
    "best_effort_42k_s",
    # Fitness now rather than at the best effort of 90 days: recent Daniels-Gilbert VDOT of road runs and
    # the aerobic Efficiency Factor (speed per heartbeat) and its trend (features/compute/daily.py, rolling.py).
    "best_vdot_30d",
    "median_vdot_30d",
    "top3_vdot_90d",
    "days_since_best_vdot_90d",
    "efficiency_factor_30d",
    "efficiency_factor_ratio",
)

#: Output columns of the model's predict(), per distance d in DISTANCES_M: point and 80 % interval (s).
def prediction_columns(distance: str) -> tuple[str, str, str]:
    return f"pred_{distance}_s", f"lo80_{distance}_s", f"hi80_{distance}_s"


PREDICTION_COLUMNS: Final = tuple(column for d in DISTANCES_M for column in prediction_columns(d))

LOCAL_MODEL_NAME: Final = "time_estimator"
DATABRICKS_MODEL_NAME: Final = "uc_athlete_data.model.time_estimator"
CHALLENGER_ALIAS: Final = "challenger"
CHAMPION_ALIAS: Final = "champion"
DLE_ARTIFACT_PATH: Final = "monitoring/dle_estimator.pkl"

#: Gates (blocking checks): 10K MAE below this, and no worse than the Riegel baseline.
MAX_10K_MAE_S: Final = 180.0


#: Identifying columns the model reads besides the features: whose row it is and the day its features are
#: as of (the per-athlete correction uses that athlete's races up to that day only). Optional: without
#: them the model predicts from the population part alone.
KEY_COLUMNS: Final = ("athlete_id", "as_of_date")


def feature_matrix(rolling_rows: pd.DataFrame) -> pd.DataFrame:
    """The model's numeric features from rolling-feature rows (one row per athlete and as_of_date)."""
    missing = [c for c in FEATURE_COLUMNS if c not in rolling_rows.columns]
    if missing:
        raise KeyError(f"rolling features lack model columns {missing}")
    return rolling_rows.loc[:, list(FEATURE_COLUMNS)].astype("float64")


def model_input(rolling_rows: pd.DataFrame) -> pd.DataFrame:
    """What the model is given: ``athlete_id`` (int64) and ``as_of_date`` (datetime64; from ``as_of_date`` or
    the inference tables' ``feature_as_of_date``) when the rows have them, then :func:`feature_matrix`."""
    keys = pd.DataFrame(index=rolling_rows.index)
    if "athlete_id" in rolling_rows:
        keys["athlete_id"] = rolling_rows["athlete_id"].astype("int64")
        as_of = next((c for c in ("as_of_date", "feature_as_of_date") if c in rolling_rows), None)
        if as_of is not None:
            keys["as_of_date"] = pd.to_datetime(rolling_rows[as_of]).astype("datetime64[ns]")
    return pd.concat([keys, feature_matrix(rolling_rows)], axis=1)
