"""StravaApiSource against a real HTTP server on loopback (no HTTP mocks)."""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import time
from collections.abc import Iterator

import pytest
from dagster import EnvVar, asset, materialize

from athlete_platform.resources.bindings import activity_source
from athlete_platform.resources.strava_api import StravaApiError, StravaApiSource, StravaRateLimitError
from athlete_platform.settings import load_settings
from athlete_platform_tests.support.strava_server import (
    StravaFakeServer,
    load_real_payloads,
    make_summary,
)
from athlete_platform_tests.support.paths import REALDATA

needs_realdata = pytest.mark.skipif(
    not REALDATA.is_dir(), reason=f"real Strava data not available at {REALDATA} (../shared/realdata)"
)
UTC = dt.timezone.utc


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def _epoch(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


class Recorder:
    """Injected sleep: records waits instead of sleeping; optionally advances a fake clock."""

    def __init__(self, clock: list[float] | None = None, on_sleep: object = None) -> None:
        self.waits: list[float] = []
        self.clock = clock
        self.on_sleep = on_sleep

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock[0] += seconds
        if callable(self.on_sleep):
            self.on_sleep()


def _source(server: StravaFakeServer, **overrides: object) -> StravaApiSource:
    fields: dict[str, object] = {
        "client_id": server.state.client_id,
        "client_secret": server.state.client_secret,
        "refresh_token": server.state.refresh_token,
        "base_url": server.base_url,
    }
    fields.update(overrides)
    return StravaApiSource(**fields)  # type: ignore[arg-type]


@pytest.fixture
def week_of_runs() -> list[dict[str, object]]:
    """12 activities, 12 h apart from 2024-03-01 08:00Z; odd ids are runs, even ids rides."""
    return [
        make_summary(i, _utc(2024, 3, 1, 8) + dt.timedelta(hours=12 * (i - 1)), sport_type="Run" if i % 2 else "Ride")
        for i in range(1, 13)
    ]


@pytest.fixture
def server(week_of_runs: list[dict[str, object]]) -> Iterator[StravaFakeServer]:
    with StravaFakeServer(summaries=week_of_runs) as srv:
        yield srv


def test_paginates_across_pages(server: StravaFakeServer) -> None:
    source = _source(server, page_size=5, fetch_details_for_runs=False)
    result = source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))

    assert sorted(r.activity["id"] for r in result.records) == list(range(1, 13))
    pages = server.activity_pages()
    assert [(p.query["page"], p.query["per_page"]) for p in pages] == [("1", "5"), ("2", "5"), ("3", "5")]
    assert len(server.token_requests()) == 1  # refreshed at first use only
    assert all(r.source == "strava_api" and r.athlete_id == 4242 and r.streams is None for r in result.records)
    assert result.unplaceable == []


def test_exact_page_multiple_stops_on_empty_page(server: StravaFakeServer) -> None:
    result = _source(server, page_size=6, fetch_details_for_runs=False).fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    assert len(result.records) == 12
    assert [p.query["page"] for p in server.activity_pages()] == ["1", "2", "3"]  # page 3 is empty


def test_window_is_padded_and_filtered_on_local_date() -> None:
    activities = [
        # 23:30Z on the 10th, +02:00 -> local 11th 01:30: inside [11th, 12th)
        make_summary(1, _utc(2024, 3, 10, 23, 30), utc_offset_s=2 * 3600),
        # 22:30Z on the 11th, +02:00 -> local 12th: outside
        make_summary(2, _utc(2024, 3, 11, 22, 30), utc_offset_s=2 * 3600),
        # 03:00Z on the 11th, -05:00 -> local 10th: outside
        make_summary(3, _utc(2024, 3, 11, 3, 0), utc_offset_s=-5 * 3600),
        # 12:00Z on the 11th, UTC: inside
        make_summary(4, _utc(2024, 3, 11, 12, 0)),
        # far outside the padded window: never returned by the server
        make_summary(5, _utc(2024, 2, 1, 12, 0)),
    ]
    with StravaFakeServer(summaries=activities) as srv:
        result = _source(srv, fetch_details_for_runs=False).fetch(dt.date(2024, 3, 11), dt.date(2024, 3, 12))
        (page,) = srv.activity_pages()

    assert int(page.query["after"]) == _epoch(dt.date(2024, 3, 10))
    assert int(page.query["before"]) == _epoch(dt.date(2024, 3, 13))
    assert sorted(r.activity["id"] for r in result.records) == [1, 4]
    assert {r.activity_date for r in result.records} == {dt.date(2024, 3, 11)}


