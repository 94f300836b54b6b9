"""A faster local event log for the Dagster instance of ``make demo`` / ``make athlete`` (named in its ``dagster.yaml``).

A single-run backfill over years of daily partitions records one ``ASSET_MATERIALIZATION`` per partition and
asset — the UI's record of every partition, kept in full — so a 12-year history writes tens of thousands of
events. Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every statement batch, which
throws away SQLAlchemy's compiled-statement cache (it lives on the engine), and commits each event with a
full ``fsync``: about 6–30 ms per event on this machine, most of a long backfill. This subclass changes only
that:

* one engine per database file (the most recently used :data:`MAX_OPEN_DATABASES`), so insert statements
  are compiled once (https://docs.sqlalchemy.org/en/20/core/connections.html#sql-compilation-caching),
  with a small pool of open connections: closing the last connection of a WAL database checkpoints it and
  deletes the WAL file (https://www.sqlite.org/wal.html#automatic_checkpoint), which the stock storage did
  after every event;
* "does this table exist" / "has the asset table these columns" (asked for every asset event) answered on
  the cached engine, a yes remembered;
* the per-partition events of a range run (materializations, and the planned materializations at its
  start: thousands in a row) written in one transaction per database when the next other event (or any
  read) arrives, instead of two commits each, with the asset's summary row updated once per batch:
  readers in this process always see them (every connection flushes first), other processes (``dagster
  dev``) as soon as the step's next event is stored.
* the planned check rows of a range run (one per check and partition) built from one serialization of the
  planned event and sent as one executemany (the stock code serializes the event again for every partition);
* ``PRAGMA synchronous=NORMAL`` on each connection: the databases are already in WAL mode, where NORMAL
  stays consistent and only the last transactions may roll back after a power loss (not a process crash)
  (https://www.sqlite.org/pragma.html#pragma_synchronous).

Same files, schema and layout as the stock storage: ``dagster dev`` and other Dagster tools read them as usual.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster_shared.serdes import serialize_value
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import QueuePool

#: Databases (the index and one per run) whose engine and open connections are kept.
MAX_OPEN_DATABASES = 16
#: The per-partition events of a range run: held, then written together.
BUFFERED_EVENT_TYPES = frozenset({DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_MATERIALIZATION_PLANNED})
#: Events held before they are written anyway.
MAX_BUFFERED_EVENTS = 2_000


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class FastSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one cached engine per database file and ``synchronous=NORMAL``."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()
        self._tables_seen: set[str] = set()
        self._asset_key_index_cols = False
        self._buffer: list[EventLogEntry] = []
        self._buffer_lock = threading.RLock()
        self._flushing = False
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> FastSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.engine.Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool,
            pool_size=2,
            max_overflow=8,
            # Pooled connections move between the threads that use the storage (one at a time: _db_lock).
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _relaxed_sync)
        self._engines[shard] = engine
        while len(self._engines) > MAX_OPEN_DATABASES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    # -- buffered materializations ------------------------------------------------------------------
    def store_event(self, event: EventLogEntry) -> None:
        if event.is_dagster_event and event.dagster_event_type in BUFFERED_EVENT_TYPES:
            with self._buffer_lock:
                if self._buffer and self._buffer[0].run_id != event.run_id:
                    self.flush()
                self._buffer.append(event)
                if len(self._buffer) >= MAX_BUFFERED_EVENTS:
                    self.flush()
            return
        self.flush()
        super().store_event(event)

    def flush(self) -> None:
        """Write the held materializations: what ``store_event`` does for each, one transaction per database."""
        with self._buffer_lock:
            if not self._buffer or self._flushing:
                return
            events, self._buffer = self._buffer, []
            self._flushing = True
            try:
                rows = [self._event_to_row(event) for event in events]
                with self.run_connection(events[0].run_id) as conn:
                    conn.execute(SqlEventLogStorageTable.insert(), rows)
                with self.index_transaction() as conn:
                    ids = self._insert_index_rows(conn, rows)
                    self._store_asset_event_tags(conn, events, ids)
                    # Each event overwrites fields of its asset's row (a materialization: last materialization, run
                    # and time; a planned one: run and time), so the last event of each kind per asset, applied
                    # in order, leaves the row as applying all of them would.
                    last = {(e.dagster_event.asset_key, e.dagster_event_type): (i, e) for e, i in zip(events, ids)}
                    for event_id, event in sorted(last.values(), key=lambda pair: pair[0]):
                        self._store_asset_event(conn, event, event_id)
            finally:
                self._flushing = False

    @staticmethod
    def _insert_index_rows(conn: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` into the index's event table in one statement; their storage ids, in order.

        One transaction holds SQLite's write lock, so the ``AUTOINCREMENT`` ids of one multi-row insert are
        consecutive after the previous maximum; this is verified (count of this batch's rows in that id range),
        and when it does not hold the rows are inserted one by one with their own ids.
        """
        table = SqlEventLogStorageTable
        before = conn.execute(db.select(db.func.max(table.c.id))).scalar() or 0
        conn.execute(table.insert(), rows)
        after = conn.execute(db.select(db.func.max(table.c.id))).scalar() or 0
        ids = list(range(before + 1, after + 1))
        counted = conn.execute(
            db.select(db.func.count()).select_from(table).where(table.c.id > before, table.c.id <= after)
        ).scalar()
        if len(ids) == len(rows) == counted:
            return ids
        conn.execute(table.delete().where(table.c.id > before, table.c.id <= after))
        return [conn.execute(table.insert().values(**row)).inserted_primary_key[0] for row in rows]

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """As the stock storage (one PLANNED row per partition of a range), with the event serialized once
        and the rows sent as one executemany instead of a statement with thousands of VALUES tuples."""
        planned = event.dagster_event.event_specific_data
        keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        common = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=event.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=serialize_value(event),
            evaluation_event_timestamp=self._event_insert_timestamp(event),
            evaluation_event_storage_id=event_id,
        )
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [dict(common, partition=key) for key in keys])

    def _has_asset_key_index_cols_on_connection(self, conn: Any) -> bool:
        if not self._asset_key_index_cols:
            self._asset_key_index_cols = super()._has_asset_key_index_cols_on_connection(conn)
        return self._asset_key_index_cols

    def has_table(self, table_name: str) -> bool:
        """Asked before every asset event (the stock storage builds an engine to answer): a table, once
        there, stays, so a yes is remembered."""
        if table_name in self._tables_seen:
            return True
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            exists = bool(engine.dialect.has_table(conn, table_name))
        if exists:
            self._tables_seen.add(table_name)
        return exists

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        if self._buffer and not self._flushing:
            self.flush()  # whoever reads or writes next sees every event stored so far
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def dispose(self) -> None:
        self.flush()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()
