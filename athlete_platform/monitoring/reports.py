"""Per-athlete daily report: PMC chart (CTL / ATL / TSB) and predicted vs actual race paces, as PNG files.

For report date D and each of the ``top_n_athletes`` most active athletes (rolling features of D ranked by
``activity_count_30d`` then ``distance_30d_km``), one PNG at ``<reports_dir>/<D>/athlete_<id>.png``:

* top: CTL, ATL (TrainingPeaks 1/N) and TSB ("yesterday" convention, filled) over the last
  :data:`REPORT_HISTORY_DAYS` days of ``features/athlete_rolling_features``;
* bottom: predicted pace (s/km → min/km) per distance from ``inference/athlete_predictions`` with the 80 %
  band, and the athlete's races (``labels/race_results``) as markers in the distance's colour.

Rendering uses matplotlib's object API on the Agg canvas (no pyplot, no display, no global backend state)
with a fixed layout: legends above their axes, concise horizontal date labels.
The materialization metadata carries a markdown preview with the first ``preview_athletes`` charts embedded
as base64 PNG (the Dagster UI renders ``data:image/png`` images in markdown metadata) and the file paths.

Cost bound: at most ``top_n_athletes`` charts per day, and in a range run (single-run backfill) only the
last ``max_report_days`` days of the range are rendered; the table gets rows for rendered days only (the
range's other days are emptied in the table, their PNG folders are left as they were).
"""

import base64
import datetime as dt
from pathlib import Path
from typing import Optional

import numpy as np
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
from pydantic import Field

from athlete_platform.asset_keys import ATHLETE_REPORTS, PREDICTIONS, RACE_RESULTS, ROLLING_FEATURES
from athlete_platform.frames import PandasOrNone, as_dates, or_empty, to_table, window_days
from athlete_platform.model import contract
from athlete_platform.partitions import daily_partitions, window_dates
from athlete_platform.resources.delta_io import ALLOW_MISSING, COLUMNS
from athlete_platform.settings import load_settings

REPORT_HISTORY_DAYS = 180
HISTORY = TimeWindowPartitionMapping(start_offset=-(REPORT_HISTORY_DAYS - 1), end_offset=0)
#: The columns the charts and the table use: 180 days of every athlete's rows are read to chart 20, so
#: reading the tables' other columns would grow memory with the population for nothing (10,000 athletes:
#: 1.8 M rolling rows).
ROLLING_COLUMNS = ("athlete_id", "as_of_date", "ctl", "atl", "tsb", "activity_count_30d", "distance_30d_km",
                   "is_overtraining_risk")
PREDICTION_COLUMNS = ("athlete_id", "prediction_date",
                      *(column for d in contract.DISTANCES_M for column in contract.prediction_columns(d)))
RACE_COLUMNS = ("athlete_id", "race_date", "distance_bucket", "official_time_s", "distance_m")
DISTANCE_COLORS = {"5k": "tab:green", "10k": "tab:blue", "21k": "tab:orange", "42k": "tab:red"}
FIGURE_SIZE_IN = (8, 5.5)
#: Axes placement in figure fractions: room above for the title and the load legend (one row), between the
#: axes for the pace legend (two rows), left for tick labels and y labels, below for the date labels.
CHART_GRID = {"height_ratios": [3, 2], "left": 0.09, "right": 0.98, "top": 0.885, "bottom": 0.085, "hspace": 0.25}
LEGEND_ABOVE = {"loc": "lower left", "bbox_to_anchor": (0.0, 1.0), "borderaxespad": 0.2, "fontsize": 7,
                "frameon": False}

REPORT_SCHEMA = pa.schema([
    ("report_date", pa.date32()),
    ("athlete_id", pa.int64()),
    ("rank", pa.int64()),
    ("png_path", pa.string()),
    ("activity_count_30d", pa.int64()),
    ("distance_30d_km", pa.float64()),
    ("ctl", pa.float64()),
    ("atl", pa.float64()),
    ("tsb", pa.float64()),
    ("is_overtraining_risk", pa.bool_()),
    *[(contract.prediction_columns(d)[0], pa.float64()) for d in contract.DISTANCES_M],  # latest prediction ≤ D
    ("prediction_date", pa.date32()),
    ("races_in_window", pa.int64()),
])


class ReportConfig(Config):
    top_n_athletes: int = Field(default=20, ge=1, description="Charts per day: the most active athletes.")
    preview_athletes: int = Field(default=2, ge=0, description="Charts embedded in the metadata preview.")
    max_report_days: int = Field(default=1, ge=1, description="Range runs render only the range's last N days.")
    dpi: int = Field(default=72, ge=30, le=300)
    reports_dir: Optional[str] = Field(default=None, description="Default: settings.reports_dir (platform home).")


