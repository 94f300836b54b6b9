"""The MLflow pyfunc wrapper of the fitted estimator (imports mlflow: keep it out of cheap import paths).

Input: rows of ``features/athlete_rolling_features`` (or any frame holding ``contract.FEATURE_COLUMNS``,
and ``contract.KEY_COLUMNS`` for the per-athlete correction; other columns are ignored). Output: one row per input row with exactly ``contract.PREDICTION_COLUMNS``
(seconds): ``pred_{d}_s`` monotone in distance, ``lo80_{d}_s ≤ pred_{d}_s ≤ hi80_{d}_s``.

The class is pickled by reference (cloudpickle): loading the model needs ``athlete_platform`` importable,
which is the case wherever the platform runs inference; the run's ``code_version`` tags say which code.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from athlete_platform.model.contract import PREDICTION_COLUMNS
from athlete_platform.model.contract import model_input as contract_input
from athlete_platform.model.estimator import FittedTimeModel


class TimeEstimatorModel(PythonModel):
    def __init__(self, fitted: FittedTimeModel):
        self.fitted = fitted

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        features = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        predictions = self.fitted.predict(contract_input(features))
        return predictions.loc[:, list(PREDICTION_COLUMNS)]


__all__ = ["TimeEstimatorModel"]
