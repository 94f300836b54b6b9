"""``model/champion_decision``: promote, demote or keep the champion, daily, on races neither model trained on.

The policy is :mod:`athlete_platform.model.promotion` (pure); this is the glue: it reads the last
``DECISION_WINDOW_DAYS`` of races and the inference log (where the @challenger scores beside the champion,
:mod:`athlete_platform.inference.assets`), resolves @champion and @challenger with their training cut-offs
(:mod:`athlete_platform.inference.lineage`), applies the decision to the registry — moves @champion to the
challenger, or to a classical-formula version it logs and registers on demotion — and records the decision,
its numbers and its reason in the materialization metadata and on the MLflow versions involved (tags
``champion_decision*`` and the version description).

A range run (single-run backfill) decides once, as of its last day: the aliases are one state, not one per
day; the table gets that one row (``decision_date`` = the last day).
"""

import datetime as dt
import json
import math
from typing import Any, Optional

import pandas as pd
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Config,
    MetadataValue,
    Output,
    ResourceParam,
    StepLauncher,
    TimeWindowPartitionMapping,
    asset,
)

from athlete_platform.asset_keys import CHAMPION_DECISION, INFERENCE_LOG, RACE_RESULTS
from athlete_platform.frames import PandasOrNone, or_empty
from athlete_platform.inference import lineage
from athlete_platform.model import contract
from athlete_platform.model.promotion import DEMOTE, KEEP, PROMOTE, Candidate, Decision, PromotionParams
from athlete_platform.partitions import daily_partitions, window_dates
from athlete_platform.quiet import without_mlflow_prints
from athlete_platform.resources.delta_io import ALLOW_MISSING
from athlete_platform.resources.mlflow_resource import MlflowResource

#: Races of the last 13 weeks count; the log reaches PREDICTION_LOOKBACK_DAYS further back (predictions
#: made up to that many days before a race).
DECISION_WINDOW_DAYS = 91
_DEFAULTS = PromotionParams()
#: The paragraph of a version's description that the newest decision replaces.
DECISION_HEADING = "Latest champion decision: "
#: Version tags written on every version a decision is about (the newest decision wins).
DECISION_TAG, DECISION_DATE_TAG, DECISION_REASON_TAG, DECISION_NUMBERS_TAG = (
    "champion_decision", "champion_decision_date", "champion_decision_reason", "champion_decision_numbers",
)

CHAMPION_DECISION_SCHEMA = pa.schema([
    ("decision_date", pa.date32()),
    ("model_name", pa.string()),
    ("action", pa.string()),  # promote | demote | keep
    ("reason", pa.string()),
    ("champion_before", pa.string()),
    ("champion_after", pa.string()),
    ("challenger_version", pa.string()),
    ("paired_unseen_races", pa.int64()),
    ("champion_mape_pct", pa.float64()),  # on the paired races
    ("challenger_mape_pct", pa.float64()),
    ("p_value", pa.float64()),
    ("test", pa.string()),
    ("alpha", pa.float64()),
    ("champion_unseen_races", pa.int64()),
    ("champion_unseen_mape_pct", pa.float64()),
    ("numbers", pa.string()),  # every number of the decision, JSON
])


class ChampionDecisionConfig(Config):
    min_unseen_races: int = _DEFAULTS.min_unseen_races
    test: str = _DEFAULTS.test  # wilcoxon | sign
    alpha: float = _DEFAULTS.alpha

    def params(self) -> PromotionParams:
        return PromotionParams(min_unseen_races=self.min_unseen_races, test=self.test, alpha=self.alpha)


def _candidate(client: Any, ref: lineage.ModelRef | None) -> Candidate | None:
    if ref is None:
        return None
    tags = client.get_model_version(ref.name, ref.version).tags or {}
    return Candidate(version=ref.version, data_window_end=ref.data_window_end,
                     is_baseline=tags.get("model_kind") == "baseline")


