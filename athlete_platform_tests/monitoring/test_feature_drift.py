"""feature_drift: NannyML weekly Jensen–Shannon drift of served features against the year served before the
analysis weeks — green on stationary simulated athletes, red on a planted shift.

Real frames: simulated athletes through the platform's own silver → features chain (no Spark), written as real
Delta tables, a real MLflow registry, the asset run by Dagster.
"""

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import DAILY_FEATURES, FEATURE_DRIFT, INFERENCE_LOG, ROLLING_FEATURES
from athlete_platform.features import compute
from athlete_platform.inference.assets import active_feature_rows
from athlete_platform.frames import window_days
from athlete_platform.model import contract
from athlete_platform.model.simulated_data import simulated_silver
from athlete_platform.monitoring.feature_drift import (
    TIMESTAMP,
    FeatureDriftConfig,
    athlete_scales,
    feature_drift,
    fit_reference,
    newest_complete_week,
    serving_reference,
    standardize,
    weekly_drift,
)
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform.simulation.config import SimulatorParams
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.support.runs import check_results

START, END = dt.date(2024, 6, 1), dt.date(2025, 12, 1)
POPULATION = SimulatorParams(seed=42, n_athletes=30, history_start=START)
DATA_END = dt.date(2025, 10, 27)  # the serving version's training data ends before this Monday
DAY = dt.date(2025, 11, 30)  # a Sunday: its week (Nov 24–30) is complete
ANALYSIS_START = dt.date(2025, 11, 3)  # its four analysis weeks begin here; the reference is the year before
LOAD_WEEK = (dt.date(2025, 11, 17), dt.date(2025, 11, 23))
CONFIG = FeatureDriftConfig()  # the defaults: 52 reference weeks, WARN 3.5 SD, ERROR 4 SD
SPECS = [
    AssetSpec(key, partitions_def=daily_partitions, metadata={"partition_expr": expr})
    for key, expr in ((INFERENCE_LOG, "prediction_date"), (ROLLING_FEATURES, "as_of_date"), (DAILY_FEATURES, "date"))
]


@lru_cache(maxsize=None)
def silver() -> pd.DataFrame:
    return simulated_silver(POPULATION, START, END)[0]


@lru_cache(maxsize=None)
def feature_tables(load_factor: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rolling, daily) features; ``load_factor`` scales every activity of LOAD_WEEK (distance and times, so
    the pace and the intensity stay: the load grows by that factor)."""
    frame = silver().copy()
    week = (frame["activity_date"] >= LOAD_WEEK[0]) & (frame["activity_date"] <= LOAD_WEEK[1])
    for column in ("distance_m", "moving_time_s", "elapsed_time_s", "moving_min", "elapsed_min"):
        frame.loc[week, column] = frame.loc[week, column] * load_factor
    activity = compute.activity_features(frame, None, None, None)
    daily = compute.daily_features(activity, {}, START, END, None)
    rolling = compute.rolling_features(daily, None, None)
    return rolling, daily


def served(rolling: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """What daily scoring serves in the complete weeks of November: the active athletes' rows of D−1 for each D."""
    rows = active_feature_rows(rolling, daily, window_days(ANALYSIS_START, DAY + dt.timedelta(days=1)))
    return rows.rename(columns={"feature_as_of_date": "as_of_date"})


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    resource = mf.mlflow_resource(tmp_path_factory.mktemp("mlflow"))
    version = mf.register_version(resource, data_window_end=DATA_END, aliases=(contract.CHAMPION_ALIAS,))
    return resource, version


def run_drift(root, registry, load_factor: float):
    rolling, daily = feature_tables(load_factor)
    mf.write_table(root, ROLLING_FEATURES.path, rolling)
    mf.write_table(root, DAILY_FEATURES.path, daily)
    mf.write_table(root, INFERENCE_LOG.path, mf.inference_log_rows(served(rolling, daily), registry[1]))
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(root), spark=SparkResource()), "mlflow": registry[0],
                 "pyspark_step_launcher": ResourceDefinition.none_resource()}
    result = materialize([*SPECS, feature_drift], partition_key=DAY.isoformat(), resources=resources)
    table = DeltaTable(str(root.joinpath(*FEATURE_DRIFT.path))).to_pandas().set_index("feature")
    return check_results(result)["feature_drift"], table


def test_stationary_athletes_are_green(tmp_path, registry):
    check, table = run_drift(tmp_path, registry, 1.0)
    assert set(table.index) == set(contract.FEATURE_COLUMNS)
    assert (table["week_start"] == dt.date(2025, 11, 24)).all() and (table["model_version"] == str(registry[1].version)).all()
    assert (table["reference_end"] == ANALYSIS_START).all() and (table["reference_weeks"] == 52).all()
    # The reference is every served-alike athlete-day of the 52 weeks, not ~a race per athlete and month.
    assert (table["reference_rows"] > 20 * 52 * 7).all()
    assert check.passed, check.metadata["weeks"].value
    assert (table["level"] == "ok").all(), table[["js_distance", "warn_threshold", "level"]]