def test_429_with_retry_after_then_success(server: StravaFakeServer) -> None:
    sleep = Recorder()
    server.fail_next(2, status=429, retry_after=7)
    source = _source(server, fetch_details_for_runs=False).use_timing(sleep=sleep)

    result = source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))

    assert len(result.records) == 12
    assert sleep.waits == [7.0, 7.0]
    statuses = [r.status for r in server.seen("/api/v3/athlete/activities")]
    assert statuses == [429, 429, 200]


def test_429_without_retry_after_waits_for_next_quarter_hour(server: StravaFakeServer) -> None:
    # The server enforces a 15-minute quota of 3 that is already used up; the fake sleep advances
    # the fake clock and starts a new window on the server.
    server.state.enforce_limits = True
    server.state.short_limit = 3
    server.state.short_usage = 3
    clock = [float(_epoch(dt.date(2024, 3, 20)) + 14 * 60 + 10)]  # 00:14:10 UTC -> boundary in 50 s
    sleep = Recorder(clock, on_sleep=server.reset_short_window)
    source = _source(server, page_size=2, fetch_details_for_runs=False).use_timing(sleep=sleep, clock=lambda: clock[0])

    result = source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))

    assert len(result.records) == 12
    # 429 -> wait to 00:15:00; then usage 3/3 after every third page -> wait a whole window
    # before the next request instead of provoking another 429.
    assert sleep.waits == [50.0, 900.0, 900.0]
    statuses = [r.status for r in server.seen("/api/v3/athlete/activities")]
    assert statuses == [429] + [200] * 7  # 6 full pages of 2 + the empty 7th


def test_429_beyond_max_wait_raises_clear_error(server: StravaFakeServer) -> None:
    server.fail_next(1, status=429, retry_after=3600)
    source = _source(server, max_rate_limit_wait_s=600).use_timing(sleep=Recorder())
    with pytest.raises(StravaRateLimitError) as info:
        source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    message = str(info.value)
    assert "GET /api/v3/athlete/activities" in message and "3600" in message and "max_rate_limit_wait_s" in message


def test_retries_exhausted_names_endpoint_and_status(server: StravaFakeServer) -> None:
    server.fail_next(3, status=429, retry_after=1)
    sleep = Recorder()
    source = _source(server, max_retries=2).use_timing(sleep=sleep)
    with pytest.raises(StravaRateLimitError, match=r"GET /api/v3/athlete/activities failed with HTTP 429"):
        source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    assert sleep.waits == [1.0, 1.0]


def test_server_error_is_retried(server: StravaFakeServer) -> None:
    server.fail_next(1, status=503)
    sleep = Recorder()
    result = _source(server, fetch_details_for_runs=False).use_timing(sleep=sleep).fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    assert len(result.records) == 12 and sleep.waits == [1.0]


def test_token_refreshed_when_expired(server: StravaFakeServer) -> None:
    server.state.rotate_refresh_token = True
    server.state.token_lifetime_s = 3600
    clock = [time.time()]
    source = _source(server, page_size=5, fetch_details_for_runs=False).use_timing(sleep=Recorder(), clock=lambda: clock[0])
    original = server.handle

    def handle_and_advance(*args: object, **kwargs: object) -> object:
        out = original(*args, **kwargs)  # type: ignore[arg-type]
        if args[1] == "/api/v3/athlete/activities" and args[2].get("page") == "1":  # type: ignore[union-attr]
            clock[0] = time.time() + 2 * 3600  # two hours later: the first token has expired
            server.state.token_lifetime_s = 6 * 3600
        return out

    server.handle = handle_and_advance  # type: ignore[method-assign]
    result = source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))

    assert len(result.records) == 12
    tokens = server.token_requests()
    assert len(tokens) == 2  # at first use, then once the clock passed expiry
    assert tokens[1].form["refresh_token"] == server.state.issued_refresh_tokens[0]  # the rotated one
    first, second = server.state.issued_access_tokens
    auths = [p.authorization for p in server.activity_pages()]
    assert auths == [f"Bearer {first}", f"Bearer {second}", f"Bearer {second}"]


