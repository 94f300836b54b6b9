"""The summary ``make athlete`` prints after its runs (:mod:`athlete_platform.athlete`): read back from the tables
and MLflow — every record accounted for (silver, quarantined, superseded), the races, the models and their CV,
the walk-forward on the runner's own races, the days predicted, the served predictions against the races, and
where to look next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from athlete_platform.runner import JobOutcome, mlflow_cv_metrics, read_table, where_to_look


@dataclass
class Summary:
    """What the run produced, read back from the tables (the printed summary and the tests use it)."""

    start: dt.date
    end: dt.date
    athletes: list[int] = field(default_factory=list)
    rows_in: int = 0
    silver: int = 0
    quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    superseded_duplicates: int = 0
    races: int = 0
    races_by_distance_reason: dict[str, dict[str, int]] = field(default_factory=dict)
    trained_weeks: list[str] = field(default_factory=list)
    registered_versions: list[str] = field(default_factory=list)
    latest_model: dict[str, Any] = field(default_factory=dict)
    cv_metrics: Any = None  # pandas DataFrame (model vs Riegel vs VDOT per distance) or None
    walk_forward: Any = None  # model vs Riegel vs VDOT per distance, walk-forward (model.walk_forward)
    prediction_days: int = 0
    days_with_prediction: int = 0
    days_without_model: int = 0
    days_inactive: int = 0
    model_versions_used: list[str] = field(default_factory=list)
    realized: Any = None  # per distance: races, MAE, MAPE, 80 % coverage of the predictions made before races
    report_pngs: list[str] = field(default_factory=list)
    runs: list[JobOutcome] = field(default_factory=list)


def summarize(delta_root: Path, mlflow_uri: str, start: dt.date, end: dt.date, prediction_start: dt.date | None,
              runs: list[JobOutcome]) -> Summary:
    """Read the run's tables back: the accounting of every record, races, models, predictions, reports."""
    import pandas as pd

    from athlete_platform.model.assets import GATE_COLUMNS

    def table(*path: str, columns: list[str] | None = None) -> pd.DataFrame:
        frame = read_table(delta_root, *path, columns=columns)
        return frame if frame is not None else pd.DataFrame(columns=columns or [])

    summary = Summary(start=start, end=end, runs=runs)
    bronze = table("ingest", "raw_activities", columns=["athlete_id", "activity_id"])
    silver = table("silver", "activities", columns=["athlete_id", "activity_id"])
    quarantine = table("silver", "quarantine", columns=["reject_fields"])
    summary.rows_in, summary.silver, summary.quarantined = len(bronze), len(silver), len(quarantine)
    summary.athletes = sorted(int(a) for a in pd.concat([bronze["athlete_id"], silver["athlete_id"]]).dropna().unique())
    summary.quarantine_by_reason = {str(k): int(v) for k, v in quarantine["reject_fields"].value_counts().items()}
    # Every record received is either in silver, quarantined, or an older version of a silver activity.
    summary.superseded_duplicates = summary.rows_in - summary.silver - summary.quarantined

    races = table("labels", "race_results", columns=["race_date", "distance_bucket", "detection_reason"])
    summary.races = len(races)
    if len(races):
        crosstab = races.groupby(["distance_bucket", "detection_reason"]).size()
        for (distance, reason), count in crosstab.items():
            summary.races_by_distance_reason.setdefault(str(distance), {})[str(reason)] = int(count)

    estimator = table("model", "time_estimator")
    registered = table("model", "registered_time_estimator", columns=["training_week", "version"])
    summary.trained_weeks = sorted(str(w) for w in estimator.get("training_week", []))
    summary.registered_versions = sorted((str(v) for v in registered["version"]), key=int)
    if len(estimator):
        latest = estimator.sort_values("training_week").iloc[-1]
        summary.latest_model = {k: latest[k] for k in ("training_week", "run_id", "model_kind", "train_rows",
                                                        *GATE_COLUMNS.values())}
        summary.cv_metrics = mlflow_cv_metrics(mlflow_uri, latest["run_id"])
        summary.walk_forward = runner_walk_forward(table("model", "training_set"))

    if prediction_start is not None:
        predictions = table("inference", "athlete_predictions", columns=["prediction_date", "model_version"])
        days = pd.to_datetime(predictions["prediction_date"]).dt.date if len(predictions) else pd.Series([], dtype=object)
        in_range = predictions[(days >= prediction_start) & (days <= end)] if len(predictions) else predictions
        summary.prediction_days = (end - prediction_start).days + 1
        summary.days_with_prediction = int(pd.to_datetime(in_range["prediction_date"]).dt.date.nunique()) if len(in_range) else 0
        summary.model_versions_used = sorted({str(v) for v in in_range["model_version"]}, key=int)
        summary.days_without_model, summary.days_inactive = _days_without_prediction(
            delta_root, prediction_start, end, set(pd.to_datetime(in_range["prediction_date"]).dt.date)
            if len(in_range) else set(),
        )
    realized = table("monitoring", "realized_error")
    if len(realized):
        summary.realized = realized.groupby("distance_bucket").agg(
            races=("abs_error_s", "size"), mae_s=("abs_error_s", "mean"), mape_pct=("abs_pct_error", "mean"),
            coverage80=("within_80_interval", "mean"),
        ).reset_index()
    reports = table("monitoring", "athlete_reports", columns=["report_date", "png_path"])
    summary.report_pngs = [str(p) for p in reports.sort_values(["report_date", "png_path"])["png_path"]]
    return summary


