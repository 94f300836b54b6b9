"""overtraining_alerts on a real Delta rolling-features table."""

import datetime as dt

import pandas as pd
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import OVERTRAINING_ALERTS, ROLLING_FEATURES
from athlete_platform.features import compute
from athlete_platform.monitoring.overtraining_alerts import acwr_zone, overtraining_alerts
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.support.runs import check_results

DAY = dt.date(2025, 5, 20)
ROLLING_SPEC = AssetSpec(ROLLING_FEATURES, partitions_def=daily_partitions, metadata={"partition_expr": "as_of_date"})


def rolling_day(flags: dict[int, tuple[str, ...]], athletes: int) -> pd.DataFrame:
    """``athletes`` athletes on DAY (and the day before, unflagged); ``flags`` sets risk reasons."""
    frame = mf.rolling_rows(list(range(1, athletes + 1)), [DAY - dt.timedelta(days=1), DAY], seed=5)
    frame["is_overtraining_risk"] = False
    frame["risk_reasons"] = ""
    frame["acwr_rolling_7_28"] = 1.0
    for athlete_id, reasons in flags.items():
        mask = (frame["athlete_id"] == athlete_id) & (frame["as_of_date"] == DAY)
        frame.loc[mask, "is_overtraining_risk"] = True
        frame.loc[mask, "risk_reasons"] = ",".join(reasons)
        if compute.RISK_ACWR in reasons:
            frame.loc[mask, "acwr_rolling_7_28"] = 1.7
        if compute.RISK_TSB in reasons:
            frame.loc[mask, "tsb"] = -38.0
    return frame


def run(root):
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()), "pyspark_step_launcher": ResourceDefinition.none_resource()}
    return materialize([ROLLING_SPEC, overtraining_alerts], partition_key=DAY.isoformat(), resources=resources)


def test_flagged_athletes_with_reasons_levels_and_pmc(tmp_path):
    flags = {3: (compute.RISK_ACWR, compute.RISK_TSB), 7: (compute.RISK_MONOTONY,)}
    mf.write_table(tmp_path, ROLLING_FEATURES.path, rolling_day(flags, athletes=20))
    result = run(tmp_path)
    table = DeltaTable(str(tmp_path.joinpath(*OVERTRAINING_ALERTS.path))).to_pandas()
    assert list(table["athlete_id"]) == [3, 7]  # the two-reason athlete first
    assert set(table["as_of_date"]) == {DAY}  # only the partition's day, not the day before
    high, elevated = table.iloc[0], table.iloc[1]
    assert high["risk_level"] == "high" and high["n_reasons"] == 2
    assert high["risk_reasons"] == "ACWR_GT_1_5,TSB_LT_MINUS_30" and high["acwr_zone"] == "danger"
    assert high["tsb"] == -38.0 and {"ctl", "atl", "acwr_ewma_7_28", "monotony_7d"} <= set(table.columns)
    assert elevated["risk_level"] == "elevated" and elevated["risk_reasons"] == "MONOTONY_GT_2"
    checks = check_results(result)
    assert checks["overtraining_alert_share"].passed  # 2 of 20 = 10 %: not above the warning share
    assert checks["flagged_rows_have_reasons"].passed


def test_alert_share_warns_above_10_and_errors_above_25_percent(tmp_path):
    mf.write_table(tmp_path / "warn", ROLLING_FEATURES.path, rolling_day({1: ("MONOTONY_GT_2",), 2: ("MONOTONY_GT_2",)}, 10))
    check = check_results(run(tmp_path / "warn"))["overtraining_alert_share"]
    assert not check.passed and check.severity.value == "WARN"  # 20 %

    flags = {i: ("ACWR_GT_1_5",) for i in (1, 2, 3)}
    mf.write_table(tmp_path / "error", ROLLING_FEATURES.path, rolling_day(flags, 10))
    check = check_results(run(tmp_path / "error"))["overtraining_alert_share"]
    assert not check.passed and check.severity.value == "ERROR"  # 30 %


def test_acwr_zones_follow_gabbett():
    assert [acwr_zone(v) for v in (0.5, 0.8, 1.3, 1.4, 1.5, float("nan"))] == [
        "low", "sweet_spot", "sweet_spot", "elevated", "danger", "unknown"]


def history_with_share(days: int, athletes: int, share: float, last_share: float) -> pd.DataFrame:
    """``days`` days before DAY where ``share`` of the athletes are flagged (monotony), then DAY at ``last_share``."""
    dates = [DAY - dt.timedelta(days=offset) for offset in range(days, -1, -1)]
    frame = mf.rolling_rows(list(range(1, athletes + 1)), dates, seed=9)
    frame["acwr_rolling_7_28"], frame["tsb"] = 1.0, 0.0
    flagged = frame["athlete_id"] <= round(share * athletes)
    flagged |= (frame["as_of_date"] == DAY) & (frame["athlete_id"] <= round(last_share * athletes))
    frame["is_overtraining_risk"] = flagged
    frame["risk_reasons"] = frame["is_overtraining_risk"].map({True: compute.RISK_MONOTONY, False: ""})
    return frame


def test_alert_share_judges_a_spike_against_the_populations_own_baseline(tmp_path):
    """20 % of athletes always flagged (monotonous runners): a day at 25 % is their normal, not a load bug;
    a day at 60 % is a population-wide spike."""
    mf.write_table(tmp_path / "normal", ROLLING_FEATURES.path, history_with_share(60, 60, 0.20, 0.25))
    check = check_results(run(tmp_path / "normal"))["overtraining_alert_share"]
    assert check.passed, check.metadata  # 25 % > 10 %, but only 1.9 standard errors above a 20 % baseline
    assert check.metadata["baseline_days"].value == 60

    mf.write_table(tmp_path / "spike", ROLLING_FEATURES.path, history_with_share(60, 60, 0.20, 0.60))
    check = check_results(run(tmp_path / "spike"))["overtraining_alert_share"]
    assert not check.passed and check.severity.value == "ERROR"  # 60 %: 7.7 standard errors above 20 %


def test_a_single_runners_flag_is_in_the_table_but_not_a_population_share(tmp_path):
    """One runner's export: a flagged day is a 100 % share of one athlete, which says nothing about a load bug."""
    mf.write_table(tmp_path, ROLLING_FEATURES.path, rolling_day({1: (compute.RISK_ACWR,)}, athletes=1))
    result = run(tmp_path)
    assert list(DeltaTable(str(tmp_path.joinpath(*OVERTRAINING_ALERTS.path))).to_pandas()["athlete_id"]) == [1]
    assert check_results(result)["overtraining_alert_share"].passed