def top_athletes(rolling_day: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` most active athletes of one day (activity_count_30d, then distance_30d_km), ranked from 1."""
    active = rolling_day[rolling_day["activity_count_30d"] > 0]
    ranked = active.sort_values(["activity_count_30d", "distance_30d_km", "athlete_id"], ascending=[False, False, True])
    return ranked.head(n).assign(rank=np.arange(1, min(n, len(ranked)) + 1, dtype="int64"))


def render_report(path: Path, athlete_id: int, day: dt.date, history: pd.DataFrame, predictions: pd.DataFrame,
                  races: pd.DataFrame, dpi: int) -> None:
    """One athlete's PNG (see module docstring). ``history``/``predictions``/``races``: that athlete's rows."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    # A fixed layout (margins in figure fractions, so they hold at any dpi): the constrained-layout solver
    # measured every text again at each draw, about 30 % of a chart's time. The legends sit above their
    # axes, outside the data, so the margins are known without measuring anything.
    figure = Figure(figsize=FIGURE_SIZE_IN)
    FigureCanvasAgg(figure)
    pmc, pace = figure.subplots(2, 1, sharex=True, gridspec_kw=CHART_GRID)
    days = pd.to_datetime(history["as_of_date"])
    pmc.plot(days, history["ctl"], color="tab:blue", label="CTL (fitness, 42 d)")
    pmc.plot(days, history["atl"], color="tab:pink", label="ATL (fatigue, 7 d)")
    tsb = history["tsb"].to_numpy(dtype=float)
    pmc.fill_between(days, 0, tsb, where=tsb >= 0, interpolate=True, color="tab:olive", alpha=0.3,
                     label="TSB (form, yesterday's)")
    pmc.fill_between(days, 0, tsb, where=tsb < 0, interpolate=True, color="tab:gray", alpha=0.3)
    pmc.axhline(-30, color="tab:red", linewidth=0.8, linestyle=":", label="TSB −30")
    pmc.set_ylabel("load")
    pmc.legend(**LEGEND_ABOVE, ncols=4)
    figure.suptitle(f"Athlete {athlete_id} — as of {day.isoformat()}", fontsize=10)

    for distance, metres in contract.DISTANCES_M.items():
        color = DISTANCE_COLORS[distance]
        point, low, high = contract.prediction_columns(distance)
        if not predictions.empty:
            when = pd.to_datetime(predictions["prediction_date"])
            per_km = 1000.0 / metres / 60.0  # seconds → min/km
            pace.plot(when, predictions[point] * per_km, color=color, linewidth=1, label=f"{distance} predicted")
            pace.fill_between(when, predictions[low] * per_km, predictions[high] * per_km, color=color, alpha=0.12)
        own = races[races["distance_bucket"] == distance] if not races.empty else races
        if not own.empty:
            pace.scatter(pd.to_datetime(own["race_date"]), own["official_time_s"] / (own["distance_m"] / 1000.0) / 60.0,
                         color=color, edgecolor="black", zorder=3, s=30, label=f"{distance} race")
    pace.set_ylabel("pace (min/km)")
    pace.invert_yaxis()  # faster is up
    if pace.get_legend_handles_labels()[0]:
        pace.legend(**LEGEND_ABOVE, ncols=4)  # 4 columns: one per distance, predicted above race
    else:
        pace.text(0.5, 0.5, "no predictions or races yet", ha="center", va="center", transform=pace.transAxes)
    # Short horizontal date labels (month names, the year once) instead of rotated full dates.
    locator = AutoDateLocator()
    pace.xaxis.set_major_locator(locator)
    pace.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=dpi)


def _by_athlete(frame: pd.DataFrame, athlete_ids: pd.Series, date_column: str, first: dt.date,
                last: dt.date) -> dict[int, pd.DataFrame]:
    """Per athlete of ``athlete_ids``, its rows dated ``first``..``last`` sorted by date (no rows: no entry).

    One pass for the day's charted athletes: the athlete filter first (an integer comparison) so that the
    date comparison, on ``datetime.date`` objects, runs on their rows only, not on the whole window.
    """
    if frame.empty:
        return {}
    rows = frame[frame["athlete_id"].isin(athlete_ids)]
    days = rows[date_column]
    rows = rows[(days >= first) & (days <= last)].sort_values(date_column, kind="stable")
    return {int(athlete_id): group for athlete_id, group in rows.groupby("athlete_id", sort=False)}


@asset(
    key=ATHLETE_REPORTS,
    ins={
        "rolling": AssetIn(key=ROLLING_FEATURES, partition_mapping=HISTORY, dagster_type=PandasOrNone,
                           metadata={COLUMNS: list(ROLLING_COLUMNS)}),
        "predictions": AssetIn(key=PREDICTIONS, partition_mapping=HISTORY, dagster_type=PandasOrNone,
                               metadata={ALLOW_MISSING: True, COLUMNS: list(PREDICTION_COLUMNS)}),
        "race_results": AssetIn(key=RACE_RESULTS, partition_mapping=HISTORY, dagster_type=PandasOrNone,
                                metadata={ALLOW_MISSING: True, COLUMNS: list(RACE_COLUMNS)}),
    },
    group_name="monitoring",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_expr": "report_date"},
    kinds={"python", "matplotlib", "delta"},
    code_version="2",  # 2: fixed layout, legends above the axes, concise date labels
    description=(
        f"Per report date: PNG charts (PMC over {REPORT_HISTORY_DAYS} days, predicted vs actual race paces) of the "
        "most active athletes under <reports_dir>/<date>/athlete_<id>.png, one row per chart."
    ),
)
def athlete_reports(
    context: AssetExecutionContext,
    config: ReportConfig,
    pyspark_step_launcher: ResourceParam[Optional[StepLauncher]],  # remote on Databricks, in-process locally
    rolling: Optional[pd.DataFrame],
    predictions: Optional[pd.DataFrame],
    race_results: Optional[pd.DataFrame],
):
    start, end = window_dates(context)
    reports_dir = Path(config.reports_dir) if config.reports_dir else load_settings().reports_dir
    rolling, predictions, races = or_empty(rolling), or_empty(predictions), or_empty(race_results)
    if not rolling.empty:
        rolling = rolling.assign(as_of_date=as_dates(rolling["as_of_date"]))
    if not predictions.empty:
        predictions = predictions.assign(prediction_date=as_dates(predictions["prediction_date"]))
    if not races.empty:
        races = races.assign(race_date=as_dates(races["race_date"]))
    rendered_days = window_days(start, end)[-config.max_report_days:]
    records, previews, paths = [], [], []
    for day in rendered_days:
        first = day - dt.timedelta(days=REPORT_HISTORY_DAYS - 1)
        folder = reports_dir / day.isoformat()
        for stale in folder.glob("athlete_*.png"):  # a re-run replaces the day's charts
            stale.unlink()
        today = rolling[rolling["as_of_date"] == day] if not rolling.empty else rolling
        if today.empty:
            continue
        top = top_athletes(today, config.top_n_athletes)
        histories = _by_athlete(rolling, top["athlete_id"], "as_of_date", first, day)
        predictions_by_athlete = _by_athlete(predictions, top["athlete_id"], "prediction_date", first, day)
        races_by_athlete = _by_athlete(races, top["athlete_id"], "race_date", first, day)
        for row in top.itertuples(index=False):
            athlete_id = int(row.athlete_id)
            history = histories[athlete_id]  # the athlete has a row today, so a history
            own_predictions = predictions_by_athlete.get(athlete_id, predictions.iloc[:0])
            own_races = races_by_athlete.get(athlete_id, races.iloc[:0])
            path = folder / f"athlete_{athlete_id}.png"
            render_report(path, athlete_id, day, history, own_predictions, own_races, config.dpi)
            paths.append(str(path))
            latest = own_predictions.iloc[-1] if not own_predictions.empty else None
            records.append({
                "report_date": day, "athlete_id": athlete_id, "rank": int(row.rank), "png_path": str(path),
                "activity_count_30d": int(row.activity_count_30d), "distance_30d_km": float(row.distance_30d_km),
                "ctl": float(row.ctl), "atl": float(row.atl), "tsb": float(row.tsb),
                "is_overtraining_risk": bool(row.is_overtraining_risk),
                **{c: (float(latest[c]) if latest is not None else np.nan)
                   for c in (contract.prediction_columns(d)[0] for d in contract.DISTANCES_M)},
                "prediction_date": latest["prediction_date"] if latest is not None else None,
                "races_in_window": len(own_races),
            })
            if day == rendered_days[-1] and len(previews) < config.preview_athletes:
                encoded = base64.b64encode(path.read_bytes()).decode("ascii")
                previews.append(f"**Athlete {athlete_id}** (rank {int(row.rank)})\n\n"
                                f"![athlete {athlete_id}](data:image/png;base64,{encoded})")
    table = pd.DataFrame.from_records(records, columns=REPORT_SCHEMA.names)
    if start < rendered_days[0]:
        context.log.info(f"range run: rendered {rendered_days[0]}..{rendered_days[-1]} only (max_report_days)")
    yield Output(
        to_table(table, REPORT_SCHEMA),
        metadata={
            "charts": len(table),
            "rendered_days": f"{rendered_days[0]}..{rendered_days[-1]}",
            "reports_dir": MetadataValue.path(str(reports_dir)),
            "files": MetadataValue.md("\n".join(f"- `{p}`" for p in paths) or "none"),
            "preview": MetadataValue.md("\n\n".join(previews) or "no athlete reports for this day"),
        },
    )
