"""Platform settings from the environment: defaults, validation naming the variable, partitions built from them,
and the resource binding of the sources (secrets by EnvVar only, everything else a plain value)."""

import datetime as dt

import pytest
from dagster import PartitionKeyRange

from athlete_platform.partitions import FIRST_DAY, FIRST_WEEK, daily_partitions, first_monday_on_or_after, weekly_partitions
from athlete_platform.resources.bindings import activity_source, export_source_config
from athlete_platform.resources.environments import resources_for
from athlete_platform.settings import (
    DEFAULT_PARTITIONS_START,
    PlatformSettings,
    SettingsError,
    load_settings,
    settings_environment,
)


def test_defaults_cover_stravas_whole_life_and_leave_the_export_unset():
    settings = load_settings({})
    assert settings.partitions_start == DEFAULT_PARTITIONS_START == dt.date(2009, 1, 1)
    assert settings.export_timezone is None and settings.export_athlete_id is None and settings.export_path is None
    assert settings.strava_api_base_url == "https://www.strava.com" and settings.strava_fetch_details_for_runs


def test_every_user_setting_is_read_and_validated():
    settings = load_settings({
        "ATHLETE_PLATFORM_PARTITIONS_START": "1991-05-04",
        "STRAVA_EXPORT_PATH": "~/exports/strava.zip",
        "STRAVA_EXPORT_TIMEZONE": "Europe/Lisbon",
        "STRAVA_ATHLETE_ID": "123456",
        "STRAVA_API_BASE_URL": "http://127.0.0.1:8080/",
        "STRAVA_FETCH_DETAILS_FOR_RUNS": "no",
    })
    assert settings.partitions_start == dt.date(1991, 5, 4)
    assert settings.export_path.endswith("exports/strava.zip") and not settings.export_path.startswith("~")
    assert (settings.export_timezone, settings.export_athlete_id) == ("Europe/Lisbon", 123456)
    assert settings.strava_api_base_url == "http://127.0.0.1:8080" and settings.strava_fetch_details_for_runs is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ATHLETE_PLATFORM_PARTITIONS_START", "2009/01/01", "not an ISO date"),
        ("ATHLETE_PLATFORM_PARTITIONS_START", "1969-12-31", "between 1970-01-01"),
        # Far in the future, not "tomorrow" at collection time: a run that crosses midnight made that day today.
        ("ATHLETE_PLATFORM_PARTITIONS_START", "2999-12-31", "and today"),
        ("STRAVA_EXPORT_TIMEZONE", "GMT-3ish", "not an IANA time zone"),
        ("STRAVA_ATHLETE_ID", "me", "not a positive integer"),
        ("STRAVA_FETCH_DETAILS_FOR_RUNS", "maybe", "not a boolean"),
        ("STRAVA_API_BASE_URL", "www.strava.com", "http:// or https://"),
        ("ATHLETE_PLATFORM_SOURCE", "garmin", "not one of"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=message) as error:
        load_settings({name: value})
    assert name in str(error.value)


def test_partitions_start_on_the_configured_day_and_weeks_on_the_monday_after():
    assert daily_partitions.get_first_partition_key() == FIRST_DAY.isoformat()
    assert weekly_partitions.get_first_partition_key() == FIRST_WEEK.isoformat()
    assert FIRST_WEEK.weekday() == 0 and 0 <= (FIRST_WEEK - FIRST_DAY).days < 7
    assert [first_monday_on_or_after(dt.date(2009, 1, d)) for d in (1, 5, 6)] == [dt.date(2009, 1, 5)] * 2 + [
        dt.date(2009, 1, 12)]
    # the range: partitions from 2011 exist by default
    keys = daily_partitions.get_partition_keys_in_range(PartitionKeyRange("2011-09-14", "2011-09-20"))
    assert len(keys) == 7


def test_settings_round_trip_through_the_environment_they_export():
    settings = load_settings({"ATHLETE_PLATFORM_SOURCE": "strava_export", "STRAVA_EXPORT_PATH": "/data/export.zip",
                              "STRAVA_EXPORT_TIMEZONE": "Asia/Tokyo", "ATHLETE_PLATFORM_PARTITIONS_START": "2012-03-04",
                              "STRAVA_FETCH_DETAILS_FOR_RUNS": "false"})
    assert load_settings(settings_environment(settings)) == settings  # same home: both default
    assert "STRAVA_ATHLETE_ID" not in settings_environment(settings)  # unset stays unset


def test_export_source_is_bound_with_plain_values_and_unset_ones_left_out(tmp_path):
    settings = PlatformSettings(environment="local", home=tmp_path, source="strava_export",
                                export_path="/data/export.zip", export_timezone="Europe/Lisbon")
    source = activity_source(settings)
    assert (source.export_path, source.timezone, source.athlete_id) == ("/data/export.zip", "Europe/Lisbon", None)
    assert export_source_config(settings, "/inbox/new.zip") == {"export_path": "/inbox/new.zip", "timezone": "Europe/Lisbon"}


def test_api_source_binds_secrets_by_env_var_and_options_by_value(tmp_path):
    settings = PlatformSettings(environment="local", home=tmp_path, source="strava_api",
                                strava_api_base_url="http://127.0.0.1:9", strava_fetch_details_for_runs=False)
    source = activity_source(settings)
    assert source.base_url == "http://127.0.0.1:9" and source.fetch_details_for_runs is False
    # the secrets stay environment references, resolved at run time (never values in config)
    config = source.get_resource_definition().config_schema.default_value
    assert {name: config[name] for name in ("client_id", "client_secret", "refresh_token")} == {
        "client_id": {"env": "STRAVA_CLIENT_ID"}, "client_secret": {"env": "STRAVA_CLIENT_SECRET"},
        "refresh_token": {"env": "STRAVA_REFRESH_TOKEN"}}
    assert (config["base_url"], config["fetch_details_for_runs"]) == ("http://127.0.0.1:9", False)


def test_the_mlflow_ui_address_is_optional_and_must_be_http():
    assert load_settings({}).mlflow_ui_url is None
    assert load_settings({"ATHLETE_PLATFORM_MLFLOW_UI_URL": " http://localhost:5000/ "}).mlflow_ui_url == "http://localhost:5000"
    with pytest.raises(SettingsError, match="ATHLETE_PLATFORM_MLFLOW_UI_URL='localhost:5000' must start with http"):
        load_settings({"ATHLETE_PLATFORM_MLFLOW_UI_URL": "localhost:5000"})


def test_a_spark_connect_server_is_optional_must_be_an_sc_url_and_binds_the_local_spark_resource(tmp_path):
    assert load_settings({}).spark_remote is None
    settings = load_settings({"ATHLETE_PLATFORM_SPARK_REMOTE": " sc://127.0.0.1:15002 ", "ATHLETE_PLATFORM_HOME": str(tmp_path)})
    assert settings.spark_remote == "sc://127.0.0.1:15002"
    resources = resources_for(settings)
    assert resources["spark"].remote == "sc://127.0.0.1:15002"
    assert resources["io_manager"].spark.remote == "sc://127.0.0.1:15002"  # the IO manager's scans run there too
    assert resources_for(load_settings({"ATHLETE_PLATFORM_HOME": str(tmp_path)}))["spark"].remote is None
    for bad in ["http://127.0.0.1:15002", "127.0.0.1:15002", "sc://host:15002/path"]:
        with pytest.raises(SettingsError, match="ATHLETE_PLATFORM_SPARK_REMOTE=.* is not a Spark Connect URL"):
            load_settings({"ATHLETE_PLATFORM_SPARK_REMOTE": bad})
