"""Champion/challenger policy on races no compared model trained on (pure: pandas, numpy, scipy).

``model/champion_decision`` (:mod:`athlete_platform.model.promotion_asset`) applies it every day to the
inference log, where the @challenger version scores the champion's feature rows in the shadow
(:mod:`athlete_platform.inference.assets`), and to the races that followed.

**Unseen races.** A version was trained on races strictly before its ``data_window_end`` (exclusive end of
its training data, :mod:`athlete_platform.inference.lineage`); only races on or after that day count in its
realized error. A comparison of two versions counts only races on or after the *later* of the two ends:
races neither trained on. Each race is paired with each version's latest prediction made before it
(``prediction_date ≤ race_date``, at most ``max_days_before_race`` days before, as in
``monitoring/realized_error``), taken from the (athlete, day) rows both versions scored: the same inputs.

**Promotion.** The challenger replaces the champion when, on at least ``min_unseen_races`` such paired
races, its absolute percentage errors are smaller by a one-sided paired test at level ``alpha``:
the Wilcoxon signed-rank test (H1: the challenger's errors are stochastically smaller; ties dropped,
Wilcoxon 1945 / scipy's ``zero_method="wilcox"``) or the sign test (exact binomial on the share of races the
challenger wins). Percentage errors put 5K and marathon races on one scale. A challenger whose own error on
those races is over the ERROR threshold is not promoted.

**Demotion.** A champion whose realized MAPE on its own unseen races (at least ``min_unseen_races``) is over
the ERROR threshold of ``monitoring/realized_error`` (``MAPE_ERROR_PCT``) is replaced by the better classical
formula (Riegel or VDOT, chosen on the same races by ``training.baseline_evaluation``, intervals from its
errors there) — provided that formula did better on them; a formula champion is not demoted further.

Otherwise the champion is kept, and the decision says why (too few races, no significant difference, …).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from athlete_platform.model import contract
from athlete_platform.monitoring.realized_error import MAPE_ERROR_PCT, PREDICTION_LOOKBACK_DAYS, REALIZED_SCHEMA, realized_errors

PROMOTE, DEMOTE, KEEP = "promote", "demote", "keep"
TESTS: Final = ("wilcoxon", "sign")


@dataclass(frozen=True)
class PromotionParams:
    #: Paired unseen races needed before a promotion (and unseen races of the champion before a demotion).
    min_unseen_races: int = 20
    #: One-sided paired test of the challenger's absolute percentage errors against the champion's.
    test: str = "wilcoxon"
    alpha: float = 0.05
    #: Realized MAPE (%) over which a champion is demoted: the ERROR level of monitoring/realized_error.
    demotion_mape_pct: float = MAPE_ERROR_PCT
    #: A race is paired with a prediction made at most this many days before it (as realized_error).
    max_days_before_race: int = PREDICTION_LOOKBACK_DAYS

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise ValueError(f"test must be one of {TESTS}, got {self.test!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.min_unseen_races < 1:
            raise ValueError(f"min_unseen_races must be >= 1, got {self.min_unseen_races}")


@dataclass(frozen=True)
class Candidate:
    """A registered version as the policy sees it."""

    version: str
    data_window_end: dt.date | None  # exclusive end of its training data; None: unknown, no race is unseen
    is_baseline: bool = False  # a classical formula (model_kind "baseline")


@dataclass
class Decision:
    action: str  # promote | demote | keep
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    #: On a demotion: the champion's unseen races the formula was chosen on (its intervals are fitted on them).
    demotion_races: pd.DataFrame | None = None


def unseen_by_both(champion: Candidate, challenger: Candidate) -> dt.date | None:
    """The first day of races neither version trained on (None when either cut-off is unknown)."""
    ends = (champion.data_window_end, challenger.data_window_end)
    return None if None in ends else max(ends)


# -- realized errors per version ----------------------------------------------------------------------


def version_errors(races: pd.DataFrame, log: pd.DataFrame, version: str, *, unseen_from: dt.date | None,
                   max_days_before_race: int) -> pd.DataFrame:
    """Realized error of ``version`` on the races on or after ``unseen_from`` (none when it is None), each
    against its latest prediction made at most ``max_days_before_race`` days before, with the features fed."""
    rows = log[log["model_version"].astype(str) == str(version)]
    if unseen_from is None or rows.empty or races.empty:
        return pd.DataFrame(columns=[*REALIZED_SCHEMA.names, *contract.FEATURE_COLUMNS])
    races = races[pd.to_datetime(races["race_date"]).dt.date >= unseen_from]
    errors, _ = realized_errors(races, rows)
    errors = errors[errors["days_before_race"] <= max_days_before_race]
    features = rows.loc[:, ["athlete_id", "prediction_date", *contract.FEATURE_COLUMNS]].copy()
    features["athlete_id"] = features["athlete_id"].astype("int64")
    features["prediction_date"] = pd.to_datetime(features["prediction_date"]).dt.date
    features = features.drop_duplicates(["athlete_id", "prediction_date"])
    return errors.merge(features, on=["athlete_id", "prediction_date"], how="left").reset_index(drop=True)


def common_rows(log: pd.DataFrame, versions: list[str]) -> pd.DataFrame:
    """The log rows of ``versions`` on the (athlete, prediction day) keys every one of them scored."""
    keys = ["athlete_id", "prediction_date"]
    rows = log[log["model_version"].astype(str).isin([str(v) for v in versions])]
    scored_by = rows.groupby(keys)["model_version"].transform("nunique")
    return rows[scored_by == len(set(versions))]


def paired_errors(races: pd.DataFrame, log: pd.DataFrame, champion: Candidate, challenger: Candidate,
                  max_days_before_race: int) -> pd.DataFrame:
    """One row per race neither version trained on, with both versions' predictions of the same inputs:
    ``activity_id, race_date, distance_bucket, official_time_s, prediction_date`` and per version
    (suffix ``_champion`` / ``_challenger``) ``predicted_s, abs_error_s, abs_pct_error``."""
    unseen_from = unseen_by_both(champion, challenger)
    shared = common_rows(log, [champion.version, challenger.version])
    columns = ["activity_id", "race_date", "distance_bucket", "official_time_s", "prediction_date",
               "predicted_s", "abs_error_s", "abs_pct_error"]
    parts = {}
    for role, candidate in (("champion", champion), ("challenger", challenger)):
        errors = version_errors(races, shared, candidate.version, unseen_from=unseen_from,
                                max_days_before_race=max_days_before_race)
        parts[role] = errors.loc[:, columns]
    pairs = parts["champion"].merge(
        parts["challenger"], on=["activity_id", "race_date", "distance_bucket", "official_time_s", "prediction_date"],
        suffixes=("_champion", "_challenger"),
    )
    return pairs.sort_values(["race_date", "activity_id"]).reset_index(drop=True)


# -- the paired test ----------------------------------------------------------------------------------


def paired_test(champion_errors, challenger_errors, test: str) -> dict[str, float]:
    """One-sided paired test, H1: the challenger's errors are smaller. ``p_value`` (1.0 without any
    non-tied pair), the statistic, and how many races each version won."""
    from scipy import stats

    champion = np.asarray(champion_errors, dtype=float)
    challenger = np.asarray(challenger_errors, dtype=float)
    difference = challenger - champion
    difference = difference[np.isfinite(difference)]
    wins, losses = int((difference < 0).sum()), int((difference > 0).sum())
    out = {"challenger_wins": wins, "champion_wins": losses, "ties": int(difference.size - wins - losses)}
    if wins + losses == 0:
        return {**out, "statistic": float("nan"), "p_value": 1.0}
    if test == "sign":
        result = stats.binomtest(wins, wins + losses, 0.5, alternative="greater")
        return {**out, "statistic": float(wins), "p_value": float(result.pvalue)}
    result = stats.wilcoxon(difference, zero_method="wilcox", alternative="less")
    return {**out, "statistic": float(result.statistic), "p_value": float(result.pvalue)}


# -- the decision -------------------------------------------------------------------------------------


def _finite_mean(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def baseline_on(rows: pd.DataFrame) -> tuple[str, Any]:
    """The better classical formula on these races (``training.baseline_evaluation``): (method, evaluation)."""
    from athlete_platform.model.estimator import EstimatorParams
    from athlete_platform.model.training import baseline_evaluation

    return baseline_evaluation(rows, EstimatorParams())


def baseline_model(rows: pd.DataFrame) -> Any:
    """The better classical formula on ``rows`` as a servable ``FittedTimeModel`` (``model_kind="baseline"``),
    its 80 % intervals from its own errors on these races (as ``train_time_estimator`` serves a formula)."""
    from athlete_platform.model.estimator import EstimatorParams, FittedTimeModel, fallback_times

    method, evaluation = baseline_on(rows)
    params = replace(EstimatorParams(), model_kind="baseline", offset=method)
    return FittedTimeModel(params=params, fallback_time_s=fallback_times(rows), halfwidths=evaluation.halfwidths,
                           n_train=len(rows))


def decide(races: pd.DataFrame, log: pd.DataFrame, champion: Candidate, challenger: Candidate | None,
           params: PromotionParams) -> Decision:
    """Promote, demote or keep (see the module docstring), with the numbers behind it.

    ``races``: race results (race_date, athlete_id, activity_id, distance_bucket, official_time_s);
    ``log``: inference-log rows (served and shadow) of the window."""
    numbers: dict[str, Any] = {"champion_version": champion.version, "min_unseen_races": params.min_unseen_races,
                               "test": params.test, "alpha": params.alpha,
                               "demotion_mape_pct": params.demotion_mape_pct}
    not_promoted = ""
    if challenger is None or challenger.version == champion.version:
        not_promoted = "no challenger other than the champion"
    else:
        numbers["challenger_version"] = challenger.version
        pairs = paired_errors(races, log, champion, challenger, params.max_days_before_race)
        n = len(pairs)
        champion_mape, challenger_mape = _finite_mean(pairs["abs_pct_error_champion"]), _finite_mean(pairs["abs_pct_error_challenger"])
        result = paired_test(pairs["abs_pct_error_champion"], pairs["abs_pct_error_challenger"], params.test)
        unseen_from = unseen_by_both(champion, challenger)
        numbers.update({
            "paired_unseen_races": n, "unseen_from": str(unseen_from) if unseen_from else "unknown",
            "champion_mape_pct": champion_mape, "challenger_mape_pct": challenger_mape,
            "champion_mae_s": _finite_mean(pairs["abs_error_s_champion"]), "challenger_mae_s": _finite_mean(pairs["abs_error_s_challenger"]),
            **result,
        })
        head = (f"challenger v{challenger.version} MAPE {challenger_mape:.2f} % vs champion v{champion.version} "
                f"{champion_mape:.2f} % on {n} paired races neither trained on (from {numbers['unseen_from']}); "
                f"one-sided {params.test} p = {result['p_value']:.3g}") if n else ""
        if unseen_from is None:
            not_promoted = "a version's training cut-off is unknown: no race is known to be unseen by both"
        elif n < params.min_unseen_races:
            not_promoted = (head + "; " if head else "") + \
                f"{n} paired unseen races < {params.min_unseen_races} needed"
        elif not (result["p_value"] < params.alpha and challenger_mape < champion_mape):
            not_promoted = f"{head} ≥ alpha {params.alpha}: not significantly better"
        elif challenger_mape > params.demotion_mape_pct:
            not_promoted = f"{head}, but the challenger's MAPE is over the ERROR threshold {params.demotion_mape_pct} %"
        else:
            return Decision(PROMOTE, f"{head} < alpha {params.alpha}: challenger promoted", numbers)

    # Demotion: the champion on its own unseen races.
    unseen = version_errors(races, log, champion.version, unseen_from=champion.data_window_end,
                            max_days_before_race=params.max_days_before_race)
    own_mape = _finite_mean(unseen["abs_pct_error"])
    numbers.update({"champion_unseen_races": len(unseen), "champion_unseen_mape_pct": own_mape})
    if len(unseen) >= params.min_unseen_races and own_mape > params.demotion_mape_pct:
        over = (f"champion v{champion.version} realized MAPE {own_mape:.2f} % > ERROR threshold "
                f"{params.demotion_mape_pct} % on {len(unseen)} races after its training window")
        if champion.is_baseline:
            return Decision(KEEP, f"{over}; it is a classical formula already ({not_promoted})", numbers)
        method, evaluation = baseline_on(unseen)
        baseline_mape = evaluation.metric("model", "all", "mape_pct")
        numbers.update({"baseline_method": method, "baseline_mape_pct": baseline_mape})
        if math.isfinite(baseline_mape) and baseline_mape < own_mape:
            return Decision(DEMOTE, f"{over}; the {method} formula did {baseline_mape:.2f} % on them: champion "
                                    f"demoted to it ({not_promoted})", numbers, demotion_races=unseen)
        return Decision(KEEP, f"{over}, but the best formula ({method}) did no better ({baseline_mape:.2f} %): "
                              f"kept ({not_promoted})", numbers)
    realized = (f"its realized MAPE {own_mape:.2f} % on {len(unseen)} unseen races" if len(unseen)
                else "no race after its training window yet")  # not "MAPE nan % on 0 races"
    return Decision(KEEP, f"champion v{champion.version} kept: {not_promoted}; {realized}", numbers)


def errors_by_version(races: pd.DataFrame, log: pd.DataFrame, max_days_before_race: int = PREDICTION_LOOKBACK_DAYS,
                      ) -> pd.DataFrame:
    """Realized error of every version in ``log`` on ``races``, on the (athlete, day) rows all of them scored
    (the same inputs): one row per version with its role, races, MAE (s) and MAPE (%). No unseen-race filter:
    a summary of what was served and shadowed, not a decision."""
    columns = ["model_version", "model_role", "races", "mae_s", "mape_pct"]
    if log.empty or races.empty:
        return pd.DataFrame(columns=columns)
    versions = sorted(log["model_version"].astype(str).unique(), key=int)
    shared = common_rows(log, versions)
    records = []
    for version in versions:
        rows = shared[shared["model_version"].astype(str) == version]
        errors = version_errors(races, rows, version, unseen_from=dt.date.min, max_days_before_race=max_days_before_race)
        role = ",".join(sorted(rows["model_role"].dropna().astype(str).unique())) if "model_role" in rows else ""
        records.append({"model_version": version, "model_role": role, "races": len(errors),
                        "mae_s": _finite_mean(errors["abs_error_s"]), "mape_pct": _finite_mean(errors["abs_pct_error"])})
    return pd.DataFrame.from_records(records, columns=columns)
