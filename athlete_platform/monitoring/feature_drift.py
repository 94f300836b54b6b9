"""``monitoring/feature_drift``: do the features served this week look like the features served over the
year before?

* **Reference** — what serving looked like: every athlete-day of ``features/athlete_rolling_features`` that
  daily scoring would have scored (:func:`athlete_platform.inference.assets.active_feature_rows`: the rolling
  row of D−1 of each athlete active as of D) over the ``reference_weeks`` Monday–Sunday weeks just before the
  analysis weeks (``[F − 7·weeks, F)`` for the first analysis Monday F): the serving model's training window
  when that model is recent (weekly training), and in any case the population the daily scoring sees. Not the
  serving version's own training cut-off: a champion kept for months (no challenger beat it) would have its
  reference end months before the analysis, and on the per-athlete scale below each runner's own progress
  since then (fitness gained, the slow VDOT trend) reads as drift — on the stationary demo, v1 trained two
  months before the analysis put the best-effort features 4 σ off. How the model copes with that evolution is
  what ``realized_error`` and ``performance_estimate`` measure; this check looks for sudden changes in what is
  served (a load spike, a unit bug, a pipeline error). Warm-up rows (an athlete's first 42 days of history, CTL/ATL seeded at 0) are left out: they are an
  artefact of where the table starts, not a state of the population. Not the race-eve training rows: those
  are a different population (athletes tapering), so comparing served days with them is red on data that did
  not drift.
* **Analysis** — the served rows of the inference log (:func:`~athlete_platform.inference.assets.served_rows`,
  shadow scores left out) of the last ``ANALYSIS_WEEKS`` *complete* Monday–Sunday weeks ending on or before the
  monitoring date D. Complete weeks only, served on all of their 7 days (else ``insufficient_data``), because
  the alert threshold is learned from whole reference weeks: a two-day chunk has a higher noise floor and would
  alert on nothing. D is judged on its newest complete week
  (a week's verdict is final on its Sunday and repeated Monday–Saturday); the earlier weeks are context.
* **Per athlete** — each feature is standardized against the athlete's own reference rows, (value − median) /
  interquartile range, before drift is measured; athletes without reference rows are left out. Athletes differ
  far more from each other (a 30 km/week runner vs a 90 km/week one) than a week differs from their usual, so on
  raw values a weekly chunk of a few dozen athletes has a JS noise floor that hides a +40 % load week or a unit
  bug in a third of them; standardized, every athlete moves by their own spread and the shift shows.
* **Statistic** — NannyML's ``UnivariateDriftCalculator`` with Jensen–Shannon distance (continuous method,
  base 2, bins from the reference by Doane's rule, values outside the reference range in an overflow bin),
  chunked by Monday–Sunday week (the weeks of ``chunk_period="W"``, split by :func:`week_chunker`), on the
  standardized values. Jensen–Shannon rather than
  Kolmogorov–Smirnov: it is bounded in [0, 1] so one table reads across features; and a unit bug (values beyond
  the reference range) lands in the overflow bin and scores high, where KS would only report the largest CDF gap.
* **Thresholds** — from the reference's own week-to-week variation, as NannyML does
  (``StandardDeviationThreshold``): JS of each reference week against the whole reference gives a mean μ and
  standard deviation σ per feature. WARN when a week's JS > μ + ``warn_sigma``·σ (NannyML's alert; default
  3.5), ERROR when > μ + ``error_sigma``·σ (default 4). The reference is a whole year so that the seasons
  (heat slows runners in summer; the simulator models it) are inside μ and σ rather than read as drift.
  A same-season reference (the analysis week ± a few weeks one year earlier) was tried and rejected: the
  athletes' ability moves within a year (fitness, the long-term VDOT trend), so on stationary simulated
  athletes the ability features were 4–7 σ off a year-old window. Fewer than ``min_week_rows`` values in a
  week, or fewer than ``min_reference_weeks`` reference weeks: ``insufficient_data`` (neither green nor red).

NannyML is imported inside the asset (see :mod:`athlete_platform.monitoring.nannyml_support`).
"""

