"""Training set and the gated race-time estimator (weekly partitions, pandas); registration is next door.

Graph::

    labels/race_results ─┐  (all days before the week)
                                ├─► model/training_set ─► model/time_estimator ─► model/registered_time_estimator
    features/athlete_rolling_features ─┘   [no_future_features]   [mae_10k_gate, beats_riegel]

* ``model/training_set`` (week W = [Monday, next Monday)): every race with ``race_date <`` W's Monday,
  joined point-in-time with the athlete's last rolling-feature row strictly before the race
  (:mod:`.training_set`); blocking check ``no_future_features`` (:mod:`.leakage`) fails the run on any leak.
* ``model/time_estimator``: time-ordered CV (gap ≥ 43 days), baselines on the same folds, the final model
  logged to MLflow (pyfunc with signature and input example, metrics, lineage tags, NannyML DLE artifact)
  — logged, **not registered**. Blocking checks ``mae_10k_gate`` (10K MAE < ``contract.MAX_10K_MAE_S``)
  and ``beats_riegel`` (model MAE ≤ Riegel MAE over all out-of-fold races).
* ``model/registered_time_estimator`` (:mod:`.registration_asset`): registers that run's model, tags the
  version with its training cut-off (``data_window_end``, exclusive) and moves ``@challenger`` to it; the
  first version also becomes ``@champion`` (there must be one to serve). A failing gate on
  ``time_estimator`` skips this step (the run fails), so a bad model is never registered — registration
  lives downstream of the checks because a failing check does not undo what its own asset already did.
  Promotion is not decided there: comparing a challenger's out-of-fold error with a champion on races that
  champion trained on favours the champion; ``model/champion_decision`` (:mod:`.promotion`) compares them
  on later races neither trained on, scored side by side in the shadow.

Partition mapping (measured with dagster 1.13, see the model tests): from a weekly asset to a daily one,
``TimeWindowPartitionMapping`` offsets count **downstream (weekly) partitions**: ``start_offset=-1,
end_offset=-1`` maps week W to the seven days of week W−1, and a start before the daily definition's
first day is clamped to that day (no error, nothing reported missing). ``ALL_DAYS_BEFORE_WEEK`` =
``(start_offset=-HISTORY_WEEKS, end_offset=-1)`` therefore loads every day from the first daily partition up to the
Sunday before W: all history, nothing from W itself or later.
"""


import datetime as dt
import hashlib
import json
import math
from dataclasses import fields
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetRecordsFilter,
    Config,
    DagsterInstance,
    MetadataValue,
    Output,
    ResourceParam,
    StepLauncher,
    TimeWindowPartitionMapping,
    asset,
)

from athlete_platform.asset_keys import RACE_RESULTS, ROLLING_FEATURES, TIME_ESTIMATOR, TRAINING_SET
from athlete_platform.frames import markdown_table
from athlete_platform.labels.assets import RACE_RESULTS_SCHEMA
from athlete_platform.model import contract
from athlete_platform.model.estimator import DISTANCE_KEYS, METHODS, EstimatorParams
from athlete_platform.model.evaluation import MIN_GAP_DAYS
from athlete_platform.model.training_set import TRAINING_ROW_COLUMNS
from athlete_platform.partitions import FIRST_DAY, weekly_partitions, window_dates
from athlete_platform.resources.mlflow_resource import MlflowResource

#: Every week from the first daily partition to ten years after today: the mapping clamps at the first
#: partition (see the module docstring), and Dagster walks these weeks one by one, so no more than needed.
HISTORY_WEEKS = (dt.date.today() - FIRST_DAY).days // 7 + 520
ALL_DAYS_BEFORE_WEEK = TimeWindowPartitionMapping(start_offset=-HISTORY_WEEKS, end_offset=-1)