def runner_walk_forward(training_set: Any) -> Any:
    """For each of the runner's races on D, a model trained on the prior and their races before D (the
    training asset's settings), scoring features of D−1: model vs Riegel vs VDOT (``model.walk_forward``)."""
    from athlete_platform.model.assets import TimeEstimatorConfig
    from athlete_platform.model.walk_forward import runner_report

    if training_set.empty:
        return None
    latest = training_set[training_set["training_week"] == training_set["training_week"].max()]
    return runner_report(latest.drop(columns=["training_week"]).reset_index(drop=True), TimeEstimatorConfig())


def _days_without_prediction(delta_root: Path, first: dt.date, last: dt.date, predicted: set[dt.date]) -> tuple[int, int]:
    """(days before any model could serve them, days the runner was inactive) among days without a prediction.

    Inactive as inference defines it: no activity on D−42..D−1 (``inference.assets.ACTIVE_WINDOW_DAYS``).
    """
    import pandas as pd

    from athlete_platform.inference.assets import ACTIVE_WINDOW_DAYS

    daily = read_table(delta_root, "features", "athlete_daily_features", columns=["date", "activity_count"])
    active_days: set[dt.date] = set()
    if daily is not None and len(daily):
        activity_days = sorted(set(pd.to_datetime(daily.loc[daily["activity_count"] > 0, "date"]).dt.date))
        for day in activity_days:
            active_days.update(day + dt.timedelta(days=k) for k in range(1, ACTIVE_WINDOW_DAYS + 1))
    missing = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    missing = [day for day in missing if day not in predicted]
    inactive = sum(1 for day in missing if day not in active_days)
    return len(missing) - inactive, inactive


def distance_rank(name: str) -> int:
    """Where a distance bucket goes in the summary: 5k, 10k, 21k, 42k, then "all" and anything else (not
    alphabetically, which puts 42k before 5k)."""
    from athlete_platform.domain.running import STANDARD_DISTANCES_M

    order = [*STANDARD_DISTANCES_M, "all"]
    return order.index(name) if name in order else len(order)


def in_distance_order(frame: Any, column: str) -> Any:
    """``frame``'s rows by :func:`distance_rank` of ``column``."""
    return frame.sort_values(column, key=lambda names: names.map(distance_rank), kind="stable")


def latest_model_heading(latest: Any) -> str:
    """The line above the CV table: the latest training, and when a blocking gate failed, that it was not
    registered (the versions before it serve), so that its CV is not read as the served model's."""
    from athlete_platform.model.assets import GATE_COLUMNS

    failed = [check for check, column in GATE_COLUMNS.items() if latest.get(column) is not None and not latest[column]]
    verdict = (f"; not registered: its blocking check{'s' if len(failed) > 1 else ''} {' and '.join(failed)} failed"
               if failed else "")
    return (f"latest model (week {latest['training_week']}, {latest['model_kind']}, {latest['train_rows']} races, "
            f"MLflow run {latest['run_id']}{verdict}): time-ordered CV on this runner's races, model vs Riegel vs VDOT (s):")


