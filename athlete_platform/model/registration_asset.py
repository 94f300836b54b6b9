"""``model/registered_time_estimator``: registers the week's gated model in the MLflow registry.

Registration lives downstream of ``model/time_estimator``'s blocking checks (``mae_10k_gate``,
``beats_riegel``): a failing check does not undo what its own asset already did, so the model that failed is
logged but never registered. The new version gets its training cut-off (``data_window_end``, exclusive) as a
tag and becomes ``@challenger``; the first version also becomes ``@champion`` (there must be one to serve).
Promotion is ``model/champion_decision``'s (:mod:`athlete_platform.model.promotion_asset`), on races neither
model trained on.
"""

import math
from typing import Optional

import pandas as pd
import pyarrow as pa
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, ResourceParam, StepLauncher, asset

from athlete_platform.asset_keys import REGISTERED_TIME_ESTIMATOR, TIME_ESTIMATOR
from athlete_platform.model import contract
from athlete_platform.model.assets import GATE_COLUMNS
from athlete_platform.partitions import weekly_partitions
from athlete_platform.quiet import without_mlflow_prints
from athlete_platform.resources.mlflow_resource import MlflowResource

REGISTERED_SCHEMA = pa.schema(
    [
        ("training_week", pa.date32()),
        ("model_name", pa.string()),
        ("version", pa.string()),
        ("run_id", pa.string()),
        ("aliases", pa.string()),  # comma-joined aliases of this version after the step
        ("promoted", pa.bool_()),  # became @champion here: only when there was no champion
        ("reason", pa.string()),
        ("challenger_latest_fold_mae_s", pa.float64()),
        ("previous_champion_version", pa.string()),  # the champion when it was registered (None: there was none)
        ("data_window_end", pa.date32()),  # exclusive end of its training data (version tag of the same name)
    ]
)


@asset(
    key=REGISTERED_TIME_ESTIMATOR,
    group_name="model",
    partitions_def=weekly_partitions,
    ins={"time_estimator": AssetIn(key=TIME_ESTIMATOR)},
    metadata={"partition_expr": "training_week"},
    kinds={"mlflow", "delta"},
    code_version="2",
    description=(
        "Registers the week's gated model with its training cut-off and moves @challenger to it; the first version "
        "becomes @champion. Promotion is model/champion_decision's, on races neither model trained on."
    ),
)
def registered_time_estimator(
    context: AssetExecutionContext,
    mlflow: MlflowResource,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    time_estimator: pd.DataFrame,
):
    import mlflow as mlflow_lib

    from athlete_platform.inference.lineage import DATA_WINDOW_END_TAG, TRAINING_WEEK_TAG
    from athlete_platform.model import tracking

    if len(time_estimator) != 1:
        raise ValueError(f"expected one time_estimator row for {context.partition_key}, got {len(time_estimator)}")
    trained = time_estimator.iloc[0]
    if not all(bool(trained[column]) for column in GATE_COLUMNS.values()):
        # The blocking checks normally stop the run before this step; refuse anyway if it is run on its own.
        raise ValueError(f"run {trained['run_id']} did not pass its gates; it is not registered")
    name = mlflow.model_name
    client = mlflow.client()

    existing = client.search_model_versions(f"name='{name}' and run_id='{trained['run_id']}'")
    if existing:
        version = sorted(existing, key=lambda v: int(v.version))[-1]
        context.log.info(f"run {trained['run_id']} is already version {version.version} of {name}")
    else:
        with without_mlflow_prints():  # the step logs the version itself, with its aliases
            version = mlflow_lib.register_model(trained["model_uri"], name)
    previous_champion = client.get_registered_model(name).aliases.get(contract.CHAMPION_ALIAS)
    baseline_reason = trained.get("not_enough_races")
    is_baseline = isinstance(baseline_reason, str) and bool(baseline_reason)
    window_end = pd.Timestamp(trained["data_window_end"]).date()
    score = float(trained["latest_fold_model_mae_10k_s"])
    if not math.isfinite(score):
        score = float(trained["latest_fold_model_mae_all_s"])
    if previous_champion is None:
        promote = True
        reason = "no champion yet: the first version serves" + (f" (a classical baseline: {baseline_reason})" if is_baseline else "")
        client.set_registered_model_alias(name, contract.CHAMPION_ALIAS, version.version)
    elif str(previous_champion) == str(version.version):
        promote, reason = False, "this version is already the champion"
    else:
        promote = False
        reason = (f"@challenger beside champion v{previous_champion}: promoted by model/champion_decision once it "
                  f"beats the champion on races after {window_end} that neither trained on")
    if str(previous_champion) != str(version.version):
        client.set_registered_model_alias(name, contract.CHALLENGER_ALIAS, version.version)
    for key, value in {
        TRAINING_WEEK_TAG: str(trained["training_week"]),
        DATA_WINDOW_END_TAG: window_end.isoformat(),  # the training cut-off promotion reads (exclusive)
        "latest_fold_mae_s": f"{score:.3f}" if math.isfinite(score) else "none",
        "model_kind": "baseline" if is_baseline else "learned",
        "registration": reason,
    }.items():
        client.set_model_version_tag(name, version.version, key, value)
    tracking.describe_model_version(client, name, version.version)  # the model's and this version's descriptions
    links = mlflow.links()
    aliases_now = sorted(a for a, v in client.get_registered_model(name).aliases.items() if str(v) == str(version.version))
    context.log.info(f"{name} v{version.version}: aliases {aliases_now}; {reason}")
    record = {
        "training_week": pd.Timestamp(trained["training_week"]).date(),
        "model_name": name,
        "version": str(version.version),
        "run_id": str(trained["run_id"]),
        "aliases": ",".join(aliases_now),
        "promoted": bool(promote),
        "reason": reason,
        "challenger_latest_fold_mae_s": score,
        "previous_champion_version": None if previous_champion is None else str(previous_champion),
        "data_window_end": window_end,
    }
    return Output(
        pa.Table.from_pandas(pd.DataFrame([record]), schema=REGISTERED_SCHEMA, preserve_index=False),
        metadata={"model_name": name, "version": str(version.version), "aliases": ",".join(aliases_now),
                  "promoted": bool(promote), "reason": reason, "data_window_end": window_end.isoformat(),
                  **({} if links is None else {
                      "model_version_url": MetadataValue.url(links.model_version(name, version.version)),
                      "mlflow_run": MetadataValue.url(links.run(str(trained["experiment_id"]), str(trained["run_id"]))),
                  })},
    )