MODEL_CODE_VERSION = "2"
#: The 10K gate's tie band when judged against the formulas (see _gates).
TIE_TOLERANCE = 0.05
#: The estimator's blocking gates (check names) and the ``model/time_estimator`` column that records each outcome.
MAE_10K_GATE, BEATS_RIEGEL = "mae_10k_gate", "beats_riegel"
GATE_COLUMNS: dict[str, str] = {MAE_10K_GATE: "gate_mae_10k_passed", BEATS_RIEGEL: "gate_beats_riegel_passed"}
#: The packages whose code decides what a model learns (domain math, features, labels, the model): every
#: Python file in them, so a new or moved module is fingerprinted without a list to keep.
_FINGERPRINT_PACKAGES = ("domain", "features", "labels", "model")

TRAINING_SET_SCHEMA = pa.schema(
    [
        *RACE_RESULTS_SCHEMA,
        pa.field("as_of_date", pa.date32()),
        pa.field("feature_age_days", pa.int64()),
        *[pa.field(name, pa.float64()) for name in contract.FEATURE_COLUMNS],
        pa.field("training_week", pa.date32()),
    ]
)
if TRAINING_SET_SCHEMA.names != [*TRAINING_ROW_COLUMNS, "training_week"]:
    raise RuntimeError("TRAINING_SET_SCHEMA and training_set.TRAINING_ROW_COLUMNS disagree")

TIME_ESTIMATOR_SCHEMA = pa.schema(
    [
        ("training_week", pa.date32()),
        ("run_id", pa.string()),
        ("model_uri", pa.string()),
        ("experiment_id", pa.string()),
        ("model_kind", pa.string()),
        ("train_rows", pa.int64()),
        ("data_window_start", pa.date32()),
        ("data_window_end", pa.date32()),  # exclusive: the partition's Monday
        ("latest_fold_test_start", pa.date32()),
        ("latest_fold_test_end", pa.date32()),  # inclusive
        *[(f"{method}_mae_{d}_s", pa.float64()) for method in METHODS for d in (*DISTANCE_KEYS, "all")],
        ("latest_fold_model_mae_10k_s", pa.float64()),
        ("latest_fold_model_mae_all_s", pa.float64()),
        ("coverage80_all", pa.float64()),
        *[(column, pa.bool_()) for column in GATE_COLUMNS.values()],
        ("not_enough_races", pa.string()),  # why a classical baseline is served; null for a learned model
    ]
)

# -- lineage helpers -----------------------------------------------------------------------------------


def latest_materialization_metadata(instance: DagsterInstance, key: AssetKey, partition: str | None = None) -> dict[str, Any]:
    """Plain values of the metadata of the latest materialization of ``key`` (of one partition if given)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    return {name: getattr(value, "value", value) for name, value in records[0].asset_materialization.metadata.items()}


def code_fingerprint() -> str:
    """sha256 (12 hex) of the source files that define labels, features, baselines and the model."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for package in _FINGERPRINT_PACKAGES for p in (root / package).rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def package_version() -> str:
    try:
        return importlib_metadata.version("athlete_platform")
    except importlib_metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# -- training set ---------------------------------------------------------------------------------------


class TrainingSetConfig(Config):
    #: Share of races without an earlier feature row above which the (non-blocking) check warns.
    max_share_without_features: float = 0.05