import datetime as dt
import warnings
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    AssetCheckSpec,
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
from pydantic import Field

from athlete_platform.asset_keys import DAILY_FEATURES, FEATURE_DRIFT, INFERENCE_LOG, ROLLING_FEATURES
from athlete_platform.frames import PandasOrNone, as_dates, markdown_table, or_empty, to_table, window_days
from athlete_platform.inference.assets import ACTIVE_WINDOW_DAYS, active_feature_rows, served_rows
from athlete_platform.model import contract
from athlete_platform.monitoring.levels import ERROR, OK, WARN, level_check
from athlete_platform.monitoring.nannyml_support import period_rows
from athlete_platform.partitions import daily_partitions, window_dates

METHOD = "jensen_shannon"
TIMESTAMP = "prediction_date"
INSUFFICIENT = "insufficient_data"
#: Complete Monday–Sunday weeks of served rows analysed per monitoring date (the newest one is judged).
ANALYSIS_WEEKS = 4
#: Served rows of D−(ANALYSIS_WEEKS·7 + 6) .. D cover the complete weeks of any D.
ANALYSIS_LOOKBACK_DAYS = ANALYSIS_WEEKS * 7 + 6
#: Longest reference a run can ask for; it ends where the analysis weeks begin.
MAX_REFERENCE_WEEKS = 52
REFERENCE_LOOKBACK_DAYS = MAX_REFERENCE_WEEKS * 7 + ANALYSIS_LOOKBACK_DAYS


class FeatureDriftConfig(Config):
    reference_weeks: int = Field(
        default=MAX_REFERENCE_WEEKS, ge=4, le=MAX_REFERENCE_WEEKS,
        description="Weeks of the serving version's training window used as reference (a year covers the seasons).",
    )
    warn_sigma: float = Field(default=3.5, gt=0, description="WARN when a week's JS > reference mean + warn_sigma·SD.")
    error_sigma: float = Field(default=4.0, gt=0, description="ERROR when a week's JS > reference mean + error_sigma·SD.")
    min_week_rows: int = Field(default=30, ge=1, description="Fewer values in a week (either side): insufficient_data.")
    min_reference_weeks: int = Field(default=8, ge=2, description="Fewer reference weeks: insufficient_data.")


DRIFT_SCHEMA = pa.schema([
    ("monitoring_date", pa.date32()),
    ("feature", pa.string()),
    ("model_version", pa.string()),
    ("week_start", pa.date32()),  # the judged week: the newest complete Monday–Sunday week ≤ monitoring_date
    ("window_start", pa.date32()),  # first day of the ANALYSIS_WEEKS analysed (context in the metadata)
    ("method", pa.string()),
    ("analysis_rows", pa.int64()),
    ("reference_rows", pa.int64()),
    ("reference_start", pa.date32()),
    ("reference_end", pa.date32()),  # exclusive: the first analysis Monday
    ("reference_weeks", pa.int64()),
    ("js_distance", pa.float64()),
    ("reference_js_mean", pa.float64()),
    ("warn_threshold", pa.float64()),
    ("error_threshold", pa.float64()),
    ("analysis_mean", pa.float64()),
    ("reference_mean", pa.float64()),
    ("alert", pa.bool_()),
    ("level", pa.string()),  # ok | warn | error | insufficient_data
])


# -- pure parts (tested directly) -----------------------------------------------------------------------------


def monday_on_or_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def newest_complete_week(day: dt.date) -> dt.date:
    """Monday of the newest Monday–Sunday week that ends on or before ``day``."""
    return monday_on_or_before(day + dt.timedelta(days=1)) - dt.timedelta(weeks=1)


def week_mondays(stamps: Any) -> np.ndarray:
    """:func:`monday_on_or_before` of each datetime64 value, vectorized: the Mondays as ``datetime64[D]`` (NaT
    stays NaT). Day 0 of datetime64, 1970-01-01, was a Thursday."""
    days = np.asarray(stamps, dtype="datetime64[ns]").astype("datetime64[D]")
    return days - ((days.astype("int64") + 3) % 7).astype("timedelta64[D]")