def test_revoked_token_is_refreshed_once_on_401(server: StravaFakeServer) -> None:
    source = _source(server, page_size=5, fetch_details_for_runs=False)
    original = server.handle

    def revoke_after_first_page(*args: object, **kwargs: object) -> object:
        out = original(*args, **kwargs)  # type: ignore[arg-type]
        if args[1] == "/api/v3/athlete/activities" and args[2].get("page") == "1":  # type: ignore[union-attr]
            server.revoke_access_tokens()
        return out

    server.handle = revoke_after_first_page  # type: ignore[method-assign]
    result = source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    assert len(result.records) == 12
    assert len(server.token_requests()) == 2
    assert [r.status for r in server.seen("/api/v3/athlete/activities")] == [200, 401, 200, 200]


def test_secrets_never_in_logs_or_errors(
    server: StravaFakeServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, stravalib's and urllib3's included
    server.state.rotate_refresh_token = True
    server.fail_next(1, status=429, retry_after=1)
    source = _source(server).use_timing(sleep=Recorder())
    source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))

    # A failing call too: the server stops accepting the refresh token.
    bad = _source(server, refresh_token="not-the-right-refresh-token-xyz")
    with pytest.raises(StravaApiError) as info:
        bad.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    error_text = f"{info.value!s} {info.value!r}"
    assert "POST /oauth/token" in error_text and "400" in error_text

    out, err = capsys.readouterr()
    secrets = [
        server.state.client_secret,
        "test-refresh-token-abcdefghij",
        "not-the-right-refresh-token-xyz",
        *server.state.issued_access_tokens,
        *server.state.issued_refresh_tokens,
    ]
    assert len(secrets) >= 5
    haystacks = {"logs": caplog.text, "stdout": out, "stderr": err, "error": error_text, "repr": repr(source) + str(source)}
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"
    assert "oauth/token" in caplog.text  # the logs were captured at all


def test_bad_client_secret_error_names_endpoint(server: StravaFakeServer) -> None:
    source = _source(server, client_secret="wrong-secret-wrong-secret")
    with pytest.raises(StravaApiError) as info:
        source.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    assert info.value.status == 401 and info.value.endpoint == "POST /oauth/token"
    assert "STRAVA_CLIENT_SECRET" in str(info.value) and "wrong-secret-wrong-secret" not in str(info.value)


def test_non_numeric_client_id_is_rejected_without_echo(server: StravaFakeServer) -> None:
    with pytest.raises(ValueError, match="numeric Strava application id") as info:
        _source(server, client_id="abc-secret-ish").fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 2))
    assert "abc-secret-ish" not in str(info.value)