@asset(
    key=TRAINING_SET,
    group_name="model",
    partitions_def=weekly_partitions,
    ins={
        "race_results": AssetIn(key=RACE_RESULTS, partition_mapping=ALL_DAYS_BEFORE_WEEK),
        "rolling_features": AssetIn(key=ROLLING_FEATURES, partition_mapping=ALL_DAYS_BEFORE_WEEK),
    },
    metadata={"partition_expr": "training_week"},
    check_specs=[
        AssetCheckSpec(
            "no_future_features",
            asset=TRAINING_SET,
            blocking=True,
            description=(
                "Every row's as_of_date < race_date, a rolling row exists for (athlete_id, as_of_date) and every "
                "model feature equals that row's value (recomputed from the rolling table)."
            ),
        ),
        AssetCheckSpec(
            "races_without_features",
            asset=TRAINING_SET,
            blocking=False,
            description="Races with no feature row before them (not trainable) stay under the configured share.",
        ),
    ],
    kinds={"pandas", "delta"},
    code_version="1",
    description=(
        "Snapshot for the week: every race before the week's Monday with the athlete's rolling features as of the "
        "last day before the race (ASOF join, never the race day itself)."
    ),
)
def training_set(
    context: AssetExecutionContext,
    config: TrainingSetConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],  # remote on Databricks, in-process locally
    race_results: pd.DataFrame,
    rolling_features: pd.DataFrame,
):
    from athlete_platform.model.leakage import find_leaks
    from athlete_platform.model.training_set import point_in_time_join, races_before

    week_start, _ = window_dates(context)
    races = races_before(race_results, week_start)
    join = point_in_time_join(races, rolling_features)
    rows = join.rows.assign(training_week=week_start)
    report = find_leaks(rows, rolling_features)
    unmatched = join.unmatched
    upstream = {
        "race_results_delta_version": latest_materialization_metadata(context.instance, RACE_RESULTS).get("delta_version"),
        "rolling_features_delta_version": latest_materialization_metadata(context.instance, ROLLING_FEATURES).get("delta_version"),
    }
    if not unmatched.empty:
        context.log.warning(
            f"{len(unmatched)} races have no rolling-feature row before them and are not in the training set "
            f"(e.g. activity ids {unmatched['activity_id'].head(5).tolist()})"
        )
    yield Output(
        pa.Table.from_pandas(rows.loc[:, TRAINING_SET_SCHEMA.names], schema=TRAINING_SET_SCHEMA, preserve_index=False),
        metadata={
            "rows": len(rows),
            "races_before_week": len(races),
            "races_without_features": len(unmatched),
            "athletes": int(rows["athlete_id"].nunique()),
            "first_race_date": str(rows["race_date"].min()) if len(rows) else "",
            "last_race_date": str(rows["race_date"].max()) if len(rows) else "",
            "by_distance": MetadataValue.json({str(k): int(v) for k, v in rows["distance_bucket"].value_counts().items()}),
            **{k: v for k, v in upstream.items() if v is not None},
        },
    )
    yield AssetCheckResult(
        check_name="no_future_features",
        asset_key=TRAINING_SET,
        passed=report.passed,
        metadata={
            "rows_checked": report.rows_checked,
            "leaking_rows": len(report.leaks),
            "by_reason": MetadataValue.json(report.counts()),
            "sample": MetadataValue.md(markdown_table(report.leaks, limit=10) if len(report.leaks) else "none"),
        },
    )
    share = len(unmatched) / len(races) if len(races) else 0.0
    yield AssetCheckResult(
        check_name="races_without_features",
        asset_key=TRAINING_SET,
        passed=share <= config.max_share_without_features,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "races_without_features": len(unmatched),
            "share": round(share, 4),
            "activity_ids_sample": str(unmatched["activity_id"].head(10).tolist()),
        },
    )


# -- time estimator -------------------------------------------------------------------------------------


