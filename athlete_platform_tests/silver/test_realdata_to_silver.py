"""Every real export and API payload in ../shared/realdata reaches silver: no crash, and every record is
either a silver row, a superseded duplicate, or a quarantine row whose reason names the field."""

import datetime as dt

import pandas as pd
import pytest
from deltalake import DeltaTable

from athlete_platform.ingest.assets import raw_activities
from athlete_platform.resources.strava_api import StravaApiSource
from athlete_platform.resources.strava_export import StravaExportSource
from athlete_platform.silver.assets import silver_activities
from athlete_platform_tests.support.runs import local_test_resources, materialize_window
from athlete_platform_tests.support.strava_server import StravaFakeServer, load_real_payloads

pytestmark = pytest.mark.spark


def ingest(root, spark_resource, source, first: str, last: str) -> dict[str, pd.DataFrame]:
    resources = local_test_resources(root, spark_resource, activity_source=source)
    materialize_window([raw_activities, silver_activities], resources, first, last)
    return {
        name: DeltaTable(str(root.joinpath(*path))).to_pandas()
        for name, path in {
            "bronze": ("bronze", "raw_activities"),
            "silver": ("silver", "activities"),
            "quarantine": ("silver", "quarantine"),
            "profiles": ("silver", "activity_hr_profiles"),
        }.items()
    }


def assert_every_record_accounted_for(tables: dict[str, pd.DataFrame], label: str) -> None:
    bronze, silver, quarantine = tables["bronze"], tables["silver"], tables["quarantine"]
    distinct_accepted_ids = set(bronze["activity_id"].dropna()) - set(quarantine["activity_id"].dropna())
    assert set(silver["activity_id"]) == distinct_accepted_ids
    assert len(silver) + len(quarantine) + (len(bronze) - len(quarantine) - len(silver)) == len(bronze)
    assert silver["activity_id"].is_unique
    assert (quarantine["reason"].str.len() > 0).all() and (quarantine["reject_fields"].str.len() > 0).all()
    reasons = quarantine["reject_fields"].value_counts().to_dict()
    print(f"\n{label}: bronze {len(bronze)}, silver {len(silver)}, quarantine {len(quarantine)} {reasons}, "
          f"hr profiles {len(tables['profiles'])}, sports {silver['sport'].value_counts().to_dict()}")


@pytest.mark.parametrize(
    ("file_name", "rows", "runs"),
    [("aakashb_activities.csv", 610, 439), ("slalom007_activities.csv", 242, 219)],
)
def test_real_bulk_exports_reach_silver(tmp_path, spark_resource, realdata, file_name, rows, runs):
    source = StravaExportSource(export_path=str(realdata / file_name), athlete_id=1, timezone="UTC")
    tables = ingest(tmp_path, spark_resource, source, "2015-01-01", "2025-12-31")
    assert len(tables["bronze"]) == rows
    assert_every_record_accounted_for(tables, file_name)
    silver_runs = tables["silver"]["sport"].isin(["run", "trail_run", "treadmill_run"]).sum()
    quarantined_runs = tables["quarantine"]["payload"].str.contains('"sport_type": "Run"').sum()
    assert silver_runs + quarantined_runs >= runs * 0.99


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
        # All 390 summaries over six years (details for every run would take 340 rate-limited requests) ...
        tables = ingest(tmp_path, spark_resource, StravaApiSource(**credentials, fetch_details_for_runs=False),
                        "2017-01-01", "2023-12-31")
        # ... then the race day and the trail-run day again with details and streams: the re-run replaces them.
        detailed = StravaApiSource(**credentials)
        ingest(tmp_path, spark_resource, detailed, "2022-09-18", "2022-09-18")
        tables = ingest(tmp_path, spark_resource, detailed, trail_day, trail_day)
    assert len(tables["bronze"]) == len(real.summaries)
    assert_every_record_accounted_for(tables, "strava api (deroffal + endani)")
    profiles = tables["profiles"].set_index("activity_id")
    assert profiles.loc[9247175034, "hr_source"] == "stream"  # the trail run's real HR stream
    assert 7826768400 in profiles.index  # the race's HR (the loopback server generates its stream)
    race = tables["silver"].set_index("activity_id").loc[7826768400]
    assert race["workout_type"] == 1 and race["activity_date"] == dt.date(2022, 9, 18)