def test_a_week_of_forty_percent_more_load_is_red(tmp_path, registry):
    check, table = run_drift(tmp_path, registry, 1.4)
    assert not check.passed and check.severity.value == "ERROR"
    red = set(table.index[table["level"] == "error"])
    assert red and red <= {"atl", "tsb", "acwr_ewma_7_28", "ctl", "monotony_7d", "distance_30d_km"}, red
    assert table.loc[sorted(red), "js_distance"].gt(table.loc[sorted(red), "error_threshold"]).all()
    # Ability features did not move.
    assert table.loc["best_effort_10k_s", "level"] == "ok" and table.loc["median_vdot_30d", "level"] == "ok"


def test_a_pace_unit_bug_in_one_athlete_group_is_red_on_pace_only():
    rolling, daily = feature_tables(1.0)
    fitted = fit_reference(serving_reference(rolling, daily, ANALYSIS_START, CONFIG.reference_weeks), CONFIG)
    analysis = served(rolling, daily)
    bug = (analysis["athlete_id"] % 3 == 0) & (analysis["prediction_date"] >= dt.date(2025, 11, 24))
    analysis.loc[bug, "best_pace_30d"] *= 1.609344  # s/mi served as s/km for a third of the athletes
    weeks = weekly_drift(fitted, analysis, CONFIG)
    last = weeks[weeks["week_start"] == newest_complete_week(DAY)].set_index("feature")
    assert last.loc["best_pace_30d", "level"] == "error"
    assert (last.drop(index="best_pace_30d")["level"] == "ok").all()
    earlier = weeks[weeks["week_start"] < newest_complete_week(DAY)]
    assert (earlier["level"] == "ok").all()


def test_newest_complete_week_is_the_last_monday_to_sunday_ending_by_the_day():
    assert newest_complete_week(dt.date(2025, 11, 30)) == dt.date(2025, 11, 24)  # Sunday: its own week
    assert newest_complete_week(dt.date(2025, 11, 29)) == dt.date(2025, 11, 17)  # Saturday: the week before
    assert newest_complete_week(dt.date(2025, 12, 1)) == dt.date(2025, 11, 24)  # Monday: the week just ended


def test_each_athlete_is_standardized_by_their_own_reference_median_and_iqr():
    day = pd.Timestamp("2025-01-06")
    reference = pd.DataFrame({"athlete_id": [1] * 5 + [2] * 5, TIMESTAMP: day,
                              "ctl": [10.0, 20, 30, 40, 50, 100, 100, 100, 100, 100]})
    centre, scale = athlete_scales(reference, ["ctl"])
    assert centre.loc[1, "ctl"] == 30 and scale.loc[1, "ctl"] == 20  # quartiles 20 and 40
    served = pd.DataFrame({"athlete_id": [1, 2, 3], TIMESTAMP: day, "ctl": [70.0, 100, 50]})
    out = standardize(served, centre, scale, ["ctl"])
    assert out.loc[0, "ctl"] == 2.0  # (70 − 30) / 20: two of athlete 1's own IQRs, not the population's
    # A constant reference (IQR 0) and an athlete with no reference rows give no standardized value.
    assert out["ctl"].iloc[1:].isna().all()


def test_a_week_served_on_fewer_than_seven_days_is_not_judged():
    """A partial week (serving began on a Thursday) has a higher noise floor than the whole reference weeks."""
    rolling, daily = feature_tables(1.0)
    fitted = fit_reference(serving_reference(rolling, daily, ANALYSIS_START, CONFIG.reference_weeks), CONFIG)
    analysis = served(rolling, daily)
    judged = newest_complete_week(DAY)
    partial = analysis[(analysis["prediction_date"] < judged) | (analysis["prediction_date"] >= judged + dt.timedelta(days=4))]
    weeks = weekly_drift(fitted, partial, CONFIG)
    assert (weeks.loc[weeks["week_start"] == judged, "level"] == "insufficient_data").all()
    assert (weeks.loc[weeks["week_start"] < judged, "level"] == "ok").all()  # the whole weeks are still judged


def test_the_sliced_week_chunker_gives_nannyml_period_chunkers_weeks():
    """The reference is split by feature_drift's own week chunker: the same chunks as NannyML's
    ``chunk_period="W"``, on unsorted rows and with a week missing."""
    from nannyml.chunk import PeriodBasedChunker

    from athlete_platform.monitoring.feature_drift import week_chunker
    from athlete_platform.monitoring.nannyml_support import import_nannyml

    rng = np.random.default_rng(7)
    days = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 70, 600), unit="D")
    frame = pd.DataFrame({"ctl": rng.normal(size=600), TIMESTAMP: days})
    frame = frame[(frame[TIMESTAMP] < "2025-01-20") | (frame[TIMESTAMP] >= "2025-01-27")]  # a week without rows
    ours = week_chunker(import_nannyml()).split(frame)
    stock = PeriodBasedChunker(timestamp_column_name=TIMESTAMP, offset="W").split(frame)
    assert len(ours) == len(stock) == 10  # 11 Monday–Sunday weeks touched, one without rows

    def described(chunk):
        return (chunk.key, chunk.start_datetime, chunk.end_datetime, chunk.start_index, chunk.end_index,
                chunk.chunk_index, sorted(chunk.data["ctl"]))

    assert [described(c) for c in ours] == [described(c) for c in stock]
    assert ours[0].key == "2024-12-30/2025-01-05"  # Monday–Sunday weeks