class TimeEstimatorConfig(Config):
    """Cross-validation, model and gate tunables (see :class:`~athlete_platform.model.estimator.EstimatorParams`)."""

    n_folds: int = 4
    gap_days: int = MIN_GAP_DAYS
    min_train_races: int = 100
    #: The first CV test block needs this many days of training races before it (see evaluation.time_folds).
    min_train_days: int = 180
    #: With fewer athletes than this in the training set, simulated athletes join every fit as the
    #: population prior (model/population_prior.py); 0 turns the prior off.
    prior_below_athletes: int = 20
    prior_athletes: int = 60
    model_kind: str = EstimatorParams.model_kind  # gbm_pooled | gbm_per_distance | baseline | constant
    offset: str = EstimatorParams.offset  # riegel | vdot
    max_iter: int = EstimatorParams.max_iter
    learning_rate: float = EstimatorParams.learning_rate
    max_leaf_nodes: int = EstimatorParams.max_leaf_nodes
    min_samples_leaf: int = EstimatorParams.min_samples_leaf
    l2_regularization: float = EstimatorParams.l2_regularization
    loss: str = EstimatorParams.loss
    min_rows_per_distance: int = EstimatorParams.min_rows_per_distance
    interval_level: float = EstimatorParams.interval_level
    min_calibration_rows: int = EstimatorParams.min_calibration_rows
    calibration_folds: int = EstimatorParams.calibration_folds
    athlete_correction: bool = EstimatorParams.athlete_correction
    athlete_groups: int = EstimatorParams.athlete_groups
    athlete_prior_races: Optional[float] = EstimatorParams.athlete_prior_races
    default_athlete_prior_races: float = EstimatorParams.default_athlete_prior_races
    max_athlete_prior_races: float = EstimatorParams.max_athlete_prior_races
    interval_prior_races: float = EstimatorParams.interval_prior_races
    athlete_correction_halflife_days: Optional[float] = EstimatorParams.athlete_correction_halflife_days
    random_state: int = EstimatorParams.random_state
    n_threads: int = EstimatorParams.n_threads
    #: The 10K gate; may be set stricter than contract.MAX_10K_MAE_S, never looser.
    max_10k_mae_s: float = contract.MAX_10K_MAE_S
    fit_dle: bool = True
    dle_chunk_size: int = 50
    dle_min_reference_rows: int = 20

    def estimator_params(self) -> EstimatorParams:
        if self.gap_days < MIN_GAP_DAYS:
            raise ValueError(
                f"gap_days={self.gap_days}: at least {MIN_GAP_DAYS} days must separate training and test races "
                "(longer than the 42-day chronic-load window)"
            )
        # Every EstimatorParams field this config declares (defaults above come from EstimatorParams itself).
        return EstimatorParams(**{f.name: getattr(self, f.name) for f in fields(EstimatorParams) if f.name in type(self).model_fields})

    def gate_threshold(self) -> float:
        if not self.max_10k_mae_s <= contract.MAX_10K_MAE_S:
            raise ValueError(
                f"max_10k_mae_s={self.max_10k_mae_s} is looser than the contract's {contract.MAX_10K_MAE_S}: "
                "the gate can only be tightened by run config"
            )
        return self.max_10k_mae_s


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def _metadata_float(value: float) -> float | None:
    """Dagster metadata has no NaN: a missing number is None."""
    return float(value) if _finite(value) else None


def _gates(outcome, threshold: float) -> tuple[bool, bool, dict[str, str]]:
    """(10K gate passed, Riegel gate passed, a sentence per gate) on the evidence there is: a served baseline
    is the formula itself (not judged: not enough races); the 10K gate needs 10K races in the test folds."""
    cv = outcome.cv
    if outcome.not_enough_races:
        note = f"not judged: not enough races for a learned model ({outcome.not_enough_races}); the " \
               f"{outcome.model.params.offset} formula is served"
        return True, True, {MAE_10K_GATE: note, BEATS_RIEGEL: note}
    mae_10k, n_10k = cv.metric("model", "10k"), cv.metric("model", "10k", "n")
    formula_10k = min(cv.metric("riegel", "10k"), cv.metric("vdot", "10k"))
    if not _finite(n_10k) or n_10k == 0:
        gate_mae, note_mae = True, "not judged: no 10K race in the test folds"
    elif _finite(mae_10k) and mae_10k < threshold:
        gate_mae, note_mae = True, f"10K MAE {mae_10k:.1f} s < {threshold:.0f} s on {int(n_10k)} races"
    elif threshold >= contract.MAX_10K_MAE_S and _finite(formula_10k) and formula_10k >= threshold:
        # These 10Ks are beyond any predictor's reach of the threshold (a runner whose 10Ks are not all run
        # flat out): judged against the better formula on the same races instead, within TIE_TOLERANCE.
        # A gate tightened by run config stays absolute: that is what tightening asks for.
        gate_mae = _finite(mae_10k) and mae_10k <= formula_10k * (1.0 + TIE_TOLERANCE)
        note_mae = (f"10K MAE {mae_10k:.1f} s >= {threshold:.0f} s, but the better formula misses these "
                    f"{int(n_10k)} races by {formula_10k:.1f} s itself: the model is "
                    f"{'within' if gate_mae else 'beyond'} {TIE_TOLERANCE:.0%} of it")
    else:
        gate_mae, note_mae = False, f"10K MAE {mae_10k:.1f} s >= {threshold:.0f} s on {int(n_10k)} races"
    model_all, riegel_all = cv.metric("model", "all"), cv.metric("riegel", "all")
    gate_riegel = _finite(model_all) and _finite(riegel_all) and model_all <= riegel_all
    distances = ", ".join(d for d in DISTANCE_KEYS if _finite(cv.metric("model", d, "n")) and cv.metric("model", d, "n") > 0)
    note_riegel = (f"MAE {model_all:.1f} s {'<=' if gate_riegel else '>'} Riegel {riegel_all:.1f} s over the "
                   f"distances present ({distances})")
    return gate_mae, gate_riegel, {MAE_10K_GATE: note_mae, BEATS_RIEGEL: note_riegel}


