"""Every real export and API payload in ../shared/realdata reaches silver, over its whole history: the windows
``ingest.assets.history_windows`` gives (the first partition, which asks the source for everything before it and
for undated records, then the earliest to the latest activity). Every input record is a silver row, a superseded
duplicate, or a quarantine row whose reason names the field — rows in = silver + quarantined + superseded, in the
metadata, the check and the tables.

Run with ``-s`` to print the per-file accounting."""

import csv
import datetime as dt
import json
import re
import zipfile

import pytest
from deltalake import DeltaTable

from athlete_platform.ingest.assets import history_windows, partition_dates, raw_activities
from athlete_platform.partitions import FIRST_DAY
from athlete_platform.resources.strava_api import StravaApiSource
from athlete_platform.resources.strava_export import StravaExportSource
from athlete_platform.asset_keys import SILVER_ACTIVITIES
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.support.runs import check_results, local_test_resources, materialize_window
from athlete_platform_tests.support.strava_server import StravaFakeServer, load_real_payloads

pytestmark = pytest.mark.spark

CSV_EXPORTS = ["aakashb_activities.csv", "garethharcombe_activities.csv", "michaeldik_activities.csv",
               "slalom007_activities.csv"]
RUN_SPORTS = ["run", "trail_run", "treadmill_run"]


def ingest(root, spark_resource, source, first: str | None = None, last: str | None = None):
    """One run per window: the given one, or the source's whole history (``history_windows``)."""
    resources = local_test_resources(root, spark_resource, activity_source=source)
    if first is None:
        fetched = source.fetch(FIRST_DAY, dt.date(2100, 1, 1), include_earlier=True)
        windows = [(a.isoformat(), b.isoformat()) for a, b in history_windows(partition_dates(fetched))]
    else:
        windows = [(first, last)]
    results = [materialize_window([raw_activities, silver_activities], resources, a, b) for a, b in windows]
    tables = {
        name: DeltaTable(str(root.joinpath(*path))).to_pandas()
        for name, path in {
            "bronze": ("ingest", "raw_activities"),
            "silver": ("silver", "activities"),
            "quarantine": ("silver", "quarantine"),
            "profiles": ("silver", "activity_hr_profiles"),
        }.items()
    }
    return results, tables


def silver_metadata(results) -> dict:
    """The accounting metadata of silver/activities summed over the runs (a range run repeats it per partition)."""
    totals: dict = {}
    for result in results:
        [materialization] = [m for m in result.asset_materializations_for_node("silver_activities")
                             if m.asset_key == SILVER_ACTIVITIES][-1:]
        for key in ("rows_in", "accepted", "rejected", "duplicates_superseded", "unaccounted"):
            totals[key] = totals.get(key, 0) + materialization.metadata[key].value
    return totals


def assert_every_record_accounted_for(results, tables, rows_in: int, label: str) -> dict:
    """rows_in (counted from the file, not by the platform) = silver + quarantined + superseded, everywhere."""
    bronze, silver, quarantine = tables["bronze"], tables["silver"], tables["quarantine"]
    assert len(bronze) == rows_in
    superseded = len(bronze) - len(silver) - len(quarantine)
    accepted_ids = bronze.loc[bronze["quarantine_reason"].isna(), "activity_id"]
    # superseded rows are exactly the extra versions of ids that silver holds once
    assert superseded >= 0 and set(silver["activity_id"]) <= set(accepted_ids)
    assert silver["activity_id"].is_unique
    assert (quarantine["reason"].str.len() > 0).all() and (quarantine["reject_fields"].str.len() > 0).all()
    assert all(reason.startswith(fields.split(",")[0] + ":")
               for reason, fields in zip(quarantine["reason"], quarantine["reject_fields"]))
    metadata = silver_metadata(results)
    assert (metadata["rows_in"], metadata["accepted"], metadata["rejected"], metadata["duplicates_superseded"],
            metadata["unaccounted"]) == (rows_in, len(silver), len(quarantine), superseded, 0)
    assert all(check_results(result)["every_record_accounted_for"].passed for result in results)
    by_field = quarantine["reject_fields"].value_counts().to_dict()
    print(f"\n{label}: rows in {rows_in} = silver {len(silver)} + quarantined {len(quarantine)} {by_field} "
          f"+ superseded {superseded}; hr profiles {len(tables['profiles'])}, "
          f"runs {int(silver['sport'].isin(RUN_SPORTS).sum())}")
    return metadata


