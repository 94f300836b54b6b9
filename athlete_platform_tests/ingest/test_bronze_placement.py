"""bronze_table places every fetched record in exactly one partition (pure: no Spark, no Dagster run)."""

import datetime as dt
import json

import pyarrow as pa
import pytest

from athlete_platform.ingest.assets import (
    BRONZE_SCHEMA,
    bronze_table,
    first_arrivals,
    history_windows,
    partition_dates,
)
from athlete_platform.resources.sources import FetchResult, SourceRecord, UnplaceableRecord
from athlete_platform_tests.support.static_source import run_activity

FIRST = dt.date(2009, 1, 1)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def record(activity_id: int, day: str) -> SourceRecord:
    item = run_activity(activity_id, day)
    return SourceRecord("static", 1, dt.date.fromisoformat(day), item["activity"])


def undatable(reference: str, activity_date: dt.date | None) -> UnplaceableRecord:
    return UnplaceableRecord("static", reference, "Activity Date", "'32/13/2010' cannot be parsed",
                             raw={"Activity Date": "32/13/2010"}, athlete_id=1, activity_date=activity_date)


def fetched() -> FetchResult:
    return FetchResult(
        records=[record(3, "2009-01-01"), record(4, "2009-01-02")],
        earlier=[record(1, "1991-05-04"), record(2, "2008-12-31")],
        unplaceable=[undatable("row 7", None), undatable("row 8", dt.date(2009, 1, 2)),
                     undatable("row 9", dt.date(2001, 1, 1))],
    )


def test_first_partition_holds_earlier_and_undatable_records_with_their_reason():
    batch = bronze_table(fetched(), NOW, start=FIRST, end=dt.date(2009, 1, 3), first_day=FIRST)
    rows = batch.table.to_pylist()
    assert batch.table.schema == BRONZE_SCHEMA and len(rows) == 7
    by_id = {row["activity_id"]: row for row in rows if row["activity_id"]}
    assert by_id[1]["activity_date"] == FIRST and by_id[1]["quarantine_field"] == "activity_date"
    assert by_id[1]["quarantine_reason"] == (
        "1991-05-04 is before the first partition 2009-01-01 (set ATHLETE_PLATFORM_PARTITIONS_START earlier to analyse it)")
    assert json.loads(by_id[1]["payload"])["start_date_local"].startswith("1991-05-04")  # as received
    assert by_id[3]["quarantine_reason"] is None and by_id[4]["activity_date"] == dt.date(2009, 1, 2)
    problems = {row["quarantine_reason"].split("[")[1]: row for row in rows if row["quarantine_field"] == "Activity Date"}
    assert problems["row 7]"]["activity_date"] == FIRST and problems["row 9]"]["activity_date"] == FIRST
    assert problems["row 8]"]["activity_date"] == dt.date(2009, 1, 2)
    assert json.loads(problems["row 7]"]["payload"]) == {"Activity Date": "32/13/2010"}
    # arrival order per day, the same whether the day is fetched alone or in a range
    first_day_seqs = sorted(row["record_seq"] for row in rows if row["activity_date"] == FIRST)
    assert first_day_seqs == list(range(len(first_day_seqs)))
    assert (batch.in_window, batch.before_first_partition, len(batch.unplaceable), batch.unplaceable_elsewhere) == (2, 2, 3, 0)


def test_a_later_window_stores_only_the_unplaceable_records_of_its_own_days():
    result = fetched()
    later = FetchResult(records=[result.records[1]], unplaceable=result.unplaceable)
    batch = bronze_table(later, NOW, start=dt.date(2009, 1, 2), end=dt.date(2009, 1, 3), first_day=FIRST)
    assert [row["quarantine_reason"] for row in batch.table.to_pylist()][1:] == [
        "'32/13/2010' cannot be parsed [row 8]"]
    assert batch.unplaceable_elsewhere == 2  # rows 7 and 9 belong to the first partition
    # every record has one partition; a run over min..max of them accounts for all
    assert sorted(set(partition_dates(result, FIRST))) == [FIRST, dt.date(2009, 1, 2)]


def test_a_source_breaking_the_window_contract_is_refused():
    with pytest.raises(ValueError, match="dated 2009-01-02 for the window"):
        bronze_table(FetchResult(records=[record(4, "2009-01-02")]), NOW, start=FIRST, end=dt.date(2009, 1, 2),
                     first_day=FIRST)
    with pytest.raises(ValueError, match="first partition 2009-01-01 only"):
        bronze_table(FetchResult(earlier=[record(1, "1991-05-04")]), NOW, start=dt.date(2009, 1, 2),
                     end=dt.date(2009, 1, 3), first_day=FIRST)


def test_history_windows_run_the_first_partition_alone_when_the_history_starts_later():
    later = [dt.date(2022, 9, 30), dt.date(2025, 1, 8)]
    assert history_windows([FIRST, *later], FIRST) == [(FIRST, FIRST), (dt.date(2022, 9, 30), dt.date(2025, 1, 8))]
    assert history_windows(later, FIRST) == [(dt.date(2022, 9, 30), dt.date(2025, 1, 8))]
    assert history_windows([FIRST, dt.date(2009, 1, 2), dt.date(2010, 1, 1)], FIRST) == [(FIRST, dt.date(2010, 1, 1))]
    assert history_windows([FIRST, FIRST], FIRST) == [(FIRST, FIRST)] and history_windows([], FIRST) == []


def test_first_arrivals_keep_the_earliest_time_of_each_content_and_bronze_reuses_it():
    earlier, later = NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=1)
    previous = pa.table({
        "content_hash": ["a", "a", "b", "b", None, "c", "d"],
        "ingested_at": [later, earlier, None, later, earlier, None, later],
    }, schema=pa.schema([("content_hash", pa.string()), ("ingested_at", pa.timestamp("us", tz="UTC"))]))
    first = first_arrivals(previous)
    assert first == {"a": earlier, "b": later, "d": later}  # rows without a hash or a time say nothing
    assert first_arrivals(None) == {} and first_arrivals(previous.slice(0, 0)) == {}
    again = record(3, "2009-01-01")
    batch = bronze_table(FetchResult(records=[again, record(4, "2009-01-01")]), NOW, start=FIRST,
                         end=dt.date(2009, 1, 2), first_day=FIRST, first_seen={again.content_hash(): earlier})
    assert batch.table.column("ingested_at").to_pylist() == [earlier, NOW]
    assert batch.table.column("record_seq").to_pylist() == [0, 1]