def _lineage_tags(context: AssetExecutionContext, rows: pd.DataFrame, week_start: dt.date, fitted: Any, outcome: Any,
                  training_meta: dict[str, Any], *, prior_athletes: int) -> dict[str, str]:
    """The MLflow run's lineage: Dagster run and partition, data window, code, and the inputs' Delta versions."""
    return {
        "dagster_run_id": context.run_id,
        "dagster_partition_key": context.partition_key,
        "dagster_asset": TIME_ESTIMATOR.to_user_string(),
        "data_window_start": str(rows["race_date"].min()) if len(rows) else "",
        "data_window_end": str(week_start),
        "code_version": f"{package_version()}+asset{MODEL_CODE_VERSION}",
        "code_fingerprint": code_fingerprint(),
        "model_kind": fitted.params.model_kind,
        "offset": fitted.params.offset,
        "prior_athletes": str(prior_athletes),
        "not_enough_races": outcome.not_enough_races or "",
        "delta_version.training_set": str(training_meta.get("delta_version", "unknown")),
        "delta_version.race_results": str(training_meta.get("race_results_delta_version", "unknown")),
        "delta_version.athlete_rolling_features": str(training_meta.get("rolling_features_delta_version", "unknown")),
    }


def _run_params(config: "TimeEstimatorConfig", params: EstimatorParams, threshold: float, rows: pd.DataFrame, cv: Any,
                fitted: Any, prior: Optional[pd.DataFrame]) -> dict[str, Any]:
    """The MLflow run's params: CV settings, estimator params, the gate, the data and the folds."""
    return {
        **{f"cv_{k}": v for k, v in {"n_folds": config.n_folds, "gap_days": config.gap_days,
                                       "min_train_races": config.min_train_races}.items()},
        **params.as_dict(),
        "gate_max_10k_mae_s": threshold,
        "train_rows": len(rows),
        "train_athletes": int(rows["athlete_id"].nunique()),
        "folds": json.dumps([
            {"train_end": str(f.train_end), "test_start": str(f.test_start), "test_end": str(f.test_end),
             "n_train": int(f.train.size), "n_test": int(f.test.size)} for f in cv.folds
        ]),
        "min_train_days": config.min_train_days,
        "prior_rows": 0 if prior is None else len(prior),
        "athlete_prior_races_fitted": (
            round(fitted.corrections.prior_races, 3) if fitted.corrections is not None else "none"
        ),
    }