def served_alike_rows(rolling: pd.DataFrame | None, daily: pd.DataFrame | None, start: dt.date,
                      end: dt.date) -> pd.DataFrame:
    """The rows daily scoring would have scored on the prediction days ``[start, end)``, warm-up rows left out;
    ``prediction_date`` as datetime64, sorted by it and ``athlete_id``. Each row depends only on its athlete's
    own history, so the rows of a sub-range are this frame's rows of that range (:func:`reference_window`)."""
    frame = or_empty(rolling)
    if not frame.empty and "is_warmup" in frame:
        frame = frame[~frame["is_warmup"].astype("boolean").fillna(False).astype(bool)]
    rows = active_feature_rows(frame, daily, window_days(start, end))
    return rows.assign(**{TIMESTAMP: pd.to_datetime(rows[TIMESTAMP])})


def reference_window(rows: pd.DataFrame, before: dt.date, weeks: int) -> pd.DataFrame:
    """The rows of :func:`served_alike_rows` on the prediction days of the ``weeks`` complete weeks before
    ``before`` (its Monday)."""
    end = monday_on_or_before(before)
    start = end - dt.timedelta(weeks=weeks)
    if rows.empty:
        return rows
    days = rows[TIMESTAMP]
    return rows[(days >= pd.Timestamp(start)) & (days < pd.Timestamp(end))].reset_index(drop=True)


def serving_reference(
    rolling: pd.DataFrame | None, daily: pd.DataFrame | None, before: dt.date, weeks: int
) -> pd.DataFrame:
    """The rows daily scoring would have scored on the prediction days of the ``weeks`` complete weeks before
    ``before`` (its Monday), warm-up rows left out; ``prediction_date`` as datetime64."""
    end = monday_on_or_before(before)
    return served_alike_rows(rolling, daily, end - dt.timedelta(weeks=weeks), end)


@dataclass
class FittedReference:
    """A fitted NannyML calculator over the usable features, with what the levels need."""

    calculator: Any
    features: list[str]  # fitted (enough reference values); the others are insufficient_data
    rows: int
    weeks: int
    start: Optional[dt.date]
    end: Optional[dt.date]  # exclusive
    means: dict[str, float]  # raw reference means (for reading the table; drift is on standardized values)
    centre: pd.DataFrame  # per athlete (index) and feature: median of the athlete's reference rows
    scale: pd.DataFrame  # per athlete and feature: interquartile range of them (NaN where 0)
    athletes: int = 0


def athlete_scales(reference: pd.DataFrame,
                   features: Sequence[str] = contract.FEATURE_COLUMNS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each athlete's own reference median and interquartile range per feature (IQR 0: NaN, the athlete's
    values of that feature are left out). Median/IQR rather than mean/SD: a race or a sick week in the
    reference would inflate an athlete's SD and hide a unit bug behind it."""
    if reference.empty:
        empty = pd.DataFrame(columns=list(features), dtype="float64")
        return empty, empty
    grouped = reference[list(features)].astype("float64").groupby(reference["athlete_id"])
    centre = grouped.median()
    quartiles = grouped.quantile([0.25, 0.75])  # one pass for both: the same values as two calls
    scale = quartiles.xs(0.75, level=-1) - quartiles.xs(0.25, level=-1)
    return centre, scale.where(scale > 0)


def standardize(frame: pd.DataFrame, centre: pd.DataFrame, scale: pd.DataFrame,
                features: Sequence[str] = contract.FEATURE_COLUMNS) -> pd.DataFrame:
    """``frame``'s features as (value − athlete's reference median) / athlete's reference IQR; NaN for athletes
    without reference rows."""
    # Each row's athlete's row of centre and scale, by position; -1 (no reference rows) picks an appended NaN row.
    positions = centre.index.get_indexer(frame["athlete_id"].to_numpy())
    missing = np.full((1, len(features)), np.nan)
    centres = np.vstack([centre.reindex(columns=list(features)).to_numpy(dtype="float64"), missing])[positions]
    scales = np.vstack([scale.reindex(index=centre.index, columns=list(features)).to_numpy(dtype="float64"),
                        missing])[positions]
    values = frame[list(features)].to_numpy(dtype="float64")
    out = pd.DataFrame((values - centres) / scales, columns=list(features))
    out[TIMESTAMP] = frame[TIMESTAMP].to_numpy()
    return out


