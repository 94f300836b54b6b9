"""Real test doubles for inference and monitoring: Delta feature tables and an MLflow-registered model.

Nothing is mocked: the model is a fitted scikit-learn pipeline wrapped as an MLflow pyfunc that obeys
``athlete_platform.model.contract`` (predict(model_input(df)) → PREDICTION_COLUMNS), logged and registered
in a real sqlite MLflow store under the test's tmp_path; feature tables are real Delta tables.

Model: Ridge on log(10K time) from the contract features (median-imputed), the other distances by Riegel
(exponent 1.06), 80 % interval from the 10th/90th percentile of training log-residuals. Monotone in
distance by construction; ``BrokenModel`` swaps the half and the marathon to exercise the checks.
"""

from __future__ import annotations

import datetime as dt
import pickle
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from athlete_platform.features import compute
from athlete_platform.model import contract
from athlete_platform.resources.mlflow_resource import MlflowResource

MODEL_NAME = contract.LOCAL_MODEL_NAME


# -- feature tables ------------------------------------------------------------------------------------


def athlete_ability(athlete_id: int) -> float:
    """10K time in seconds of a synthetic athlete (36 to 60 minutes)."""
    return 2160.0 + (athlete_id * 397) % 1440


def rolling_rows(athlete_ids: list[int], days: list[dt.date], *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Rolling-feature rows (all ROLLING_FEATURE_COLUMNS) per athlete and day; ``shift`` inflates load features."""
    rng = np.random.default_rng(seed)
    rows = []
    for athlete_id in athlete_ids:
        ten_k = athlete_ability(athlete_id)
        for day in days:
            ctl = rng.uniform(30, 70) * (1 + shift)
            atl = ctl * rng.uniform(0.7, 1.4)
            tsb = rng.normal(-5, 10) - 40 * shift
            acwr = rng.uniform(0.8, 1.3) + shift
            effort = ten_k * rng.uniform(0.98, 1.04)
            risk = bool(acwr > 1.5 or tsb < -30)
            reasons = ",".join(
                code for code, hit in ((compute.RISK_ACWR, acwr > 1.5), (compute.RISK_TSB, tsb < -30)) if hit
            )
            rows.append({
                "athlete_id": athlete_id, "as_of_date": day, "ctl": ctl, "atl": atl, "tsb": tsb,
                "tsb_same_day": tsb + rng.normal(0, 2), "acwr_rolling_7_28": acwr, "acwr_ewma_7_28": acwr * 0.95,
                "pace_trend_30d": rng.normal(0, 0.3), "best_pace_30d": effort / 10 * rng.uniform(0.93, 0.97),
                "distance_30d_km": rng.uniform(80, 220) * (1 + shift), "activity_count_30d": int(rng.integers(10, 28)),
                "consistency_30d": rng.uniform(0.4, 0.9), "monotony_7d": rng.uniform(1.0, 1.9),
                "strain_7d": rng.uniform(200, 900), "rest_days_14d": int(rng.integers(1, 6)),
                "best_effort_5k_s": effort * 0.48, "best_effort_10k_s": effort,
                "best_effort_21k_s": effort * 2.207, "best_effort_42k_s": effort * 4.6,
                "is_warmup": False, "is_overtraining_risk": risk, "risk_reasons": reasons,
                "days_seen": 200, "ewma_acute": atl, "ewma_chronic": ctl,
                "best_vdot_30d": 2_400_000 / effort * rng.uniform(0.97, 1.0), "median_vdot_30d": 2_000_000 / effort,
                "top3_vdot_90d": 2_350_000 / effort, "days_since_best_vdot_90d": float(rng.integers(0, 90)),
                "efficiency_factor_30d": rng.uniform(1.4, 1.9), "efficiency_factor_ratio": rng.uniform(0.95, 1.05),
            })
    frame = pd.DataFrame(rows, columns=list(compute.ROLLING_FEATURE_COLUMNS))
    for column, dtype in compute.ROLLING_FEATURE_COLUMNS.items():
        if dtype != "object":
            frame[column] = frame[column].astype(dtype)
    return frame


def daily_rows(activity_days: dict[int, list[dt.date]]) -> pd.DataFrame:
    """Daily-feature rows with one activity on each listed day (other columns filled plausibly)."""
    rows = []
    for athlete_id, days in activity_days.items():
        for day in days:
            rows.append({
                "athlete_id": athlete_id, "date": day, "daily_load": 60.0, "distance_km": 10.0, "moving_min": 50.0,
                "activity_count": 1, "run_count": 1, "longest_run_km": 10.0, "road_run_distance_km": 10.0,
                "road_run_moving_min": 50.0, "best_pace_s_per_km": 300.0, "best_effort_distance_m": 10_000.0,
                "best_effort_time_s": 3000.0,
            })
    frame = pd.DataFrame(rows, columns=list(compute.DAILY_FEATURE_COLUMNS))
    for column, dtype in compute.DAILY_FEATURE_COLUMNS.items():
        if dtype != "object":
            frame[column] = frame[column].astype(dtype)
    return frame


def write_table(root: Path, key_path: list[str], frame: pd.DataFrame, *, mode: str = "append") -> None:
    path = root.joinpath(*key_path)
    path.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), pa.Table.from_pandas(frame, preserve_index=False), mode=mode)


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# -- the model -----------------------------------------------------------------------------------------


class RiegelRidgeModel(mlflow.pyfunc.PythonModel):
    """Ridge on log 10K time; other distances by Riegel; 80 % interval from residual quantiles."""

    def __init__(self, pipeline: Any, log_lo: float, log_hi: float) -> None:
        self.pipeline = pipeline
        self.log_lo = log_lo
        self.log_hi = log_hi

    def distance_factors(self) -> dict[str, float]:
        return {d: (m / 10_000.0) ** 1.06 for d, m in contract.DISTANCES_M.items()}

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        ten_k = np.exp(self.pipeline.predict(model_input.loc[:, list(contract.FEATURE_COLUMNS)]))
        out = {}
        for distance, factor in self.distance_factors().items():
            point, low, high = contract.prediction_columns(distance)
            out[point] = ten_k * factor
            out[low] = ten_k * factor * np.exp(self.log_lo)
            out[high] = ten_k * factor * np.exp(self.log_hi)
        return pd.DataFrame(out, columns=list(contract.PREDICTION_COLUMNS))


class BrokenModel(RiegelRidgeModel):
    """Predicts a marathon faster than a half: violates the monotonicity check."""

    def distance_factors(self) -> dict[str, float]:
        factors = super().distance_factors()
        factors["21k"], factors["42k"] = factors["42k"], factors["21k"]
        return factors


def training_frame(seed: int = 1, n_athletes: int = 60) -> pd.DataFrame:
    """Races (features of the day before + actual time per distance) for fitting and reference sets."""
    rng = np.random.default_rng(seed)
    features = rolling_rows(list(range(1, n_athletes + 1)), [dt.date(2024, 6, 1)], seed=seed)
    ten_k = features["best_effort_10k_s"].to_numpy() * np.exp(rng.normal(0, 0.03, len(features)))
    for distance, metres in contract.DISTANCES_M.items():
        features[f"actual_{distance}_s"] = ten_k * (metres / 10_000.0) ** 1.06 * np.exp(rng.normal(0, 0.02, len(features)))
    return features


def fit_model(frame: pd.DataFrame, broken: bool = False) -> RiegelRidgeModel:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    X = contract.feature_matrix(frame)
    y = np.log(frame["actual_10k_s"].to_numpy())
    pipeline = make_pipeline(SimpleImputer(strategy="median"), Ridge(alpha=1.0)).fit(X, y)
    residuals = y - pipeline.predict(X)
    cls = BrokenModel if broken else RiegelRidgeModel
    return cls(pipeline, float(np.quantile(residuals, 0.1)), float(np.quantile(residuals, 0.9)))


def fit_dle_artifact(model: RiegelRidgeModel, reference: pd.DataFrame) -> dict[str, Any]:
    """The platform's DLE artifact (``model.dle.fit_dle_per_distance``) from reference races scored by
    ``model``: the same layout the training asset logs."""
    from athlete_platform.model.dle import DleParams, fit_dle_per_distance

    predicted = model.predict(None, contract.model_input(reference))
    parts = []
    for i, distance in enumerate(contract.DISTANCES_M):
        part = reference.loc[:, list(contract.FEATURE_COLUMNS)].copy()
        part["distance_bucket"] = distance
        part["model_s"] = predicted[f"pred_{distance}_s"].to_numpy()
        part["official_time_s"] = reference[f"actual_{distance}_s"].to_numpy()
        part["race_date"] = [dt.date(2025, 1, 1) + dt.timedelta(days=j + i) for j in range(len(reference))]
        parts.append(part)
    settings = DleParams(chunk_size=20, hyperparameters={"n_estimators": 20, "n_jobs": 1, "verbose": -1})
    return fit_dle_per_distance(pd.concat(parts, ignore_index=True), settings)


def platform_time_model(seed: int = 1) -> Any:
    """The platform's own pyfunc (``model.pyfunc.TimeEstimatorModel``) fitted on synthetic races."""
    from athlete_platform.model.estimator import EstimatorParams, fit_time_model
    from athlete_platform.model.pyfunc import TimeEstimatorModel

    frame = training_frame(seed, n_athletes=120)
    races = []
    for distance in contract.DISTANCES_M:
        part = frame.loc[:, list(contract.FEATURE_COLUMNS)].copy()
        part["distance_bucket"] = distance
        part["official_time_s"] = frame[f"actual_{distance}_s"].to_numpy()
        races.append(part)
    params = EstimatorParams(max_iter=30, min_samples_leaf=10)
    return TimeEstimatorModel(fit_time_model(pd.concat(races, ignore_index=True), params, {d: 0.05 for d in contract.DISTANCES_M}))


def mlflow_resource(tmp_path: Path) -> MlflowResource:
    return MlflowResource(
        tracking_uri=f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}",
        artifact_location=str(tmp_path / "mlflow-artifacts"),
        model_name=MODEL_NAME,
    )


