"""The silver step's version order in pandas (before its write): the newest accepted version per id, and which
side wins against the rows other partitions hold, field by field (first arrival, then local date, then arrival
within the day)."""

import datetime as dt

import pandas as pd

from athlete_platform.silver.assets import compare_with_other_partitions, summarize_parse

T0 = pd.Timestamp("2025-03-01 06:00", tz="UTC")
D1, D2 = dt.date(2025, 3, 1), dt.date(2025, 3, 2)


def parsed(status, activity_id, ingested_at=T0, activity_date=D1, record_seq=0, reject_fields=None):
    return {"status": status, "reject_fields": reject_fields, "activity_id": activity_id,
            "athlete_id": None if activity_id is None else 1, "sport": "run", "ingested_at": ingested_at,
            "activity_date": activity_date, "record_seq": record_seq}


def test_summary_counts_rejections_by_field_and_keeps_the_newest_version_per_id():
    rows = pd.DataFrame([
        parsed("accepted", 1, record_seq=0), parsed("accepted", 1, record_seq=3),  # the later arrival of its day
        parsed("accepted", 2, ingested_at=T0 + pd.Timedelta(hours=1)), parsed("accepted", 2, activity_date=D2),
        parsed("rejected", None, reject_fields="distance"), parsed("rejected", 5, reject_fields="distance"),
        parsed("rejected", 6, reject_fields="Activity Date"),
    ])
    summary = summarize_parse(rows)
    assert summary.rejected == 3 and summary.rejected_by_field == {"distance": 2, "Activity Date": 1}
    assert summary.superseded_in_window == 2
    newest = summary.newest.set_index("activity_id")
    assert newest.loc[1, "record_seq"] == 3
    assert newest.loc[2, "ingested_at"] == T0 + pd.Timedelta(hours=1)  # first arrival before the later date
    assert summary.newest["activity_id"].dtype == "int64"


def test_other_partitions_newer_or_older_decide_by_the_first_differing_field():
    ours = pd.DataFrame([parsed("accepted", i, **fields) for i, fields in [
        (1, {}), (2, {"activity_date": D2}), (3, {"record_seq": 1}), (4, {})]])
    elsewhere = pd.DataFrame([
        {"activity_id": 1, "ingested_at": T0 + pd.Timedelta(minutes=1), "activity_date": D1, "record_seq": 0},  # newer
        {"activity_id": 2, "ingested_at": T0, "activity_date": D1, "record_seq": 9},  # older: an earlier date
        {"activity_id": 3, "ingested_at": T0, "activity_date": D1, "record_seq": 2},  # newer: a later arrival
        {"activity_id": 8, "ingested_at": T0, "activity_date": D1, "record_seq": 0},  # not in the window
        {"activity_id": 8, "ingested_at": T0, "activity_date": D2, "record_seq": 0},
    ])
    versions = compare_with_other_partitions(ours, elsewhere)
    assert versions.newer_elsewhere_ids == [1, 3]
    assert versions.older_elsewhere_ids == [2]  # deleted by the write
    assert sorted(versions.rest_of_table["activity_id"]) == [1, 3, 8, 8]
    none = compare_with_other_partitions(ours, None)
    assert (none.newer_elsewhere_ids, none.older_elsewhere_ids, len(none.rest_of_table)) == ([], [], 0)