_WEEK_CHUNKER: Any = None


def week_chunker(nml: Any) -> Any:
    """NannyML's ``PeriodBasedChunker(offset="W")`` (Monday–Sunday weeks, what ``chunk_period="W"`` builds),
    splitting by slicing instead of ``groupby(...).get_group``: the calculator splits the year of reference rows
    once per feature when fitting, and the stock split (a sort, a datetime parse, a copy per week) was half of
    the fit. Same chunks — keys, start/end dates, start/end indices and rows — in the same order (rows
    within a week may be in another order: the statistics are histograms)."""
    global _WEEK_CHUNKER
    if _WEEK_CHUNKER is None:
        from nannyml.chunk import Chunk, PeriodBasedChunker

        class SlicedWeekChunker(PeriodBasedChunker):
            def split(self, data: pd.DataFrame, columns: Any = None) -> list:
                if self.timestamp_column_name not in data.columns:
                    raise ValueError(f"timestamp column {self.timestamp_column_name!r} not in {list(data.columns)}")
                stamps = data[self.timestamp_column_name]
                stamps = (stamps if pd.api.types.is_datetime64_dtype(stamps) else pd.to_datetime(stamps)).to_numpy()
                if len(stamps) and not (stamps[1:] >= stamps[:-1]).all():
                    order = np.argsort(stamps, kind="stable")
                    data, stamps = data.take(order), stamps[order]
                if not data.index.equals(pd.RangeIndex(len(data))):
                    data = data.reset_index(drop=True)
                mondays = week_mondays(stamps)
                bounds = np.flatnonzero(mondays[1:] != mondays[:-1]) + 1
                starts, ends = np.r_[0, bounds], np.r_[bounds, len(data)]
                chunks = []
                for index, (first, stop) in enumerate(zip(starts, ends)):
                    week = pd.Period(pd.Timestamp(mondays[first]), freq=self.offset)
                    rows = data.iloc[first:stop]
                    chunk = Chunk(key=str(week), data=rows if columns is None else rows[columns],
                                  start_datetime=week.start_time, end_datetime=week.end_time,
                                  start_index=int(first), end_index=int(stop - 1))
                    chunk.chunk_index = index
                    chunks.append(chunk)
                if len(chunks) < 6:  # as the stock chunker warns (the callers silence it where it is expected)
                    warnings.warn("The resulting number of chunks is too low. Please consider splitting your data "
                                  "in a different way or continue at your own risk.")
                return chunks

        _WEEK_CHUNKER = SlicedWeekChunker
    return _WEEK_CHUNKER(timestamp_column_name=TIMESTAMP, offset="W")  # pandas W = W-SUN: Monday–Sunday weeks