def register_version(
    resource: MlflowResource,
    *,
    data_window_end: dt.date | None,
    aliases: tuple[str, ...] = (),
    broken: bool = False,
    seed: int = 1,
    with_dle: bool = False,
    python_model: Any = None,
) -> Any:
    """Fit (or take ``python_model``), log and register one version the way ``athlete_platform/model/assets.py`` records it: run tag
    ``data_window_end`` (exclusive end of the training data) and version tag ``training_week``, out-of-fold
    style MAE metrics ``model_mae_s_{distance}``, and (``with_dle``) the DLE artifact."""
    client = resource.client()
    experiment_id = resource.experiment_id()
    frame = training_frame(seed)
    model = python_model if python_model is not None else fit_model(frame, broken=broken)
    predicted = model.predict(None, contract.model_input(frame))
    tags = {"data_window_end": data_window_end.isoformat()} if data_window_end is not None else {}
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as run:
        for distance in contract.DISTANCES_M:
            mae = float(np.mean(np.abs(predicted[f"pred_{distance}_s"] - frame[f"actual_{distance}_s"])))
            mlflow.log_metric(f"model_mae_s_{distance}", mae)
        if with_dle:
            artifact = Path(contract.DLE_ARTIFACT_PATH)
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / artifact.name
                local.write_bytes(pickle.dumps(fit_dle_artifact(model, training_frame(seed + 100))))
                mlflow.log_artifact(str(local), artifact_path=str(artifact.parent))
        # Explicit requirements: inferring them loads the model in a subprocess (slow, needless here).
        info = mlflow.pyfunc.log_model(name="model", python_model=model, pip_requirements=["scikit-learn", "pandas"])
    if not client.search_registered_models(f"name='{MODEL_NAME}'"):
        client.create_registered_model(MODEL_NAME)
    version = client.create_model_version(MODEL_NAME, info.model_uri, run_id=run.info.run_id)
    if data_window_end is not None:
        client.set_model_version_tag(MODEL_NAME, version.version, "training_week", data_window_end.isoformat())
    for alias in aliases:
        client.set_registered_model_alias(MODEL_NAME, alias, version.version)
    return client.get_model_version(MODEL_NAME, version.version)