def _plain(value: Any) -> Any:
    """JSON/metadata-safe: NaN → None, numpy scalars → Python."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def register_baseline(mlflow: MlflowResource, rows: pd.DataFrame, *, decision_date: dt.date, demoted: str,
                      dagster_run_id: str) -> str:
    """Log the better formula on ``rows`` (the demoted champion's unseen races) as a pyfunc, register it, and
    return its version. Its training cut-off is the day after the decision: its intervals saw those races."""
    import mlflow as mlflow_lib

    from athlete_platform.model.promotion import baseline_model
    from athlete_platform.model.tracking import log_pyfunc_model

    fitted = baseline_model(rows)
    mlflow.configure_process()
    tags = {
        lineage.DATA_WINDOW_END_TAG: (decision_date + dt.timedelta(days=1)).isoformat(),
        "model_kind": "baseline", "offset": fitted.params.offset, "dagster_run_id": dagster_run_id,
        "dagster_asset": CHAMPION_DECISION.to_user_string(), "replaces_version": demoted,
    }
    with mlflow_lib.start_run(experiment_id=mlflow.experiment_id(), tags=tags,
                              run_name=f"baseline {fitted.params.offset} replacing v{demoted} {decision_date}"):
        mlflow_lib.log_params({"offset": fitted.params.offset, "calibration_races": len(rows),
                               **{f"log_halfwidth_{d}": round(w, 5) for d, w in fitted.halfwidths.items()}})
        info = log_pyfunc_model(fitted, rows)
    with without_mlflow_prints():  # the decision names the version itself
        version = mlflow_lib.register_model(info.model_uri, mlflow.model_name)
    client = mlflow.client()
    for key, value in {"model_kind": "baseline", lineage.DATA_WINDOW_END_TAG: tags[lineage.DATA_WINDOW_END_TAG],
                       "registration": f"the {fitted.params.offset} formula replacing demoted v{demoted}"}.items():
        client.set_model_version_tag(mlflow.model_name, version.version, key, value)
    return str(version.version)


def with_decision(description: str | None, decision_text: str) -> str:
    """The version's description with its latest decision paragraph replaced (what registration or training
    wrote above it is kept)."""
    kept = (description or "").split(DECISION_HEADING)[0].rstrip()
    return f"{kept}\n\n{DECISION_HEADING}{decision_text}" if kept else f"{DECISION_HEADING}{decision_text}"


def record_on_versions(client: Any, name: str, versions: dict[str, str], decision: Decision, day: dt.date,
                       numbers: str) -> None:
    """Tags and description on each version the decision is about (``versions``: version → its role;
    ``numbers``: the decision's numbers as JSON)."""
    for version, role in versions.items():
        for key, value in {DECISION_TAG: decision.action, DECISION_DATE_TAG: day.isoformat(),
                           DECISION_REASON_TAG: decision.reason[:5000], DECISION_NUMBERS_TAG: numbers[:5000]}.items():
            client.set_model_version_tag(name, version, key, value)
        current = client.get_model_version(name, version).description
        client.update_model_version(name, version, description=with_decision(
            current, f"{day} ({role}): {decision.action}. {decision.reason}"))


@asset(
    key=CHAMPION_DECISION,
    group_name="model",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    ins={
        "race_results": AssetIn(
            key=RACE_RESULTS, dagster_type=PandasOrNone, metadata={ALLOW_MISSING: True},
            partition_mapping=TimeWindowPartitionMapping(start_offset=-(DECISION_WINDOW_DAYS - 1), end_offset=0),
        ),
        "inference_log": AssetIn(
            key=INFERENCE_LOG, dagster_type=PandasOrNone, metadata={ALLOW_MISSING: True},
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-(DECISION_WINDOW_DAYS - 1 + _DEFAULTS.max_days_before_race), end_offset=0),
        ),
    },
    metadata={"partition_expr": "decision_date"},
    kinds={"python", "mlflow", "delta"},
    code_version="1",
    description=(
        "Daily champion/challenger decision on races neither model trained on (last 13 weeks): promotes "
        "@challenger when a one-sided paired test on its shadow-scored errors beats the champion on enough races; "
        "demotes a champion over the realized-error ERROR threshold to the better classical formula; else keeps."
    ),
)
def champion_decision(
    context: AssetExecutionContext,
    config: ChampionDecisionConfig,
    mlflow: MlflowResource,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    race_results: Optional[pd.DataFrame],
    inference_log: Optional[pd.DataFrame],
):
    from athlete_platform.model.promotion import decide

    params = config.params()
    _, end = window_dates(context)
    day = end - dt.timedelta(days=1)  # a range decides once, as of its last day
    first_race_day = day - dt.timedelta(days=DECISION_WINDOW_DAYS - 1)
    races = or_empty(race_results)
    if not races.empty:
        races = races[pd.to_datetime(races["race_date"]).dt.date >= first_race_day]
    log = or_empty(inference_log)
    client, name = mlflow.client(), mlflow.model_name
    champion_ref = (lineage.alias_if_set(client, name, contract.CHAMPION_ALIAS)
                    if client.search_registered_models(f"name='{name}'") else None)
    champion = _candidate(client, champion_ref)
    challenger = _candidate(client, lineage.alias_if_set(client, name, contract.CHALLENGER_ALIAS)) if champion else None
    if champion is None:
        decision = Decision(KEEP, f"no @{contract.CHAMPION_ALIAS} version of {name}: nothing to decide", {})
    elif log.empty:
        decision = Decision(KEEP, f"champion v{champion.version} kept: no inference log in the window", {})
    else:
        decision = decide(races, log, champion, challenger, params)

    champion_after = None if champion is None else champion.version
    if decision.action == PROMOTE:
        champion_after = challenger.version
        client.set_registered_model_alias(name, contract.CHAMPION_ALIAS, champion_after)
    elif decision.action == DEMOTE:
        champion_after = register_baseline(mlflow, decision.demotion_races, decision_date=day, demoted=champion.version,
                                           dagster_run_id=context.run.run_id)
        client.set_registered_model_alias(name, contract.CHAMPION_ALIAS, champion_after)
        decision.numbers["baseline_version"] = champion_after
    plain = {k: _plain(v) for k, v in decision.numbers.items()}
    numbers_json = json.dumps(plain, sort_keys=True)
    if champion is not None:
        involved = {champion.version: "champion"}
        if challenger is not None and challenger.version != champion.version:
            involved[challenger.version] = "challenger"
        if champion_after not in involved:
            involved[champion_after] = "new champion"
        record_on_versions(client, name, involved, decision, day, numbers_json)
    context.log.info(f"{name}: {decision.action}: {decision.reason}")

    numbers = decision.numbers
    record = {
        "decision_date": day, "model_name": name, "action": decision.action, "reason": decision.reason,
        "champion_before": None if champion is None else champion.version, "champion_after": champion_after,
        "challenger_version": numbers.get("challenger_version"),
        "paired_unseen_races": int(numbers.get("paired_unseen_races", 0)),
        "champion_mape_pct": numbers.get("champion_mape_pct"), "challenger_mape_pct": numbers.get("challenger_mape_pct"),
        "p_value": numbers.get("p_value"), "test": params.test, "alpha": params.alpha,
        "champion_unseen_races": int(numbers.get("champion_unseen_races", 0)),
        "champion_unseen_mape_pct": numbers.get("champion_unseen_mape_pct"),
        "numbers": numbers_json,
    }
    frame = pd.DataFrame([record])
    yield Output(
        pa.Table.from_pandas(frame, schema=CHAMPION_DECISION_SCHEMA, preserve_index=False),
        metadata={
            "decision_date": day.isoformat(),
            "action": decision.action,
            "reason": decision.reason,
            "champion_before": record["champion_before"] or "none",
            "champion_after": champion_after or "none",
            "numbers": MetadataValue.json(plain),
            **{key: plain[key] for key in ("paired_unseen_races", "champion_mape_pct", "challenger_mape_pct",
                                                     "p_value", "champion_unseen_mape_pct") if key in numbers},
        },
    )
