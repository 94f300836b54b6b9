"""The MLflow side of ``model/time_estimator``, and the links between Dagster and MLflow.

Each function takes what it needs (a CV result, a client, a URL base) so the asset stays glue:

* **Metric names grouped by prefix**: ``cv/<distance>/<method>_<metric>`` (e.g. ``cv/10k/model_mae_s``),
  ``latest_fold/<distance>/<method>_<metric>`` and ``intervals/<distance>/coverage80`` /
  ``intervals/<distance>/log_halfwidth``: MLflow's run page draws one chart section per prefix instead of one
  flat list of ~130 metrics. Runs logged before this naming used ``<method>_<metric>_<distance>`` (e.g.
  ``model_mae_s_10k``) and ``coverage80_<distance>``; readers try :func:`cv_metric_name` first, then
  :func:`legacy_cv_metric_name` (``runner.mlflow_cv_metrics``, ``inference.lineage.reference_mae``).
* **Per-distance table**: :func:`per_distance_table` → the run's ``metrics/per_distance.csv`` artifact and a
  Dagster ``MetadataValue.table`` (:func:`dagster_table`).
* **The experiment opens on its runs**: MLflow 3's UI picks an experiment's default page from the experiment
  tag ``mlflow.experimentKind`` (``custom_model_development`` → runs; without it, an empty experiment opens on
  the GenAI traces page).
* **Links**: :class:`MlflowLinks` builds run, experiment and model-version URLs for a tracking server (an
  ``http(s)`` URI, the UI of a local store given by ``ATHLETE_PLATFORM_MLFLOW_UI_URL``) or a Databricks
  workspace; the asset records them as ``MetadataValue.url`` when there is one.
* **Descriptions**: :data:`REGISTERED_MODEL_DESCRIPTION` and :func:`model_version_description` (from the
  training run's tags and metrics), applied by :func:`describe_model_version`; the run itself carries the
  gates and the CV table as its description (``mlflow.note.content``).
"""

from __future__ import annotations

import math
import pickle
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote

import pandas as pd

from athlete_platform.model import contract
from athlete_platform.model.estimator import DISTANCE_KEYS, METHODS
from athlete_platform.model.evaluation import ALL_DISTANCES
from athlete_platform.quiet import without_log_lines

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from athlete_platform.model.dle import DleParams
    from athlete_platform.model.estimator import FittedTimeModel
    from athlete_platform.model.training import CrossValidation

CV_SECTION, LATEST_FOLD_SECTION, INTERVALS_SECTION = "cv", "latest_fold", "intervals"
METRIC_NAMES = ("mae_s", "rmse_s", "mape_pct", "n")
#: MLflow 3's experiment tag for the experiment's kind; the UI opens a custom-model experiment on its runs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CUSTOM_MODEL_DEVELOPMENT = "custom_model_development"
#: MLflow's tag holding a run's description (shown on the run page).
RUN_NOTE_TAG = "mlflow.note.content"
MODEL_ARTIFACT_NAME = "model"
CV_TABLE_ARTIFACT = "metrics/cv_metrics.md"
PER_DISTANCE_ARTIFACT = "metrics/per_distance.csv"
OOF_ARTIFACT = "metrics/oof_predictions.csv"

REGISTERED_MODEL_DESCRIPTION = (
    "Race-time estimator of athlete-platform: predicted 5K, 10K, half-marathon and marathon times (s) with 80 % "
    "intervals for each athlete, from the athlete's features as of the day before (load, form, recent VDOT, "
    "Efficiency Factor). A population gradient-boosting model on the correction to the Riegel time of the best "
    "90-day effort, plus a per-athlete correction; a classical formula (Riegel or VDOT) when there are too few "
    "races. Trained weekly by the Dagster asset model/time_estimator (time-ordered CV against Riegel and VDOT, "
    "blocking gates: 10K MAE and no worse than Riegel) and registered by model/registered_time_estimator. "
    f"Aliases: @{contract.CHAMPION_ALIAS} serves the daily predictions, @{contract.CHALLENGER_ALIAS} is the newest "
    "gated version."
)


# -- metric names -----------------------------------------------------------------------------------------


def cv_metric_name(method: str, metric: str, distance: str, *, latest_fold: bool = False) -> str:
    """``cv/10k/model_mae_s``; ``latest_fold/10k/model_mae_s`` for the latest fold only."""
    return f"{LATEST_FOLD_SECTION if latest_fold else CV_SECTION}/{distance}/{method}_{metric}"


def coverage_metric_name(distance: str) -> str:
    return f"{INTERVALS_SECTION}/{distance}/coverage80"


