"""NannyML Direct Loss Estimation (DLE) per distance, fitted on out-of-fold predictions.

Monitoring will estimate the model's error on new predictions before race results exist. DLE learns,
from a *reference* set where the truth is known, to predict the absolute error from the features and
the prediction. Our reference is the cross-validation out-of-fold rows of one distance: the races the
fold models had not seen, with their predictions — the closest stand-in for production behaviour.

The artifact (``contract.DLE_ARTIFACT_PATH`` in the training run) is a pickled dict::

    {"estimators": {"10k": <fitted nannyml.DLE>, ...},      # distances with enough rows
     "skipped": {"42k": "9 reference rows < 20"},
     "feature_columns": [...contract.FEATURE_COLUMNS],
     "y_pred_columns": {"10k": "pred_10k_s", ...},       # contract.prediction_columns(d)[0]
     "y_true_column": "official_time_s",
     "timestamp_column": "timestamp",                    # race/prediction time (datetime64)
     "metrics": ["mae", "rmse"], "chunk_size": {...}, "nannyml_version": "0.13.1"}

so an analysis frame needs the feature columns, ``pred_{d}_s`` and ``timestamp``.

NannyML is imported lazily through :func:`athlete_platform.monitoring.nannyml_support.import_nannyml` (no
telemetry, no Spark JVM).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from athlete_platform.model.contract import DISTANCES_M, FEATURE_COLUMNS, prediction_columns
from athlete_platform.monitoring.nannyml_support import import_nannyml

TRUTH_COLUMN: Final = "official_time_s"
TIMESTAMP_COLUMN: Final = "timestamp"


@dataclass(frozen=True)
class DleParams:
    metrics: tuple[str, ...] = ("mae", "rmse")
    chunk_size: int = 50
    min_reference_rows: int = 20
    #: LightGBM settings of the internal error models (single thread on the shared machine, quiet).
    hyperparameters: dict[str, Any] = field(
        default_factory=lambda: {"n_estimators": 100, "min_child_samples": 5, "n_jobs": 1, "verbose": -1}
    )


def reference_frame(oof: pd.DataFrame, distance: str) -> pd.DataFrame:
    """The out-of-fold rows of one distance in the DLE column layout."""
    part = oof[oof["distance_bucket"] == distance]
    pred_column = prediction_columns(distance)[0]
    frame = part.loc[:, list(FEATURE_COLUMNS)].astype("float64").reset_index(drop=True)
    frame[pred_column] = part["model_s"].to_numpy(dtype=float)
    frame[TRUTH_COLUMN] = part["official_time_s"].to_numpy(dtype=float)
    frame[TIMESTAMP_COLUMN] = pd.to_datetime(part["race_date"]).to_numpy()
    return frame.sort_values(TIMESTAMP_COLUMN, kind="stable").reset_index(drop=True)


def fit_dle_per_distance(oof: pd.DataFrame, settings: DleParams | None = None) -> dict[str, Any]:
    """Fit one DLE per distance with at least ``min_reference_rows`` out-of-fold rows (the artifact dict)."""
    settings = settings or DleParams()
    nml = import_nannyml()
    estimators: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    chunk_sizes: dict[str, int] = {}
    for distance in DISTANCES_M:
        reference = reference_frame(oof, distance)
        if len(reference) < settings.min_reference_rows:
            skipped[distance] = f"{len(reference)} reference rows < {settings.min_reference_rows}"
            continue
        chunk_size = min(settings.chunk_size, max(5, len(reference) // 4))
        estimator = nml.DLE(
            feature_column_names=list(FEATURE_COLUMNS),
            y_pred=prediction_columns(distance)[0],
            y_true=TRUTH_COLUMN,
            timestamp_column_name=TIMESTAMP_COLUMN,
            metrics=list(settings.metrics),
            chunk_size=chunk_size,
            hyperparameters=dict(settings.hyperparameters),
        )
        with warnings.catch_warnings():
            # NannyML's advice to use more chunks: with a few dozen reference races there are no more to have.
            warnings.filterwarnings("ignore", message="The resulting number of chunks is too low", category=UserWarning)
            estimator.fit(reference)
        estimators[distance] = estimator
        chunk_sizes[distance] = chunk_size
    return {
        "estimators": estimators,
        "skipped": skipped,
        "feature_columns": list(FEATURE_COLUMNS),
        "y_pred_columns": {d: prediction_columns(d)[0] for d in DISTANCES_M},
        "y_true_column": TRUTH_COLUMN,
        "timestamp_column": TIMESTAMP_COLUMN,
        "metrics": list(settings.metrics),
        "chunk_size": chunk_sizes,
        "nannyml_version": nml.__version__,
    }