def _estimator_record(week_start: dt.date, logged: Any, fitted: Any, rows: pd.DataFrame, cv: Any, latest: Any,
                      outcome: Any, gate_mae: bool, gate_riegel: bool) -> dict[str, Any]:
    """The week's row of ``model/time_estimator`` (``TIME_ESTIMATOR_SCHEMA``)."""
    return {
        "training_week": week_start,
        "run_id": logged.run_id,
        "model_uri": logged.model_uri,
        "experiment_id": logged.experiment_id,
        "model_kind": fitted.params.model_kind,
        "train_rows": len(rows),
        "data_window_start": min(rows["race_date"]) if len(rows) else None,
        "data_window_end": week_start,
        "latest_fold_test_start": latest.test_start if latest else None,
        "latest_fold_test_end": latest.test_end if latest else None,
        **{f"{m}_mae_{d}_s": cv.metric(m, d) for m in METHODS for d in (*DISTANCE_KEYS, "all")},
        "latest_fold_model_mae_10k_s": cv.metric("model", "10k", latest_fold=True),
        "latest_fold_model_mae_all_s": cv.metric("model", "all", latest_fold=True),
        "coverage80_all": float(cv.coverage.loc[cv.coverage["distance"] == "all", "coverage"].iloc[0])
        if (cv.coverage["distance"] == "all").any() else float("nan"),
        GATE_COLUMNS[MAE_10K_GATE]: bool(gate_mae),
        GATE_COLUMNS[BEATS_RIEGEL]: bool(gate_riegel),
        "not_enough_races": outcome.not_enough_races,
    }