def halfwidth_metric_name(distance: str) -> str:
    return f"{INTERVALS_SECTION}/{distance}/log_halfwidth"


def legacy_cv_metric_name(method: str, metric: str, distance: str) -> str:
    """The name runs logged before the grouped names used (``model_mae_s_10k``)."""
    return f"{method}_{metric}_{distance}"


def legacy_coverage_metric_name(distance: str) -> str:
    return f"coverage80_{distance}"


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def cv_metrics(cv: "CrossValidation") -> dict[str, float]:
    """Every finite CV number of a training run under its grouped name."""
    metrics: dict[str, float] = {}
    for table, latest_fold in ((cv.metrics, False), (cv.latest_fold_metrics, True)):
        for record in table.to_dict("records"):
            for name in METRIC_NAMES:
                value = float(record[name])
                if _finite(value):
                    metrics[cv_metric_name(record["method"], name, record["distance"], latest_fold=latest_fold)] = value
    for record in cv.coverage.to_dict("records"):
        if _finite(float(record["coverage"])):
            metrics[coverage_metric_name(record["distance"])] = float(record["coverage"])
    for distance, width in cv.halfwidths.items():
        if _finite(width):
            metrics[halfwidth_metric_name(distance)] = float(width)
    return metrics


def logged_cv_metric(metrics: Mapping[str, float], method: str, metric: str, distance: str) -> float | None:
    """A CV metric from a run's logged metrics, under its grouped name or the legacy one; None when absent."""
    for name in (cv_metric_name(method, metric, distance), legacy_cv_metric_name(method, metric, distance)):
        if name in metrics:
            return float(metrics[name])
    return None


def logged_coverage(metrics: Mapping[str, float], distance: str) -> float | None:
    for name in (coverage_metric_name(distance), legacy_coverage_metric_name(distance)):
        if name in metrics:
            return float(metrics[name])
    return None


# -- the per-distance table -------------------------------------------------------------------------------


def per_distance_table(cv: "CrossValidation") -> pd.DataFrame:
    """One row per distance with races in the test folds (then ``all``): races, MAE/RMSE/MAPE of the model,
    Riegel and VDOT, the model's latest-fold MAE, and the 80 % interval coverage (NaN where not measured)."""
    coverage = dict(zip(cv.coverage["distance"], cv.coverage["coverage"]))
    rows = []
    for distance in [*DISTANCE_KEYS, ALL_DISTANCES]:
        races = cv.metric("model", distance, "n")
        if not _finite(races) or races == 0:
            continue
        row: dict[str, Any] = {"distance": distance, "races": int(races)}
        for name in ("mae_s", "rmse_s", "mape_pct"):
            for method in METHODS:
                row[f"{method}_{name}"] = cv.metric(method, distance, name)
        row["latest_fold_model_mae_s"] = cv.metric("model", distance, latest_fold=True)
        row["coverage80"] = float(coverage.get(distance, float("nan")))
        rows.append(row)
    columns = ["distance", "races", *[f"{m}_{n}" for n in ("mae_s", "rmse_s", "mape_pct") for m in METHODS],
               "latest_fold_model_mae_s", "coverage80"]
    return pd.DataFrame(rows, columns=columns)


def dagster_table(frame: pd.DataFrame, digits: int = 2) -> Any:
    """``frame`` as a Dagster ``MetadataValue.table`` (numbers rounded; NaN → empty: Dagster has no NaN)."""
    from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

    def kind(dtype: Any) -> str:
        if pd.api.types.is_integer_dtype(dtype):
            return "int"
        return "float" if pd.api.types.is_float_dtype(dtype) else "string"

    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, digits) if math.isfinite(value) else None
        return value.item() if hasattr(value, "item") else value

    schema = TableSchema(columns=[TableColumn(name=str(c), type=kind(frame[c].dtype)) for c in frame.columns])
    records = [TableRecord(data={str(k): cell(v) for k, v in row.items()}) for row in frame.to_dict("records")]
    return MetadataValue.table(records=records, schema=schema)


# -- links ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MlflowLinks:
    """URLs of a tracking server's UI (``base``, no trailing slash); ``databricks``: a workspace's URL scheme."""

    base: str
    databricks: bool = False

    def experiment(self, experiment_id: str) -> str:
        if self.databricks:
            return f"{self.base}/ml/experiments/{experiment_id}"
        return f"{self.base}/#/experiments/{experiment_id}"

    def run(self, experiment_id: str, run_id: str) -> str:
        return f"{self.experiment(experiment_id)}/runs/{run_id}"

    def model_version(self, model_name: str, version: str | int) -> str:
        if self.databricks and model_name.count(".") == 2:  # a Unity Catalog model: catalog.schema.model
            catalog, schema, model = model_name.split(".")
            return f"{self.base}/explore/data/models/{catalog}/{schema}/{model}/version/{version}"
        prefix = f"{self.base}/ml/models" if self.databricks else f"{self.base}/#/models"
        return f"{prefix}/{quote(model_name, safe='')}/versions/{version}"