def test_details_and_streams_for_runs_only() -> None:
    start = _utc(2024, 5, 4, 7)
    activities = [
        make_summary(10, start, sport_type="Run"),
        make_summary(11, start + dt.timedelta(hours=3), sport_type="Ride"),
        make_summary(12, start + dt.timedelta(hours=5), sport_type="TrailRun"),
        make_summary(13, start + dt.timedelta(hours=7), sport_type="Run", manual=True, average_heartrate=None),
        make_summary(14, start + dt.timedelta(hours=9), sport_type="WeightTraining"),
    ]
    with StravaFakeServer(summaries=activities) as srv:
        result = _source(srv).fetch(dt.date(2024, 5, 4), dt.date(2024, 5, 5))
        detail_ids = sorted(int(r.path.split("/")[4]) for r in srv.requests if r.path.count("/") == 4 and "/activities/" in r.path)
        stream_requests = [r for r in srv.requests if r.path.endswith("/streams")]

    by_id = {r.activity["id"]: r for r in result.records}
    assert sorted(by_id) == [10, 11, 12, 13, 14]
    assert detail_ids == [10, 12, 13]
    assert sorted(int(r.path.split("/")[4]) for r in stream_requests) == [10, 12]  # manual run: no streams
    assert all(r.query == {"keys": "time,heartrate,distance", "key_by_type": "true"} for r in stream_requests)
    assert "splits_metric" in by_id[10].activity and "splits_metric" not in by_id[11].activity
    assert set(by_id[10].streams or {}) == {"time", "distance", "heartrate"}
    assert by_id[11].streams is None and by_id[13].streams is None and by_id[14].streams is None


def test_configured_athlete_id_mismatch_is_unplaceable(server: StravaFakeServer) -> None:
    result = _source(server, athlete_id=999, fetch_details_for_runs=False).fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    assert result.records == [] and len(result.unplaceable) == 12
    first = result.unplaceable[0]
    assert first.field == "athlete.id" and "999" in first.reason and first.reference == "activity 1"
    assert first.athlete_id == 4242 and first.activity_id == 1 and first.activity_date == dt.date(2024, 3, 1)
    assert first.raw["id"] == 1  # the payload as received


def test_unparseable_local_date_is_unplaceable_under_its_utc_date() -> None:
    activity = make_summary(21, _utc(2024, 3, 11, 12))
    activity["start_date_local"] = "garbage"
    with StravaFakeServer(summaries=[activity]) as srv:
        result = _source(srv, fetch_details_for_runs=False).fetch(dt.date(2024, 3, 11), dt.date(2024, 3, 12))
    assert result.records == []
    (bad,) = result.unplaceable
    assert bad.reference == "activity 21" and bad.field == "start_date_local" and "'garbage'" in bad.reason
    assert bad.activity_date == dt.date(2024, 3, 11) and bad.raw == activity


def test_include_earlier_lists_the_whole_history_and_skips_details_before_the_window() -> None:
    activities = [
        make_summary(31, _utc(2008, 6, 1, 9)),  # a run before the first partition
        make_summary(32, _utc(2009, 1, 1, 12)),  # a run on the first day
        make_summary(33, _utc(2024, 3, 11, 12)),  # after the window, undatable locally
    ]
    activities[2]["start_date_local"] = "garbage"
    with StravaFakeServer(summaries=activities) as srv:
        result = _source(srv).fetch(dt.date(2009, 1, 1), dt.date(2009, 1, 2), include_earlier=True)
        (page,) = srv.activity_pages()
        detail_paths = [r.path for r in srv.seen("/api/v3/activities/")]
    assert "after" not in page.query and "before" not in page.query
    assert [r.activity["id"] for r in result.records] == [32]
    assert [r.activity["id"] for r in result.earlier] == [31] and result.earlier[0].streams is None
    assert [u.activity_id for u in result.unplaceable] == [33]
    assert detail_paths and all("/31" not in path for path in detail_paths)  # details for the window's run only


@needs_realdata
def test_real_summary_payloads_pass_through_unchanged() -> None:
    real = load_real_payloads(REALDATA)
    deroffal = real.summaries[:-1]
    with StravaFakeServer(summaries=deroffal) as srv:
        result = _source(srv, fetch_details_for_runs=False).fetch(dt.date(2017, 1, 1), dt.date(2024, 1, 1))
        pages = srv.activity_pages()
    assert len(result.records) == 389 == len(deroffal)
    assert len(pages) == 2  # 200 + 189
    by_id = {a["id"]: a for a in deroffal}
    # Compare without letting pytest print personal fields on failure.
    changed = [r.activity["id"] for r in result.records if r.activity != by_id[r.activity["id"]]]
    assert changed == []  # the JSON exactly as served
    misdated = [r.activity["id"] for r in result.records if r.activity_date.isoformat() != r.activity["start_date_local"][:10]]
    assert misdated == []


