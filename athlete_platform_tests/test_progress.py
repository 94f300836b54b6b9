"""The runners print one progress line per finished step (``progress.step_progress_logger``, issue #13).

Real in-process runs through ``runner.run_job`` on a persistent local instance, with the platform's Delta IO
manager writing pandas outputs (it is what writes the ``dagster/row_count`` the lines report): a partitioned
asset with two checks, a multi-asset downstream of it, and an asset that raises. The lines' row counts are
compared with the Delta tables the run wrote, their seconds with the run's own duration.
"""

import re

import pandas as pd
import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    Output,
    asset,
    define_asset_job,
    multi_asset,
)

from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform.runner import local_instance, read_table, run_job

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")
BY_DAY = {"partition_expr": "day"}
READINGS_PER_DAY = 4
FIRST, LAST = "2024-01-01", "2024-01-03"
#: "    ok     <what> [<window>]: <rows> rows, <seconds> s[, <checks>]"
OK_LINE = re.compile(r"^    ok     (?P<what>.+?) \[(?P<window>[^\]]+)\]: (?:(?P<rows>[\d,]+(?: / [\d,]+)*) rows, )?"
                     r"(?P<seconds>\d+\.\d) s(?:, (?P<checks>.+))?$")


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run(), metadata=BY_DAY,
       check_specs=[AssetCheckSpec("has_rows", asset="readings"),
                    AssetCheckSpec("all_positive", asset="readings")])
def readings(context: AssetExecutionContext):
    days = pd.date_range(context.partition_time_window.start.date(), context.partition_time_window.end.date(),
                         inclusive="left").date
    frame = pd.DataFrame({"day": [d for d in days for _ in range(READINGS_PER_DAY)]})
    frame["value"] = range(-1, len(frame) - 1)  # one negative value: a check that does not pass
    yield Output(frame)
    yield AssetCheckResult(check_name="has_rows", passed=len(frame) > 0)
    yield AssetCheckResult(check_name="all_positive", passed=bool((frame["value"] > 0).all()),
                           severity=AssetCheckSeverity.WARN)


@multi_asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run(),
             outs={"day_totals": AssetOut(metadata=BY_DAY), "day_counts": AssetOut(metadata=BY_DAY)})
def day_summaries(readings: pd.DataFrame):
    grouped = readings.groupby("day", as_index=False)["value"]
    return grouped.sum(), grouped.count()


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run(), metadata=BY_DAY)
def broken(readings: pd.DataFrame) -> pd.DataFrame:
    raise ValueError(f"sensor offline after {len(readings)} readings\nsecond line of the message")


def definitions(delta_root, **loggers) -> Definitions:
    return Definitions(
        assets=[readings, day_summaries, broken],
        jobs=[define_asset_job("summaries_job", selection=[readings, day_summaries]),
              define_asset_job("broken_job", selection=[readings, broken])],
        resources={"io_manager": DeltaTableIOManager(root_uri=str(delta_root), spark=SparkResource())},
        **loggers,
    )


def step_lines(capsys) -> list[str]:
    """What the run printed between its header and its summary line (stdout: Dagster's console is stderr)."""
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.startswith("==> ")
    summary = next(i for i, line in enumerate(lines) if line.startswith(("    SUCCESS in", "    FAILED (steps")))
    return lines[:summary]


@pytest.mark.parametrize("registered", [True, False], ids=["platform-loggers", "definitions-without-loggers"])
def test_one_line_per_finished_step_with_its_assets_rows_and_seconds(tmp_path, capsys, registered):
    from athlete_platform.definitions import LOGGERS

    defs = definitions(tmp_path / "delta", **({"loggers": LOGGERS} if registered else {}))
    instance = local_instance(tmp_path / "dagster_home")

    outcome = run_job(defs, instance, "summaries_job", first=FIRST, last=LAST)

    assert outcome.success
    printed = step_lines(capsys)
    assert len(printed) == 2, printed  # one per step: readings, the multi-asset
    first, second = (OK_LINE.match(line) for line in printed)
    assert first and second, printed

    table_rows = {name: len(read_table(tmp_path / "delta", name)) for name in ("readings", "day_totals", "day_counts")}
    assert table_rows["readings"] == 3 * READINGS_PER_DAY
    assert (first["what"], first["window"]) == ("readings", f"{FIRST}...{LAST}")
    assert int(first["rows"].replace(",", "")) == table_rows["readings"]  # the range's rows, counted once
    assert first["checks"] == "2 checks (1 not passed)"
    assert outcome.failed_checks == ["readings:all_positive"]

    names, counts = second["what"].split(", "), second["rows"].replace(",", "").split(" / ")
    assert sorted(names) == ["day_counts", "day_totals"]
    assert {name: int(count) for name, count in zip(names, counts)} == {
        "day_totals": table_rows["day_totals"], "day_counts": table_rows["day_counts"]}
    assert second["checks"] is None

    # Each step's seconds as Dagster recorded them (its step stats), to the printed 0.1 s: a fast step may print 0.0.
    recorded = sorted(stat.end_time - stat.start_time for stat in instance.get_run_step_stats(outcome.run_id))
    printed_seconds = sorted(float(line["seconds"]) for line in (first, second))
    assert len(recorded) == 2
    assert all(abs(shown - took) <= 0.15 for shown, took in zip(printed_seconds, recorded)), (printed_seconds, recorded)


def test_a_failed_step_names_itself_and_its_error(tmp_path, capsys):
    defs = definitions(tmp_path / "delta")
    instance = local_instance(tmp_path / "dagster_home")

    outcome = run_job(defs, instance, "broken_job", first="2024-01-02")

    assert not outcome.success and outcome.failed_steps == ["broken"]
    printed = step_lines(capsys)
    assert len(printed) == 2, printed
    assert OK_LINE.match(printed[0])["what"] == "readings"
    failed = re.match(r"^    FAILED broken \[2024-01-02\] after \d+\.\d s: (?P<error>.+)$", printed[1])
    assert failed, printed[1]
    # The user's exception, first line only (not Dagster's "Error occurred while ..." wrapper).
    assert failed["error"] == f"ValueError: sensor offline after {READINGS_PER_DAY} readings"


def test_quiet_runs_print_no_progress(tmp_path, capsys):
    defs = definitions(tmp_path / "delta")
    instance = local_instance(tmp_path / "dagster_home")

    outcome = run_job(defs, instance, "summaries_job", first=FIRST, quiet=True)

    assert outcome.success and len(read_table(tmp_path / "delta", "readings")) == READINGS_PER_DAY
    assert capsys.readouterr().out == ""
