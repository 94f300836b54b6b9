"""Which registered model version serves which day: explicit lineage, never "the latest file".

* **Alias mode** (daily runs): ``model_alias`` (default ``champion``) is resolved once per run with
  ``MlflowClient.get_model_version_by_alias`` and the model is loaded as ``models:/<name>/<version>``, so
  every row names the exact version even if the alias moves while the run is going.
* **Point-in-time mode** (backfills): for each prediction date D the newest registered version whose
  training data ended before D, so a backfill never uses a model that saw D or later.

Training cut-off: the training run's tag ``data_window_end`` written by ``model/time_estimator``
(``athlete_platform/model/assets.py``) — the training week's Monday, **exclusive**: the version was trained
on races strictly before it, with features as of days before those races. Fallbacks: the version tag
``data_window_end`` (the same date, set on every version by ``model/registered_time_estimator`` and by
``model/champion_decision`` for a baseline it registers), then the version tag ``training_week`` (versions
registered before that tag existed). A version with none of them is never chosen in point-in-time mode,
and promotion (``athlete_platform/model/promotion.py``) counts no race as unseen by it. A version with
``data_window_end = E`` may serve D when ``E ≤ D`` (everything it saw is before D; the prediction for D
itself uses features < D). ``training_cutoff`` below
is the last day of training data, ``E − 1``, so the rule reads "cut-off before D".

MLflow is imported lazily (inside functions) to keep ``definitions.py`` cheap to import.
"""

from __future__ import annotations

import datetime as dt
import pickle
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from athlete_platform.model.contract import DISTANCES_M, DLE_ARTIFACT_PATH
from athlete_platform.model.tracking import cv_metric_name, legacy_cv_metric_name

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: Run tag (set by model/time_estimator) holding the exclusive end of the training data (ISO date).
DATA_WINDOW_END_TAG = "data_window_end"
#: Version tag (set by model/registered_time_estimator) with the same Monday: the fallback.
TRAINING_WEEK_TAG = "training_week"

#: MLflow metric names tried, in order, for a distance's reference MAE (s): the out-of-fold CV MAE of the
#: model logged by model/time_estimator (``cv/{distance}/model_mae_s``, or ``model_mae_s_{distance}`` on runs
#: logged before the grouped names: ``model/tracking.py``); the DLE's reference set is the same out-of-fold
#: rows, so estimated and reference MAE are comparable.
REFERENCE_MAE_METRIC_PATTERNS: tuple[str, ...] = (
    cv_metric_name("model", "mae_s", "{d}"), legacy_cv_metric_name("model", "mae_s", "{d}"),
)


@dataclass(frozen=True)
class ModelRef:
    """One registered model version as used by inference."""

    name: str
    version: str
    run_id: str
    alias: str | None  # the alias it was resolved through; None in point-in-time mode
    data_window_end: dt.date | None  # exclusive end of its training data

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def training_cutoff(self) -> dt.date | None:
        """Last day of the training data (inclusive)."""
        return None if self.data_window_end is None else self.data_window_end - dt.timedelta(days=1)

    def may_serve(self, day: dt.date) -> bool:
        """True when everything the version was trained on lies before ``day``."""
        return self.data_window_end is not None and self.data_window_end <= day

    def as_metadata(self) -> dict[str, str]:
        return {
            "model_name": self.name,
            "model_version": self.version,
            "model_alias": self.alias or "",
            "mlflow_run_id": self.run_id,
            "model_uri": self.uri,
            "training_data_end_exclusive": self.data_window_end.isoformat() if self.data_window_end else "",
        }


def _parse_date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def data_window_end(client: "MlflowClient", version: Any) -> dt.date | None:
    """Exclusive end of the version's training data: run tag ``data_window_end``, else version tag
    ``data_window_end``, else version tag ``training_week``; None when none is readable."""
    run_id = getattr(version, "run_id", None)
    if run_id:
        end = _parse_date(client.get_run(run_id).data.tags.get(DATA_WINDOW_END_TAG))
        if end is not None:
            return end
    tags = getattr(version, "tags", None) or {}
    return _parse_date(tags.get(DATA_WINDOW_END_TAG)) or _parse_date(tags.get(TRAINING_WEEK_TAG))


def _ref(client: "MlflowClient", version: Any, alias: str | None) -> ModelRef:
    return ModelRef(
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        alias=alias,
        data_window_end=data_window_end(client, version),
    )


def get_version(client: "MlflowClient", name: str, version: str) -> ModelRef:
    return _ref(client, client.get_model_version(name, str(version)), None)


def resolve_alias(client: "MlflowClient", name: str, alias: str) -> ModelRef:
    """``name@alias`` → the exact version (raises MlflowException when the alias is not set)."""
    return _ref(client, client.get_model_version_by_alias(name, alias), alias)


def alias_if_set(client: "MlflowClient", name: str, alias: str) -> ModelRef | None:
    """``name@alias`` → the exact version, or None when the model has no such alias (e.g. no challenger)."""
    version = client.get_registered_model(name).aliases.get(alias)
    return None if version is None else _ref(client, client.get_model_version(name, str(version)), alias)


def registered_versions(client: "MlflowClient", name: str) -> list[ModelRef]:
    """Every registered version of ``name`` (point-in-time mode), oldest first."""
    versions = client.search_model_versions(f"name='{name}'")
    refs = [_ref(client, version, None) for version in versions]
    return sorted(refs, key=lambda ref: int(ref.version))


def point_in_time_versions(versions: Iterable[ModelRef], dates: Iterable[dt.date]) -> dict[dt.date, ModelRef | None]:
    """Per date D: the newest version (highest version number) trained only on data before D."""
    ordered = sorted(versions, key=lambda v: int(v.version))
    chosen: dict[dt.date, ModelRef | None] = {}
    for day in dates:
        candidates = [v for v in ordered if v.may_serve(day)]
        chosen[day] = candidates[-1] if candidates else None
    return chosen


def load_pyfunc(ref: ModelRef) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(ref.uri)


def load_dle_estimators(client: "MlflowClient", run_id: str) -> dict[str, Any]:
    """``{distance: fitted nannyml DLE}`` from the pickled artifact logged on the version's run.

    Accepts the layout of ``athlete_platform.model.dle.fit_dle_per_distance`` (``{"estimators": {d: DLE},
    "skipped": ..., ...}``) and a bare ``{d: DLE}`` dict. The pickle comes from our own MLflow store
    (written by the training asset): trusted input. The caller must have imported nannyml safely first
    (``monitoring.nannyml_support.import_nannyml``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, DLE_ARTIFACT_PATH, tmp)
        with Path(local).open("rb") as handle:
            artifact = pickle.load(handle)  # noqa: S301 - our own artifact
    if not isinstance(artifact, Mapping):
        raise TypeError(f"{DLE_ARTIFACT_PATH} of run {run_id} holds a {type(artifact).__name__}, not a dict")
    estimators = artifact.get("estimators", artifact)
    return {distance: estimators[distance] for distance in DISTANCES_M if distance in estimators}


def reference_mae(client: "MlflowClient", run_id: str) -> dict[str, float]:
    """Per distance, the reference (validation) MAE in seconds logged on the training run (absent → missing)."""
    metrics = client.get_run(run_id).data.metrics
    found: dict[str, float] = {}
    for distance in DISTANCES_M:
        for pattern in REFERENCE_MAE_METRIC_PATTERNS:
            key = pattern.format(d=distance)
            if key in metrics:
                found[distance] = float(metrics[key])
                break
    return found