def materialization_metadata(result: Any, asset_key: Any) -> dict[str, Any]:
    """Metadata of the materialization of ``asset_key`` in a run result (a range run records one event per
    partition, all with the same metadata: the last one is returned)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == asset_key]
    assert events, f"no materialization of {asset_key.to_user_string()}"
    return dict(events[-1].materialization.metadata)


def inference_log_rows(rolling: pd.DataFrame, version: Any, *, run_id: str = "dagster-run") -> pd.DataFrame:
    """Inference-log rows (INFERENCE_LOG_SCHEMA) for rolling rows, as if ``version`` had served them."""
    from athlete_platform.inference.assets import INFERENCE_LOG_SCHEMA

    frame = rolling.copy()
    frame["feature_as_of_date"] = frame["as_of_date"]
    frame["prediction_date"] = [d + dt.timedelta(days=1) for d in frame["as_of_date"]]
    frame["last_activity_date"] = frame["as_of_date"]
    ten_k = frame["best_effort_10k_s"].to_numpy(dtype=float)
    for distance, metres in contract.DISTANCES_M.items():
        point, low, high = contract.prediction_columns(distance)
        frame[point] = ten_k * (metres / 10_000.0) ** 1.06
        frame[low], frame[high] = frame[point] * 0.95, frame[point] * 1.05
    frame["model_name"] = MODEL_NAME
    frame["model_version"] = str(version.version)
    frame["model_alias"] = contract.CHAMPION_ALIAS
    frame["mlflow_run_id"] = version.run_id
    frame["model_uri"] = f"models:/{MODEL_NAME}/{version.version}"
    frame["model_role"] = contract.CHAMPION_ALIAS
    frame["served"] = True
    frame["dagster_run_id"] = run_id
    frame["logged_at"] = pd.Timestamp("2025-01-01", tz="UTC")
    return frame.loc[:, INFERENCE_LOG_SCHEMA.names]


def training_set_rows(n: int, first_race: dt.date, last_race: dt.date, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Training-set-like rows: race_date spread over [first_race, last_race] and the contract features."""
    rows = rolling_rows(list(range(1, n + 1)), [first_race], seed=seed, shift=shift)
    span = (last_race - first_race).days
    rows["race_date"] = [first_race + dt.timedelta(days=int(i * span / max(n - 1, 1))) for i in range(n)]
    rows["as_of_date"] = [d - dt.timedelta(days=1) for d in rows["race_date"]]
    return rows.loc[:, ["athlete_id", "race_date", "as_of_date", *contract.FEATURE_COLUMNS]]
