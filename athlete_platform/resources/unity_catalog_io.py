"""Unity Catalog Delta tables as the IO manager on Databricks.

Same contract as the local ``delta_io.DeltaTableIOManager`` (and the same helpers, imported from there):

* an asset ``<prefix>/<name>`` is the managed table ``<catalog>.<prefix>.<name>`` — the key prefix is the
  schema (the stages of ``asset_keys.STAGES``: ``ingest``, ``silver``, ``features``, ``labels``, ``model``,
  ``inference``, ``monitoring``), the catalog
  defaults to ``uc_athlete_data``;
* a partitioned output replaces exactly its window, one day or a whole single-run-backfill range, in one
  Delta commit: ``df.write.format("delta").mode("overwrite").option("replaceWhere",
  "<partition_expr> >= 'start' AND <partition_expr> < 'end'").saveAsTable(...)``; rows outside the window
  (or with a null partition value) are refused with the same message as locally;
* an unpartitioned output overwrites the table (schema included);
* an input reads the mapped window (``WHERE col >= start AND col < end``) or the whole table;
* outputs may be Spark DataFrames, pandas DataFrames or Arrow tables; inputs come back as Spark DataFrames
  unless the asset's annotation asks for pandas or Arrow (the ML assets work in pandas).

Everything runs through the Spark session of the cluster (``SparkResource(master=None)``), so the remote
step of the Databricks step launcher reads and writes the tables directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext

from athlete_platform.asset_keys import STAGES
from athlete_platform.partitions import window_dates
from athlete_platform.resources.delta_io import (
    ALLOW_MISSING,
    DEFAULT_RETENTION_HOURS,
    also_replaces,
    check_window_bounds,
    partition_column,
    replace_predicate,
    requested_input_type,
    to_arrow,
    upstream_partition_column,
    window_predicate,
)
from athlete_platform.resources.spark import SparkResource, cached

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_CATALOG = "uc_athlete_data"


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def to_spark(obj: Any, session: "SparkSession") -> "DataFrame":
    """A Spark DataFrame as is; pandas or Arrow through Arrow (keeps date32 → DateType, etc.)."""
    from pyspark.sql import DataFrame

    if isinstance(obj, DataFrame):
        return obj
    return session.createDataFrame(to_arrow(obj))


class UnityCatalogDeltaIOManager(ConfigurableIOManager):
    """Stores each asset as a managed Delta table ``<catalog>.<key prefix>.<name>`` in Unity Catalog."""

    spark: SparkResource
    catalog: str = DEFAULT_CATALOG
    create_schemas: bool = True  # CREATE SCHEMA IF NOT EXISTS before a table's first write

    def table_parts(self, asset_key_path: list[str]) -> tuple[str, str, str]:
        if len(asset_key_path) < 2:
            raise ValueError(
                f"asset key {'/'.join(asset_key_path)!r} has no prefix: the prefix names the Unity Catalog schema "
                f"({', '.join(STAGES)})"
            )
        return self.catalog, asset_key_path[0], "_".join(asset_key_path[1:])

    def table_name(self, asset_key_path: list[str]) -> str:
        return ".".join(quote(part) for part in self.table_parts(asset_key_path))

    # -- writing ---------------------------------------------------------------------------------
    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            raise ValueError(f"asset {context.asset_key.to_user_string()} returned None; return an empty table instead")
        session = self.spark.get_session()
        df = to_spark(obj, session)
        catalog, schema, table = self.table_parts(context.asset_key.path)
        name = self.table_name(context.asset_key.path)
        exists = session.catalog.tableExists(f"{catalog}.{schema}.{table}")
        if not exists and self.create_schemas:
            session.sql(f"CREATE SCHEMA IF NOT EXISTS {quote(catalog)}.{quote(schema)}")

        metadata: dict[str, Any] = {"dagster/table_name": f"{catalog}.{schema}.{table}"}
        if context.has_asset_partitions:
            column = partition_column(context)
            start, end = window_dates(context)
            # Two actions read the rows (the window check, the write): cached, an asset's plan runs once.
            with cached(df) as rows:
                self._check_rows_in_window(context, rows, column, start, end)
                writer = rows.write.format("delta").mode("overwrite")
                if exists:
                    writer = writer.option("replaceWhere", replace_predicate(column, start, end, also_replaces(context)))
                writer.saveAsTable(name)
            metadata["partition_window"] = f"[{start}, {end})"
        else:
            df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(name)

        last_commit = session.sql(f"DESCRIBE HISTORY {name} LIMIT 1").collect()[0]
        metadata["delta_version"] = int(last_commit["version"])
        rows_written = (last_commit["operationMetrics"] or {}).get("numOutputRows")
        if rows_written is not None:
            metadata["dagster/row_count"] = int(rows_written)
        metadata["table"] = MetadataValue.text(f"{catalog}.{schema}.{table}")
        context.add_output_metadata(metadata)

    @staticmethod
    def _check_rows_in_window(context: OutputContext, df: "DataFrame", column: str, start, end) -> None:
        from pyspark.sql import functions as F

        if column not in df.columns:
            raise ValueError(f"asset {context.asset_key.to_user_string()} has no partition column {column!r}")
        stats = df.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count(F.col(column)).alias("non_null"),
            F.min(column).alias("low"),
            F.max(column).alias("high"),
        ).first()
        check_window_bounds(
            context, column, start, end, rows=stats["rows"], null_count=stats["rows"] - stats["non_null"],
            low=stats["low"], high=stats["high"],
        )

    # -- rows beyond an input's window, and maintenance (same contract as delta_io) ---------------------
    def read_rows(self, asset_key_path: list[str], columns: list[str], *, partition_column: str | None = None,
                  start=None, end=None, outside: bool = False):
        session = self.spark.get_session()
        catalog, schema, table = self.table_parts(asset_key_path)
        if not session.catalog.tableExists(f"{catalog}.{schema}.{table}"):
            return None
        df = session.table(self.table_name(asset_key_path))
        df = df.select(*[c for c in columns if c in df.columns])
        if partition_column is not None:
            inside = window_predicate(partition_column, start, end)
            df = df.where(f"NOT ({inside})" if outside else inside)
        return df.toArrow()

    def maintain_tables(self, retention_hours: int = DEFAULT_RETENTION_HOURS, log: Any = None) -> list[dict[str, Any]]:
        """OPTIMIZE and VACUUM ... RETAIN ``retention_hours`` HOURS every table of the catalog's platform schemas."""
        session = self.spark.get_session()
        reports = []
        for schema in STAGES:
            if not session.catalog.databaseExists(f"{self.catalog}.{schema}"):
                continue
            for row in session.sql(f"SHOW TABLES IN {quote(self.catalog)}.{quote(schema)}").collect():
                name = f"{quote(self.catalog)}.{quote(schema)}.{quote(row['tableName'])}"
                session.sql(f"OPTIMIZE {name}")
                session.sql(f"VACUUM {name} RETAIN {int(retention_hours)} HOURS")
                reports.append({"table": f"{schema}.{row['tableName']}"})
                if log is not None:
                    log.info(f"{name}: optimized, vacuumed (retain {retention_hours} h)")
        return reports

    # -- reading ---------------------------------------------------------------------------------
    def load_input(self, context: InputContext) -> Any:
        if context.has_asset_partitions and not context.asset_partition_keys:
            return None  # a mapping pointing before the first partition: nothing upstream, by definition
        session = self.spark.get_session()
        catalog, schema, table = self.table_parts(context.asset_key.path)
        if not session.catalog.tableExists(f"{catalog}.{schema}.{table}"):
            if (context.definition_metadata or {}).get(ALLOW_MISSING):
                return None
            raise FileNotFoundError(
                f"upstream table {catalog}.{schema}.{table} ({context.asset_key.to_user_string()}) does not exist: "
                "materialize it (for these partitions) first"
            )
        df = session.table(self.table_name(context.asset_key.path))
        if context.has_asset_partitions:
            start, end = window_dates(context)
            df = df.where(window_predicate(upstream_partition_column(context), start, end))
        wanted = requested_input_type(context)
        if wanted == "pandas":
            return df.toArrow().to_pandas()  # through Arrow: same dtypes as the local IO manager
        if wanted == "arrow":
            return df.toArrow()
        return df