def csv_rows(path) -> list[list[str]]:
    """The file's data rows as the csv module reads them (blank lines are not records)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [row for row in reader if any(cell.strip() for cell in row)]


@pytest.mark.parametrize("file_name", CSV_EXPORTS)
def test_real_bulk_exports_reach_silver(tmp_path, spark_resource, realdata, file_name):
    path = realdata / file_name
    rows = csv_rows(path)
    source = StravaExportSource(export_path=str(path), timezone="UTC")  # no athlete id: a derived one
    results, tables = ingest(tmp_path, spark_resource, source)
    assert_every_record_accounted_for(results, tables, len(rows), file_name)
    assert tables["bronze"]["athlete_id"].nunique() == 1
    header = next(csv.reader(path.open(encoding="utf-8-sig")))
    type_column = header.index("Activity Type")
    runs = sum(row[type_column] in ("Run", "Trail Run", "Virtual Run") for row in rows)
    silver_runs = tables["silver"]["sport"].isin(RUN_SPORTS).sum()
    quarantined_runs = tables["quarantine"]["payload"].str.contains('"type": "Run"').sum()
    assert silver_runs + quarantined_runs == runs


def test_real_api_payloads_reach_silver(tmp_path, spark_resource, realdata):
    real = load_real_payloads(realdata)
    trail_day = real.details[9247175034]["start_date_local"][:10]
    with StravaFakeServer(summaries=real.summaries, details=real.details, streams=real.streams) as server:
        credentials = dict(
            client_id=server.state.client_id,
            client_secret=server.state.client_secret,
            refresh_token=server.state.refresh_token,
            base_url=server.base_url,
        )
        # The whole history (details for every run would take 340 rate-limited requests) ...
        results, tables = ingest(tmp_path, spark_resource, StravaApiSource(**credentials, fetch_details_for_runs=False))
        assert_every_record_accounted_for(results, tables, len(real.summaries),
                                          "deroffal_summary_activities.json + endani_detailed_trailrun (API summaries)")
        # ... then the race day and the trail-run day again with details and streams: the re-run replaces them.
        detailed = StravaApiSource(**credentials)
        ingest(tmp_path, spark_resource, detailed, "2022-09-18", "2022-09-18")
        results, tables = ingest(tmp_path, spark_resource, detailed, trail_day, trail_day)
    assert len(tables["bronze"]) == len(real.summaries)
    profiles = tables["profiles"].set_index("activity_id")
    assert profiles.loc[9247175034, "hr_source"] == "stream"  # the trail run's real HR stream
    assert 7826768400 in profiles.index  # the race's HR (the loopback server generates its stream)
    race = tables["silver"].set_index("activity_id").loc[7826768400]
    assert race["workout_type"] == 1 and race["activity_date"] == dt.date(2022, 9, 18)
    day_tables = {name: table[table["activity_date"] == dt.date.fromisoformat(trail_day)] for name, table in tables.items()}
    assert_every_record_accounted_for(results, day_tables, len(day_tables["bronze"]),
                                      "endani_detailed_trailrun + endani_streams (detail and streams, its day)")


def test_real_gpx_in_an_export_reaches_silver_with_its_hr_stream(tmp_path, spark_resource, realdata):
    gpx = (realdata / "azaidrahman_run_9549320496.gpx").read_bytes()
    first_time = re.search(rb"<trkpt[^>]*>.*?<time>([^<]+)</time>", gpx, re.S).group(1).decode()
    start = dt.datetime.fromisoformat(first_time.replace("Z", "+00:00"))
    header = ["Activity ID", "Activity Date", "Activity Type", "Elapsed Time", "Distance", "Filename",
              "Elapsed Time", "Moving Time", "Distance", "Average Heart Rate"]
    row = ["9549320496", start.strftime("%b %d, %Y, %I:%M:%S %p"), "Run", "2400", "6.6", "activities/9549320496.gpx",
           "2400", "2300", "6600", "150"]
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("activities.csv", ",".join(header) + "\n" + ",".join(f'"{c}"' for c in row) + "\n")
        archive.writestr("activities/9549320496.gpx", gpx)
    source = StravaExportSource(export_path=str(tmp_path / "export.zip"), timezone="UTC")
    results, tables = ingest(tmp_path / "delta", spark_resource, source)
    assert_every_record_accounted_for(results, tables, 1, "azaidrahman_run_9549320496.gpx (in a one-row export)")
    (profile,) = tables["profiles"].itertuples()
    assert profile.hr_source == "stream" and sum(profile.seconds) > 0
    assert json.loads(tables["bronze"]["streams"].iloc[0])["heartrate"]["original_size"] == 3109
