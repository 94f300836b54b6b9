"""The Delta IO manager on real Delta files: a partition written by a newer code version with a new column."""

import datetime as dt

import pyarrow as pa
from dagster import DailyPartitionsDefinition, asset, materialize
from deltalake import DeltaTable

from athlete_platform.resources.delta_io import DeltaTableIOManager
from athlete_platform.resources.spark import SparkResource

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")


def table_asset(with_new_column: bool):
    @asset(name="scores", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def scores(context) -> pa.Table:
        day = dt.date.fromisoformat(context.partition_key)
        columns = {"day": [day], "score": [float(day.day)]}
        if with_new_column:
            columns["new_feature"] = [day.day * 10.0]
        return pa.table(columns)

    return scores


def test_a_partition_with_a_new_column_joins_an_older_table(tmp_path):
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(tmp_path), spark=SparkResource())}
    for key in ("2024-01-01", "2024-01-02"):
        assert materialize([table_asset(False)], partition_key=key, resources=resources).success
    assert materialize([table_asset(True)], partition_key="2024-01-02", resources=resources).success
    frame = DeltaTable(str(tmp_path / "scores")).to_pandas().sort_values("day").reset_index(drop=True)
    assert frame["day"].tolist() == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]  # replaced, not duplicated
    assert frame["score"].tolist() == [1.0, 2.0]
    assert frame["new_feature"].isna().tolist() == [True, False] and frame.loc[1, "new_feature"] == 20.0