CV_COLUMNS = ["distance", "races", "model_mae_s", "riegel_mae_s", "vdot_mae_s", "model_mape_pct", "coverage80"]


def cv_table(metrics: Any) -> str:
    """The latest model's CV metrics per distance as printed: the distances the runner raced, whole race counts,
    "-" where a figure is missing (no 80 % interval for a classical formula), then the distances without a race."""
    import pandas as pd

    raced = metrics["races"].fillna(0) > 0
    shown = metrics.loc[raced, CV_COLUMNS].copy()
    for column in CV_COLUMNS[1:]:  # None (not logged) as NaN, so that it prints as "-" and the numbers align
        shown[column] = pd.to_numeric(shown[column], errors="coerce")
    text = shown.round(2).astype({"races": "int64"}).to_string(index=False, na_rep="-")
    unraced = list(metrics.loc[~raced, "distance"])
    return text + (f"\n(no race at {', '.join(unraced)})" if unraced else "")


def print_summary(summary: Summary, settings: Any, dagster_home: Path) -> None:
    import pandas as pd

    print(f"\n=== athlete summary: {summary.start}..{summary.end} ({(summary.end - summary.start).days + 1} days), "
          f"athlete(s) {', '.join(map(str, summary.athletes)) or '-'} ===")
    print(f"records in: {summary.rows_in}  → silver: {summary.silver}, quarantined: {summary.quarantined}, "
          f"superseded duplicates: {summary.superseded_duplicates}")
    for reason, count in summary.quarantine_by_reason.items():
        print(f"  quarantined for {reason}: {count}")
    print(f"races: {summary.races}")
    for distance, reasons in sorted(summary.races_by_distance_reason.items(), key=lambda item: distance_rank(item[0])):
        print(f"  {distance}: " + ", ".join(f"{count} by {reason}" for reason, count in sorted(reasons.items())))
    print(f"models trained for weeks: {', '.join(summary.trained_weeks) or 'none'}; "
          f"registered versions: {', '.join(summary.registered_versions) or 'none'}")
    if summary.cv_metrics is not None:
        print(latest_model_heading(summary.latest_model))
        print(cv_table(summary.cv_metrics))
    if summary.walk_forward is not None:
        table = summary.walk_forward
        print("walk-forward on this runner's races (each race predicted from the features of the day before by a "
              "model trained on earlier data only, refitted every quarter (at most 16 times), the runner's newer races in its "
              "correction), MAE (s) and 80 % coverage:")
        wide = table.pivot(index="distance", columns="method", values="mae_s").round(1)
        wide["races"] = table[table["method"] == "model"].set_index("distance")["n"]
        wide["coverage80"] = table[table["method"] == "model"].set_index("distance")["coverage80"].round(2)
        print(in_distance_order(wide.reset_index(), "distance").to_string(index=False))
    if summary.prediction_days:
        print(f"predictions: {summary.days_with_prediction} of {summary.prediction_days} days "
              f"(no model trained before the day yet: {summary.days_without_model}, runner inactive for 42 days: "
              f"{summary.days_inactive}); model versions used: {', '.join(summary.model_versions_used) or 'none'}")
    if summary.realized is not None:
        print("served predictions vs races (prediction made before each race, 80 % interval coverage):")
        print(in_distance_order(pd.DataFrame(summary.realized), "distance_bucket").round(2).to_string(index=False))
    for run in summary.runs:
        status = "ok" if run.success else f"FAILED: {'; '.join(run.errors) or ', '.join(run.failed_steps)}"
        print(f"  run {run.name} [{run.window}] {run.seconds:.0f} s: {status}")
    for line in where_to_look(settings, dagster_home):
        print(line)
    if summary.report_pngs:
        print(f"Latest report: {summary.report_pngs[-1]}")
