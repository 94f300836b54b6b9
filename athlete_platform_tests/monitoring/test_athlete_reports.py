"""athlete_reports: PNG charts under reports_dir/<date>/ and a markdown preview with an embedded PNG."""

import base64
import datetime as dt

import pandas as pd
from dagster import AssetSpec, ResourceDefinition, materialize
from deltalake import DeltaTable

from athlete_platform.asset_keys import ATHLETE_REPORTS, PREDICTIONS, RACE_RESULTS, ROLLING_FEATURES
from athlete_platform.inference.assets import PREDICTIONS_SCHEMA
from athlete_platform.monitoring.reports import athlete_reports
from athlete_platform.partitions import daily_partitions
from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.inference import model_fixture as mf
from athlete_platform_tests.monitoring.builders import prediction, race

DAY = dt.date(2025, 8, 31)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SPECS = [
    AssetSpec(ROLLING_FEATURES, partitions_def=daily_partitions, metadata={"partition_expr": "as_of_date"}),
    AssetSpec(PREDICTIONS, partitions_def=daily_partitions, metadata={"partition_expr": "prediction_date"}),
    AssetSpec(RACE_RESULTS, partitions_def=daily_partitions, metadata={"partition_expr": "race_date"}),
]


def write_inputs(root) -> None:
    days = mf.days_between(DAY - dt.timedelta(days=179), DAY)
    rolling = mf.rolling_rows([1, 2, 3, 4], days, seed=41)
    rolling.loc[rolling["athlete_id"] == 2, "activity_count_30d"] = 40  # most active
    rolling.loc[rolling["athlete_id"] == 4, "activity_count_30d"] = 0  # inactive: never reported
    mf.write_table(root, ROLLING_FEATURES.path, rolling)
    predictions = [prediction(a, d, mf.athlete_ability(a)) for a in (1, 2) for d in days[-60:]]
    mf.write_table(root, PREDICTIONS.path, pd.DataFrame(predictions)[PREDICTIONS_SCHEMA.names])
    # Race counts differ per athlete (2: one, 1: two, 3: three), so a chart given another athlete's rows shows.
    races = [race(2, 9, "10k", 2300.0, DAY - dt.timedelta(days=20))]
    races += [race(1, 10 + i, "5k", 1200.0, DAY - dt.timedelta(days=30 * (i + 1))) for i in range(2)]
    races += [race(3, 20 + i, "21k", 5400.0, DAY - dt.timedelta(days=40 * (i + 1))) for i in range(3)]
    mf.write_table(root, RACE_RESULTS.path, pd.DataFrame(races))


def test_reports_render_top_athletes_with_a_preview(tmp_path):
    write_inputs(tmp_path)
    reports_dir = tmp_path / "reports"
    config = {"top_n_athletes": 2, "preview_athletes": 1, "reports_dir": str(reports_dir), "max_report_days": 1}
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(tmp_path), spark=SparkResource()), "pyspark_step_launcher": ResourceDefinition.none_resource()}
    tags = {"dagster/asset_partition_range_start": (DAY - dt.timedelta(days=2)).isoformat(),
            "dagster/asset_partition_range_end": DAY.isoformat()}
    result = materialize([*SPECS, athlete_reports], tags=tags, resources=resources,
                         run_config={"ops": {"monitoring__athlete_reports": {"config": config}}})

    table = DeltaTable(str(tmp_path.joinpath(*ATHLETE_REPORTS.path))).to_pandas().sort_values("rank")
    assert set(table["report_date"]) == {DAY}  # a range run renders only its last max_report_days days
    assert list(table["athlete_id"])[0] == 2 and len(table) == 2 and 4 not in set(table["athlete_id"])
    files = sorted((reports_dir / DAY.isoformat()).glob("*.png"))
    assert [f.name for f in files] == sorted(f"athlete_{a}.png" for a in table["athlete_id"])
    assert all(f.read_bytes().startswith(PNG_MAGIC) for f in files)
    assert list(table["png_path"]) == [str(reports_dir / DAY.isoformat() / f"athlete_{a}.png") for a in table["athlete_id"]]
    assert table.iloc[0]["races_in_window"] == 1 and table.iloc[0]["prediction_date"] == DAY
    assert list(table["races_in_window"]) == [{2: 1, 1: 2, 3: 3}[a] for a in table["athlete_id"]]

    metadata = mf.materialization_metadata(result, ATHLETE_REPORTS)
    preview = metadata["preview"].value
    assert preview.count("data:image/png;base64,") == 1 and "Athlete 2" in preview
    encoded = preview.split("data:image/png;base64,")[1].split(")")[0]
    assert base64.b64decode(encoded) == files[[f.name for f in files].index("athlete_2.png")].read_bytes()
    assert str(files[0]) in metadata["files"].value