def links_for(tracking_uri: str, ui_url: str | None = None, databricks_host: str | None = None) -> MlflowLinks | None:
    """Where the tracking store's UI is: ``ui_url`` when given (the ``mlflow ui`` of a local store), the tracking
    URI when it is an ``http(s)`` server, the workspace host for ``databricks``; None otherwise (no links)."""
    if ui_url:
        return MlflowLinks(ui_url.rstrip("/"))
    if tracking_uri.startswith(("http://", "https://")):
        return MlflowLinks(tracking_uri.rstrip("/"))
    if tracking_uri.split("://", 1)[0] == "databricks" and databricks_host:
        host = databricks_host.rstrip("/")
        return MlflowLinks(host if host.startswith(("http://", "https://")) else f"https://{host}", databricks=True)
    return None


# -- descriptions -----------------------------------------------------------------------------------------


def run_description(gate_notes: Mapping[str, str], table_md: str) -> str:
    """The training run's description (markdown): each gate's verdict, then the CV table."""
    gates = "\n".join(f"- **{name}**: {note}" for name, note in gate_notes.items())
    return f"Gates:\n{gates}\n\nTime-ordered cross-validation:\n\n{table_md}\n"


def model_version_description(tags: Mapping[str, str], metrics: Mapping[str, float]) -> str:
    """A registered version's description from its training run's tags and metrics."""
    kind = tags.get("model_kind", "?")
    baseline = tags.get("not_enough_races")
    what = (f"classical {tags.get('offset', '')} formula (not enough races: {baseline})" if baseline
            else f"{kind} model with {tags.get('offset', '?')} offset")
    parts = [
        f"Trained for week {tags.get('dagster_partition_key', '?')} on races "
        f"{tags.get('data_window_start', '?')} up to (not including) {tags.get('data_window_end', '?')}: {what}.",
    ]
    mae_10k, riegel_10k = logged_cv_metric(metrics, "model", "mae_s", "10k"), logged_cv_metric(metrics, "riegel", "mae_s", "10k")
    mae_all, riegel_all = logged_cv_metric(metrics, "model", "mae_s", "all"), logged_cv_metric(metrics, "riegel", "mae_s", "all")
    def seconds(value: float | None) -> str:
        return "?" if value is None else f"{value:.0f} s"

    if mae_all is not None:
        races = logged_cv_metric(metrics, "model", "n", "all")
        parts.append(f"Time-ordered CV on {int(races or 0)} races: MAE {seconds(mae_all)} (Riegel {seconds(riegel_all)})"
                     + (f", 10K MAE {seconds(mae_10k)} (Riegel {seconds(riegel_10k)})" if mae_10k is not None else "")
                     + ".")
    coverage = logged_coverage(metrics, "all")
    if coverage is not None:
        parts.append(f"80 % intervals covered {coverage:.0%} of the test races.")
    parts.append(f"Dagster run {tags.get('dagster_run_id', '?')}, code {tags.get('code_version', '?')} "
                 f"(fingerprint {tags.get('code_fingerprint', '?')}).")
    return " ".join(parts)


def describe_model_version(client: "MlflowClient", model_name: str, version: str | int) -> str:
    """Set the registered model's description and this version's (from its training run); the version's."""
    model_version = client.get_model_version(model_name, str(version))
    run = client.get_run(model_version.run_id)
    description = model_version_description(run.data.tags, run.data.metrics)
    if client.get_registered_model(model_name).description != REGISTERED_MODEL_DESCRIPTION:
        client.update_registered_model(model_name, description=REGISTERED_MODEL_DESCRIPTION)
    client.update_model_version(model_name, str(version), description=description)
    return description


# -- the training run -------------------------------------------------------------------------------------


def mark_experiment_for_runs(client: "MlflowClient", experiment_id: str) -> None:
    """Tag the experiment as custom model development, so MLflow's UI opens it on its runs."""
    if client.get_experiment(experiment_id).tags.get(EXPERIMENT_KIND_TAG) != CUSTOM_MODEL_DEVELOPMENT:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, CUSTOM_MODEL_DEVELOPMENT)