def fit_reference(reference: pd.DataFrame, config: FeatureDriftConfig,
                  features: Sequence[str] = contract.FEATURE_COLUMNS) -> FittedReference:
    from athlete_platform.monitoring.nannyml_support import import_nannyml

    nml = import_nannyml()
    centre, scale = athlete_scales(reference, features)
    frame = standardize(reference, centre, scale, features) if not reference.empty else \
        reference.loc[:, [*features, TIMESTAMP]].reset_index(drop=True)
    stamps = pd.to_datetime(frame[TIMESTAMP])
    weeks = int(pd.Series(week_mondays(stamps)).nunique()) if len(stamps) else 0
    usable = [f for f in features if frame[f].notna().sum() >= config.min_week_rows * config.min_reference_weeks]
    calculator = None
    if usable and weeks >= config.min_reference_weeks:
        calculator = nml.UnivariateDriftCalculator(
            column_names=usable,
            treat_as_numerical=usable,  # integer-valued counts too: the method must not switch to categorical
            timestamp_column_name=TIMESTAMP,
            continuous_methods=[METHOD],
            chunker=week_chunker(nml),
            thresholds={METHOD: nml.thresholds.StandardDeviationThreshold(
                std_lower_multiplier=None, std_upper_multiplier=config.warn_sigma)},
        )
        calculator.fit(frame[[*usable, TIMESTAMP]])
    else:
        usable = []
    return FittedReference(
        calculator=calculator, features=usable, rows=len(frame), weeks=weeks,
        start=stamps.min().date() if len(stamps) else None,
        end=stamps.max().date() + dt.timedelta(days=1) if len(stamps) else None,
        means={f: float(reference[f].astype("float64").mean()) if len(reference) else np.nan for f in features},
        centre=centre, scale=scale, athletes=len(centre),
    )


def weekly_drift(fitted: FittedReference, analysis: pd.DataFrame, config: FeatureDriftConfig,
                 features: Sequence[str] = contract.FEATURE_COLUMNS) -> pd.DataFrame:
    """One row per (complete analysis week, feature): JS distance, thresholds, level.

    ``analysis``: served rows (feature columns and ``prediction_date``) of whole Monday–Sunday weeks; a week
    served on fewer than its 7 days is ``insufficient_data``.
    """
    columns = ["week_start", "feature", "analysis_rows", "js_distance", "reference_js_mean", "warn_threshold",
               "error_threshold", "analysis_mean", "reference_mean", "alert", "level"]
    if analysis.empty:
        return pd.DataFrame(columns=columns)
    raw = analysis.reset_index(drop=True)
    frame = standardize(raw, fitted.centre, fitted.scale, features)
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    frame["_week"] = week_mondays(frame[TIMESTAMP]).astype(object)  # datetime.date, as the judged weeks
    computed: dict[tuple[dt.date, str], dict[str, float]] = {}
    if fitted.calculator is not None:
        with warnings.catch_warnings():
            # NannyML warns when data splits into < 6 chunks; the analysis is a few weeks by design (each
            # week is judged on its own against the reference's weekly spread), so a user cannot act on it.
            warnings.filterwarnings("ignore", message="The resulting number of chunks is too low", category=UserWarning)
            result = fitted.calculator.calculate(frame[[*fitted.features, TIMESTAMP]])
        results = result.to_df()
        chunks, reference_chunks = period_rows(results, "analysis"), period_rows(results, "reference")
        for feature in fitted.features:
            values = reference_chunks[(feature, METHOD, "value")].to_numpy(dtype=float)
            mean = float(np.nanmean(values))
            for _, chunk in chunks.iterrows():
                week = monday_on_or_before(pd.Timestamp(chunk[("chunk", "chunk", "start_date")]).date())
                warn = float(chunk[(feature, METHOD, "upper_threshold")])
                # NannyML's upper threshold is μ + warn_sigma·σ: σ from it, the ERROR line further out.
                error = mean + (warn - mean) * config.error_sigma / config.warn_sigma
                computed[(week, feature)] = {
                    "js_distance": float(chunk[(feature, METHOD, "value")]), "reference_js_mean": mean,
                    "warn_threshold": warn, "error_threshold": error,
                    "alert": bool(chunk[(feature, METHOD, "alert")]),
                }
    records = []
    for week, rows in frame.groupby("_week"):
        # A week judged on fewer served days than the reference's whole weeks has a higher noise floor (the
        # demo's first week, served from a Thursday: 3 days, 4.6 SD on stationary athletes): not judged.
        whole_week = rows[TIMESTAMP].dt.date.nunique() == 7
        for feature in features:
            values = rows[feature].dropna()  # standardized: athletes without reference rows are left out
            served_values = raw.loc[rows.index, feature].dropna()
            record = {"week_start": week, "feature": feature, "analysis_rows": len(values),
                      "js_distance": np.nan, "reference_js_mean": np.nan, "warn_threshold": np.nan,
                      "error_threshold": np.nan,
                      "analysis_mean": float(served_values.mean()) if len(served_values) else np.nan,
                      "reference_mean": fitted.means.get(feature, np.nan), "alert": False, "level": INSUFFICIENT}
            stats = computed.get((week, feature))
            if stats is not None and whole_week and len(values) >= config.min_week_rows:
                js = stats["js_distance"]
                level = ERROR if js > stats["error_threshold"] else WARN if stats["alert"] else OK
                record.update(stats, alert=level != OK, level=level)
            records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)