@needs_realdata
def test_real_detail_and_streams() -> None:
    real = load_real_payloads(REALDATA)
    with StravaFakeServer(summaries=real.summaries, details=real.details, streams=real.streams) as srv:
        race = _source(srv).fetch(dt.date(2022, 9, 18), dt.date(2022, 9, 19))
        detail_requests = [r.path for r in srv.seen("/api/v3/activities/")]

    race_record = next(r for r in race.records if r.activity["id"] == 7826768400)
    assert "/api/v3/activities/7826768400" in detail_requests
    assert race_record.activity["workout_type"] == 1
    expected = real.details[7826768400]
    assert race_record.activity["splits_metric"] == expected["splits_metric"]
    assert race_record.activity["best_efforts"] == expected["best_efforts"]  # pr_rank etc. kept


@needs_realdata
def test_real_trail_run_streams_by_its_own_date() -> None:
    real = load_real_payloads(REALDATA)
    trail = real.details[9247175034]
    day = dt.date.fromisoformat(trail["start_date_local"][:10])
    with StravaFakeServer(summaries=[trail], details=real.details, streams=real.streams) as srv:
        result = _source(srv).fetch(day, day + dt.timedelta(days=1))
    (record,) = result.records
    assert record.athlete_id == trail["athlete"]["id"]
    assert record.streams is not None
    assert set(record.streams) == {"heartrate", "distance"}  # the real file has no time stream
    assert len(record.streams["heartrate"]["data"]) == 100


def test_env_var_binding_in_a_dagster_asset(server: StravaFakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bound with EnvVar as in production: the asset gets records and no secret reaches Dagster's
    event log."""
    monkeypatch.setenv("STRAVA_CLIENT_ID", server.state.client_id)
    monkeypatch.setenv("STRAVA_CLIENT_SECRET", server.state.client_secret)
    monkeypatch.setenv("STRAVA_REFRESH_TOKEN", server.state.refresh_token)

    @asset
    def strava_week(context, strava: StravaApiSource) -> int:  # type: ignore[no-untyped-def]
        return len(strava.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8), log=context.log).records)

    resource = StravaApiSource(
        client_id=EnvVar("STRAVA_CLIENT_ID"),
        client_secret=EnvVar("STRAVA_CLIENT_SECRET"),
        refresh_token=EnvVar("STRAVA_REFRESH_TOKEN"),
        base_url=server.base_url,
    )
    result = materialize([strava_week], resources={"strava": resource})

    assert result.success and result.output_for_node("strava_week") == 12
    events = " ".join(repr(event) for event in result.all_events)
    for secret in (server.state.client_secret, server.state.refresh_token, *server.state.issued_access_tokens):
        assert secret not in events


def test_api_options_from_the_environment_need_no_run_config(
    server: StravaFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STRAVA_API_BASE_URL / STRAVA_FETCH_DETAILS_FOR_RUNS set the options as definitions.py binds them: no run
    config (which would replace the bound config, secrets included) is needed to change them."""
    monkeypatch.setenv("STRAVA_CLIENT_ID", server.state.client_id)
    monkeypatch.setenv("STRAVA_CLIENT_SECRET", server.state.client_secret)
    monkeypatch.setenv("STRAVA_REFRESH_TOKEN", server.state.refresh_token)
    settings = load_settings({"ATHLETE_PLATFORM_SOURCE": "strava_api", "STRAVA_API_BASE_URL": server.base_url,
                              "STRAVA_FETCH_DETAILS_FOR_RUNS": "false"})

    @asset
    def strava_week(context, strava: StravaApiSource) -> int:  # type: ignore[no-untyped-def]
        return len(strava.fetch(dt.date(2024, 3, 1), dt.date(2024, 3, 8), log=context.log).records)

    result = materialize([strava_week], resources={"strava": activity_source(settings)})
    assert result.success and result.output_for_node("strava_week") == 12
    assert server.seen("/api/v3/activities/") == []  # no details: the environment said so