def input_example(rows: pd.DataFrame) -> pd.DataFrame:
    """A few model-input rows, complete ones preferred (JSON examples keep NaN as null, which is fine too);
    one all-NaN row of athlete 0 when there is no race yet."""
    if rows.empty:
        rows = pd.DataFrame([{"athlete_id": 0, "as_of_date": pd.Timestamp("2020-01-01"),
                              **{c: float("nan") for c in contract.FEATURE_COLUMNS}}])
    features = contract.model_input(rows)
    complete = features.dropna()
    return (complete if len(complete) >= 3 else features).head(5).reset_index(drop=True)


#: MLflow's warning at every model logged from a Python object (log models from code instead, it says): the platform
#: logs its fitted model object by design, cloudpickled with pinned requirements, so no user can act on it.
PYFUNC_LOGGER = "mlflow.pyfunc"
PYFUNC_OBJECT_ADVICE = "Passing a Python object as `python_model`"


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    model_uri: str
    experiment_id: str
    dle_distances: tuple[str, ...]


def log_pyfunc_model(fitted: "FittedTimeModel", rows: pd.DataFrame) -> Any:
    """Log ``fitted`` as the platform's pyfunc (signature, input example from ``rows``, pinned requirements,
    the contract's columns as metadata) in the active MLflow run; MLflow's ``ModelInfo``."""
    import mlflow
    import numpy as np
    import sklearn
    from mlflow.models import infer_signature

    from athlete_platform.model.pyfunc import TimeEstimatorModel

    example = input_example(rows)
    python_model = TimeEstimatorModel(fitted)
    with warnings.catch_warnings():
        # MLflow's hint that integer columns cannot hold missing values: athlete_id never is missing.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column", category=UserWarning)
        signature = infer_signature(example, python_model.predict(None, example))
    with without_log_lines(PYFUNC_LOGGER, PYFUNC_OBJECT_ADVICE):
        return mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT_NAME,
            python_model=python_model,
            signature=signature,
            input_example=example,
            pip_requirements=[
                f"mlflow=={mlflow.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"pandas=={pd.__version__}",
                f"numpy=={np.__version__}",
            ],
            metadata={"prediction_columns": list(contract.PREDICTION_COLUMNS),
                      "feature_columns": list(contract.FEATURE_COLUMNS)},
        )


def log_training_run(
    *,
    experiment_id: str,
    run_name: str,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    cv: "CrossValidation",
    fitted: "FittedTimeModel",
    rows: pd.DataFrame,
    description: str,
    gate_tags: Mapping[str, str],
    dle: "DleParams | None" = None,
) -> LoggedRun:
    """One MLflow run in the process's current tracking store: params, grouped CV metrics, the CV table (markdown),
    the per-distance table and out-of-fold predictions (CSV), the pyfunc model with signature and input example,
    the NannyML DLE artifact (``dle`` given), the gates as tags and ``description`` as the run's description."""
    import mlflow
    from mlflow import MlflowClient

    from athlete_platform.model.training import metrics_markdown

    mark_experiment_for_runs(MlflowClient(), experiment_id)
    dle_distances: tuple[str, ...] = ()
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                          tags={**tags, RUN_NOTE_TAG: description}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(cv_metrics(cv))
        mlflow.log_text(metrics_markdown(cv), CV_TABLE_ARTIFACT)
        mlflow.log_text(per_distance_table(cv).to_csv(index=False), PER_DISTANCE_ARTIFACT)
        mlflow.log_text(cv.oof.drop(columns=list(contract.FEATURE_COLUMNS)).to_csv(index=False), OOF_ARTIFACT)
        model_info = log_pyfunc_model(fitted, rows)
        if dle is not None:  # distances with too few reference races are listed as skipped in the artifact
            from athlete_platform.model.dle import fit_dle_per_distance

            fitted_dle = fit_dle_per_distance(cv.oof, dle)
            artifact_dir, artifact_file = contract.DLE_ARTIFACT_PATH.rsplit("/", 1)
            with tempfile.TemporaryDirectory() as folder:
                local = Path(folder) / artifact_file
                local.write_bytes(pickle.dumps(fitted_dle))
                mlflow.log_artifact(str(local), artifact_path=artifact_dir)
            dle_distances = tuple(fitted_dle["estimators"])
            mlflow.set_tag("dle_distances", ",".join(dle_distances) or "none")
        mlflow.set_tags(dict(gate_tags))
    return LoggedRun(run_id=run.info.run_id, model_uri=model_info.model_uri, experiment_id=experiment_id,
                     dle_distances=dle_distances)