def week_grid(weekly: pd.DataFrame) -> str:
    """Features × weeks of JS distances, each marked 🟢 ok / 🟡 warn / 🔴 error / ⚪ insufficient data."""
    if weekly.empty:
        return "no served rows in complete weeks"
    marks = {OK: "🟢", WARN: "🟡", ERROR: "🔴", INSUFFICIENT: "⚪"}
    cells = weekly.assign(cell=[f"{marks[level]} {js:.2f}" if np.isfinite(js) else marks[level]
                                for js, level in zip(weekly["js_distance"], weekly["level"])])
    grid = cells.pivot(index="feature", columns="week_start", values="cell")
    grid = grid.reindex([f for f in contract.FEATURE_COLUMNS if f in grid.index])
    thresholds = weekly.drop_duplicates("feature").set_index("feature")[["warn_threshold", "error_threshold"]]
    grid.columns = [f"week of {c:%Y-%m-%d}" for c in grid.columns]
    grid["warn > / error >"] = [f"{w:.2f} / {e:.2f}" if np.isfinite(w) else "" for w, e in
                               thresholds.reindex(grid.index).to_numpy()]
    return markdown_table(grid.reset_index(), limit=len(grid))


# -- the asset ------------------------------------------------------------------------------------------------


@asset(
    key=FEATURE_DRIFT,
    ins={
        "inference_log": AssetIn(
            key=INFERENCE_LOG,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-ANALYSIS_LOOKBACK_DAYS, end_offset=0),
            dagster_type=PandasOrNone,
        ),
        # Rolling rows of D−1 serve D: the reference's prediction days need as-of days one earlier.
        "rolling": AssetIn(
            key=ROLLING_FEATURES,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-REFERENCE_LOOKBACK_DAYS - 1, end_offset=-1),
            dagster_type=PandasOrNone,
        ),
        "daily": AssetIn(
            key=DAILY_FEATURES,
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-REFERENCE_LOOKBACK_DAYS - ACTIVE_WINDOW_DAYS - 1, end_offset=-1),
            dagster_type=PandasOrNone,
        ),
    },
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "monitoring_date"},
    check_specs=[
        AssetCheckSpec(
            "feature_drift", asset=FEATURE_DRIFT, blocking=False,
            description=(
                "Per model feature, Jensen–Shannon distance (NannyML) of the newest complete week of served rows, "
                "each athlete standardized against their own reference rows, against the year served before the "
                "analysis weeks: WARN above the reference's weekly mean + 3.5 SD (NannyML's alert), "
                "ERROR above mean + 4 SD (FeatureDriftConfig)."
            ),
        )
    ],
    kinds={"python", "nannyml", "delta"},
    code_version="4",
    description=(
        "Per monitoring date and model feature: NannyML univariate drift (Jensen–Shannon, weekly chunks) of the "
        "served features, standardized per athlete, against every athlete-day served-alike in the year before "
        "the analysis weeks."
    ),
)
def feature_drift(
    context: AssetExecutionContext, config: FeatureDriftConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],
    inference_log: Optional[pd.DataFrame], rolling: Optional[pd.DataFrame], daily: Optional[pd.DataFrame],
):
    start, end = window_dates(context)
    log = or_empty(inference_log)
    if not log.empty:
        log = served_rows(log)
        log = log.assign(prediction_date=as_dates(log["prediction_date"]))
    days = window_days(start, end)
    firsts = sorted({newest_complete_week(day) - dt.timedelta(weeks=ANALYSIS_WEEKS - 1) for day in days})
    served_alike: Optional[pd.DataFrame] = None  # every reference's rows, computed once (references overlap)
    # One per first analysis Monday, for the rows and the metadata; without its calculator (the reference rows
    # it holds), which is not needed once its weeks are computed: days ascend, so each is fitted once.
    references: dict[dt.date, FittedReference] = {}
    weekly_cache: dict[dt.date, tuple[pd.DataFrame, str]] = {}
    frames, grids = [], {}
    for day in days:
        judged = newest_complete_week(day)
        first = judged - dt.timedelta(weeks=ANALYSIS_WEEKS - 1)
        if judged not in weekly_cache:
            analysis = log[(log["prediction_date"] >= first) & (log["prediction_date"] < judged + dt.timedelta(weeks=1))] \
                if not log.empty else log
            if analysis.empty:
                continue
            latest = analysis[analysis["prediction_date"] == analysis["prediction_date"].max()]
            version = max(latest["model_version"].astype(str), key=int)  # the version serving at the week's end
            if served_alike is None:
                served_alike = served_alike_rows(
                    rolling, daily, firsts[0] - dt.timedelta(weeks=config.reference_weeks), firsts[-1])
            fitted = fit_reference(reference_window(served_alike, first, config.reference_weeks), config)
            context.log.info(f"feature drift reference: {fitted.rows} rows, {fitted.weeks} weeks before {first}")
            weekly_cache[judged] = weekly_drift(fitted, analysis, config), version
            references[first] = replace(fitted, calculator=None)
            del fitted
        weekly, version = weekly_cache[judged]
        grids[judged] = weekly
        row = weekly[weekly["week_start"] == judged].copy()
        if row.empty:
            continue
        reference = references[first]
        row.insert(0, "monitoring_date", day)
        row["model_version"], row["window_start"], row["method"] = version, first, METHOD
        row["reference_rows"], row["reference_weeks"] = reference.rows, reference.weeks
        row["reference_start"], row["reference_end"] = reference.start, reference.end
        frames.append(row)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DRIFT_SCHEMA.names)
    newest = grids[max(grids)] if grids else pd.DataFrame()
    by_feature = (
        table.groupby("feature").agg(days=("monitoring_date", "nunique"), max_js=("js_distance", "max"),
                                     warn_threshold=("warn_threshold", "last"),
                                     error_threshold=("error_threshold", "last"),
                                     warn_days=("level", lambda s: int((s == WARN).sum())),
                                     error_days=("level", lambda s: int((s == ERROR).sum())))
        .reindex([f for f in contract.FEATURE_COLUMNS if f in set(table["feature"])]).reset_index()
        if not table.empty else pd.DataFrame()
    )
    yield Output(
        to_table(table, DRIFT_SCHEMA),
        metadata={
            "rows": len(table),
            "alerts": int(table["alert"].sum()) if not table.empty else 0,
            "weeks": MetadataValue.md(week_grid(newest)),
            "by_feature": MetadataValue.md(markdown_table(by_feature, limit=len(contract.FEATURE_COLUMNS))),
            "reference": MetadataValue.json({  # one reference per first analysis Monday
                str(first): {"rows": f.rows, "weeks": f.weeks, "athletes": f.athletes, "start": str(f.start),
                             "end_exclusive": str(f.end)}
                for first, f in references.items()
            }),
        },
    )
    drifted = table[table["alert"]] if not table.empty else table
    yield level_check(
        "feature_drift", FEATURE_DRIFT, table["level"] if not table.empty else [],
        {
            "drifted_features": ", ".join(sorted(set(drifted["feature"]))) or "none",
            "insufficient_data": int((table["level"] == INSUFFICIENT).sum()) if not table.empty else 0,
            "warn_sigma": config.warn_sigma, "error_sigma": config.error_sigma,
            "weeks": MetadataValue.md(week_grid(newest)),
        },
    )