@asset(
    key=TIME_ESTIMATOR,
    group_name="model",
    partitions_def=weekly_partitions,
    ins={"training_set": AssetIn(key=TRAINING_SET)},
    metadata={"partition_expr": "training_week"},
    check_specs=[
        AssetCheckSpec(
            MAE_10K_GATE,
            asset=TIME_ESTIMATOR,
            blocking=True,
            description=f"Out-of-fold 10K MAE below the gate (contract.MAX_10K_MAE_S = {contract.MAX_10K_MAE_S:.0f} s).",
        ),
        AssetCheckSpec(
            BEATS_RIEGEL,
            asset=TIME_ESTIMATOR,
            blocking=True,
            description="Out-of-fold MAE over all races no worse than Riegel's on the same folds.",
        ),
    ],
    kinds={"scikitlearn", "mlflow", "delta"},
    code_version=MODEL_CODE_VERSION,
    description=(
        f"Trains the race-time estimator on the week's training set (time-ordered CV with a {MIN_GAP_DAYS}-day gap, Riegel and "
        "VDOT baselines on the same folds, split-conformal 80 % intervals), logs it to MLflow with lineage and a "
        "NannyML DLE artifact. Logged, not registered: registration is downstream of the gates."
    ),
)
def time_estimator(
    context: AssetExecutionContext,
    config: TimeEstimatorConfig,
    mlflow: MlflowResource,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    training_set: pd.DataFrame,
):
    from athlete_platform.model import tracking
    from athlete_platform.model.dle import DleParams
    from athlete_platform.model.training import metrics_markdown, train_time_estimator

    threshold = config.gate_threshold()
    params = config.estimator_params()
    week_start, _ = window_dates(context)
    partition_key = context.partition_key
    rows = training_set.drop(columns=["training_week"]).copy()
    rows["race_date"] = pd.to_datetime(rows["race_date"]).dt.date
    late = rows[pd.to_datetime(rows["race_date"]) >= pd.Timestamp(week_start)]
    if not late.empty:
        raise ValueError(f"training_set {partition_key} holds {len(late)} races on or after {week_start}")

    prior = None
    if config.prior_athletes > 0 and rows["athlete_id"].nunique() < config.prior_below_athletes:
        from athlete_platform.model.population_prior import simulated_prior_rows

        prior = simulated_prior_rows(config.prior_athletes)
        context.log.info(
            f"{rows['athlete_id'].nunique()} athlete(s) in the training set (< {config.prior_below_athletes}): "
            f"{config.prior_athletes} simulated athletes ({len(prior)} races) join the fits as the population prior"
        )
    outcome = train_time_estimator(
        rows, params, n_folds=config.n_folds, gap_days=config.gap_days, min_train_races=config.min_train_races,
        min_train_days=config.min_train_days, prior=prior,
    )
    cv, fitted = outcome.cv, outcome.model
    latest = cv.folds[-1] if cv.folds else None
    mae_10k, n_10k = cv.metric("model", "10k"), cv.metric("model", "10k", "n")
    model_all, riegel_all = cv.metric("model", "all"), cv.metric("riegel", "all")
    gate_mae, gate_riegel, gate_notes = _gates(outcome, threshold)
    table_md = metrics_markdown(cv)
    if outcome.not_enough_races:
        context.log.info(f"not enough races for a learned model ({outcome.not_enough_races}): serving the "
                         f"{fitted.params.offset} formula with intervals")

    training_meta = latest_materialization_metadata(context.instance, TRAINING_SET, partition_key)
    tags = _lineage_tags(context, rows, week_start, fitted, outcome, training_meta,
                         prior_athletes=0 if prior is None else config.prior_athletes)
    run_params = _run_params(config, params, threshold, rows, cv, fitted, prior)

    mlflow.configure_process()
    logged = tracking.log_training_run(
        experiment_id=mlflow.experiment_id(),
        run_name=f"time_estimator {partition_key}",
        tags=tags,
        params=run_params,
        cv=cv,
        fitted=fitted,
        rows=rows,
        description=tracking.run_description(gate_notes, table_md),
        gate_tags={GATE_COLUMNS[MAE_10K_GATE]: str(gate_mae), GATE_COLUMNS[BEATS_RIEGEL]: str(gate_riegel)},
        dle=DleParams(chunk_size=config.dle_chunk_size, min_reference_rows=config.dle_min_reference_rows)
        if config.fit_dle else None,
    )
    links = mlflow.links()

    record = _estimator_record(week_start, logged, fitted, rows, cv, latest, outcome, gate_mae, gate_riegel)
    frame = pd.DataFrame([record])
    yield Output(
        pa.Table.from_pandas(frame, schema=TIME_ESTIMATOR_SCHEMA, preserve_index=False),
        metadata={
            "cv_metrics": MetadataValue.md(table_md),
            "per_distance": tracking.dagster_table(tracking.per_distance_table(cv)),
            "mlflow_run_id": logged.run_id,
            "model_uri": logged.model_uri,
            **({} if links is None else {
                "mlflow_run": MetadataValue.url(links.run(logged.experiment_id, logged.run_id)),
                "mlflow_experiment": MetadataValue.url(links.experiment(logged.experiment_id)),
            }),
            "model_mae_10k_s": mae_10k,
            "riegel_mae_all_s": riegel_all,
            "model_mae_all_s": model_all,
            "model_kind": fitted.params.model_kind,
            "not_enough_races": outcome.not_enough_races or "no",
            "prior_athletes": 0 if prior is None else config.prior_athletes,
            "folds": MetadataValue.json(json.loads(run_params["folds"])),
        },
    )
    yield AssetCheckResult(
        check_name=MAE_10K_GATE,
        asset_key=TIME_ESTIMATOR,
        passed=bool(gate_mae),
        metadata={"result": gate_notes[MAE_10K_GATE], "model_mae_10k_s": _metadata_float(mae_10k),
                  "threshold_s": threshold, "n_10k": int(n_10k) if _finite(n_10k) else 0},
    )
    yield AssetCheckResult(
        check_name=BEATS_RIEGEL,
        asset_key=TIME_ESTIMATOR,
        passed=bool(gate_riegel),
        metadata={"result": gate_notes[BEATS_RIEGEL], "model_mae_all_s": _metadata_float(model_all),
                  "riegel_mae_all_s": _metadata_float(riegel_all),
                  "n": int(cv.metric("model", "all", "n")) if _finite(cv.metric("model", "all", "n")) else 0},
    )
