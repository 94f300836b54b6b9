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


def test_a_spark_input_of_few_but_large_rows_is_scanned_from_the_files_not_shipped_in_tasks(tmp_path):
    """A window of 40 rows of 128 KiB (5 MiB, like bronze's raw JSON) is read by Spark from the Parquet files:
    created from a local Arrow table, it would travel inside Spark's tasks (over Spark's 1000 KiB per task)."""
    from athlete_platform.resources.delta_io import SPARK_SCAN_MIN_BYTES

    payload_chars = 128 * 1024

    @asset(name="raw", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def raw(context) -> pa.Table:
        day = dt.date.fromisoformat(context.partition_key)
        return pa.table({"day": [day] * 40, "id": list(range(40)), "payload": [chr(65 + i % 26) * payload_chars for i in range(40)]})

    seen = {}

    @asset(name="parsed", partitions_def=DAYS, metadata={"partition_expr": "day"})
    def parsed(context, raw):  # no annotation: a Spark DataFrame
        seen["files"] = raw.inputFiles()
        seen["rows"] = sorted((row["id"], len(row["payload"])) for row in raw.select("id", "payload").collect())
        seen["types"] = dict(raw.dtypes)
        return raw.select("day", "id")

    assert 40 * payload_chars >= SPARK_SCAN_MIN_BYTES  # the case this test is about
    resources = {"io_manager": DeltaTableIOManager(root_uri=str(tmp_path), spark=SparkResource())}
    assert materialize([raw, parsed], partition_key="2024-01-03", resources=resources).success
    assert seen["files"] and all(name.endswith(".parquet") for name in seen["files"])  # a scan, no local data
    assert seen["rows"] == [(i, payload_chars) for i in range(40)]
    assert seen["types"] == {"day": "date", "id": "bigint", "payload": "string"}  # as the Arrow path types them
