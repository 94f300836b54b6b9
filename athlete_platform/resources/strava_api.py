"""Activities from the Strava API v3, through stravalib.

What stravalib does here: the OAuth refresh-token exchange (``ApiV3.refresh_access_token``, POST
``/oauth/token`` with the secret and refresh token in the form body, never in the URL), the bearer
header, the automatic refresh when the access token has expired (``ApiV3.refresh_expired_token``),
mapping HTTP errors to ``stravalib.exc.Fault`` subclasses, and parsing the rate-limit headers
(``stravalib.util.limiter.get_rates_from_response_headers``).

Where this module goes around stravalib, and why:

* **Raw JSON instead of stravalib's models.** ``Client.get_activities`` / ``get_activity`` /
  ``get_activity_streams`` return pydantic models whose ``model_dump`` is not the payload Strava sent
  (measured with stravalib 2.6: ``start_date_local`` loses its ``Z``, ``best_efforts[].pr_rank`` and
  ``achievements`` and ``resource_state`` disappear). The records must carry the API JSON unchanged,
  so this module calls the same endpoints with the same parameters through the protocol layer
  (``ApiV3.get``), which returns the decoded JSON, and paginates itself (``page``/``per_page``).
* **base_url.** ``ApiV3`` hard-codes ``https://www.strava.com``; ``_StravaProtocol.resolve_url``
  maps every URL (the token endpoint included) onto ``base_url`` so tests can use loopback HTTP.
* **Credentials.** ``ApiV3`` reads the client id/secret from the process environment; here they come
  from the resource's config (bind them with ``EnvVar``), and ``_StravaProtocol`` never reads the
  environment.
* **Rate limits.** stravalib's ``DefaultRateLimiter`` sleeps with ``time.sleep`` (not injectable, up
  to a whole day) and does not retry a 429. Here a tracker records ``X-RateLimit-Limit`` /
  ``X-RateLimit-Usage`` from every response; before a request the source waits for the next
  15-minute window if the short-term quota is used up; on 429 it waits ``Retry-After`` (or until the
  next 15-minute boundary, or UTC midnight when the daily quota is used up) and retries, up to
  ``max_retries`` times and never longer than ``max_rate_limit_wait_s`` per wait.
* **Timeouts.** stravalib sends requests without a timeout; the requests session sets one.

Secrets (client secret, refresh token, access tokens) are never logged, never put in metadata, and
scrubbed from every error message this module raises. Rotated refresh tokens returned by Strava
are used for the rest of the fetch but not persisted (the configured one stays valid until used).
"""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import Field, PrivateAttr
from stravalib import exc as strava_exc
from stravalib.protocol import ApiV3, RequestMethod
from stravalib.util.limiter import RequestRate, get_rates_from_response_headers

from athlete_platform.resources.sources import (
    ActivitySource,
    FetchResult,
    SourceRecord,
    UnplaceableRecord,
)
from athlete_platform.settings import DEFAULT_API_BASE_URL

_LOG = logging.getLogger(__name__)

SOURCE_NAME = "strava_api"
RUN_SPORT_TYPES = frozenset({"Run", "TrailRun", "VirtualRun"})
STREAM_KEYS = "time,heartrate,distance"
TOKEN_REFRESH_MARGIN_S = 60.0  # refresh a little before expiry so a request never races it
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
_SHORT_WINDOW_S = 900  # Strava's short-term window: natural 15-minute blocks (UTC)


class StravaApiError(RuntimeError):
    """A Strava API request failed. The message names the endpoint and status, never a secret."""

    def __init__(self, message: str, *, endpoint: str, status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class StravaRateLimitError(StravaApiError):
    """The rate limit did not clear within the allowed wait or number of retries."""


class _RateLimitTracker:
    """stravalib rate-limiter callable that only records the latest usage (waiting is done by the
    source, with an injectable sleep)."""

    def __init__(self) -> None:
        self.latest: RequestRate | None = None

    def __call__(self, headers: Any, method: RequestMethod) -> None:
        try:
            rates = get_rates_from_response_headers(dict(headers), method)
        except (ValueError, IndexError):
            _LOG.debug("ignoring malformed Strava rate-limit headers")
            return
        if rates is not None:
            self.latest = rates


class _TimeoutSession(requests.Session):
    """requests session with a default timeout (stravalib passes none)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(method, url, *args, **kwargs)


class _StravaProtocol(ApiV3):
    """stravalib's ApiV3 with a configurable base URL, credentials from config rather than the
    environment, and an injectable clock for token expiry."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: int,
        client_secret: str,
        refresh_token: str,
        session: requests.Session,
        rate_limiter: Callable[[Any, RequestMethod], None],
        clock: Callable[[], float],
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._config_client_id = client_id
        self._config_client_secret = client_secret
        self._clock = clock
        super().__init__(requests_session=session, rate_limiter=rate_limiter, refresh_token=refresh_token)

    def _check_credentials(self) -> None:
        # ApiV3 reads STRAVA_CLIENT_ID/SECRET from os.environ and warns when absent; use config.
        self.client_id = self._config_client_id
        self.client_secret = self._config_client_secret

    def _token_expired(self) -> bool:
        if not self.access_token or self.token_expires is None:
            return True  # first use: exchange the refresh token
        return self._clock() >= self.token_expires - TOKEN_REFRESH_MARGIN_S

    def resolve_url(self, url: str) -> str:
        strava_root = f"https://{self.server}"
        if url.startswith(strava_root):
            return self._base_url + url[len(strava_root):]
        if url.startswith(("http://", "https://")):
            return url
        return f"{self._base_url}{self.api_base}/{url.strip('/')}"


class StravaApiSource(ActivitySource):
    """Activities of one athlete from the Strava API (see the module docstring for the details).

    Bind the credentials with ``EnvVar("STRAVA_CLIENT_ID")``, ``EnvVar("STRAVA_CLIENT_SECRET")``,
    ``EnvVar("STRAVA_REFRESH_TOKEN")`` so they never land in config files or run metadata.
    """

    client_id: str = Field(repr=False, description="Strava application id (numeric); use EnvVar.")
    client_secret: str = Field(repr=False, description="Strava application secret; use EnvVar.")
    refresh_token: str = Field(repr=False, description="OAuth refresh token of the athlete; use EnvVar.")
    athlete_id: int | None = Field(
        default=None, description="Athlete id for the records; None = take it from each activity."
    )
    base_url: str = Field(
        default=DEFAULT_API_BASE_URL, description="Scheme and host of the API (STRAVA_API_BASE_URL)."
    )
    fetch_details_for_runs: bool = Field(
        default=True,
        description="For runs, also fetch the DetailedActivity (splits) and HR streams (STRAVA_FETCH_DETAILS_FOR_RUNS).",
    )
    page_size: int = Field(default=200, description="per_page for /athlete/activities (1..200).")
    max_retries: int = Field(default=3, description="Retries per request after 429/5xx/connection errors.")
    max_rate_limit_wait_s: float = Field(
        default=900.0, description="Longest single wait for a rate limit to clear before giving up."
    )
    request_timeout_s: float = Field(default=30.0, description="Timeout of each HTTP request.")
    max_pages: int = Field(default=500, description="Safety bound on pages of /athlete/activities.")

    _sleep: Callable[[float], None] = PrivateAttr(default=time.sleep)
    _clock: Callable[[], float] = PrivateAttr(default=time.time)

    @property
    def source_name(self) -> str:
        return SOURCE_NAME

    def use_timing(
        self,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> StravaApiSource:
        """Replace the sleep and clock (for tests: record waits instead of sleeping, move time).
        Private state: applies to this instance when ``fetch`` is called on it directly, not to the
        copy Dagster builds from config at run time."""
        if sleep is not None:
            self._sleep = sleep
        if clock is not None:
            self._clock = clock
        return self

    def fetch(self, start: dt.date, end: dt.date, log: Any = None, *, include_earlier: bool = False) -> FetchResult:
        """Activities whose ``start_date_local`` date is in ``[start, end)``; runs get their
        DetailedActivity and HR streams when ``fetch_details_for_runs``.

        With ``include_earlier`` the whole activity list is read (no ``after``/``before``): every activity
        before ``start`` comes back in ``earlier`` (summary only: they are quarantined, not analysed), and
        every activity that cannot be dated is seen, wherever Strava files it."""
        if end <= start:
            raise ValueError(f"StravaApiSource.fetch: empty window [{start}, {end})")
        run = _FetchRun(self, log or _LOG)
        try:
            return run.fetch(start, end, include_earlier=include_earlier)
        finally:
            run.close()


class _FetchRun:
    """The state of one fetch: protocol client, rate-limit tracker, secrets to scrub."""

    def __init__(self, source: StravaApiSource, log: Any) -> None:
        self.source = source
        self.log = log
        if not 1 <= source.page_size <= 200:
            raise ValueError(f"StravaApiSource.page_size must be in 1..200, got {source.page_size}")
        if source.max_retries < 0:
            raise ValueError(f"StravaApiSource.max_retries must be >= 0, got {source.max_retries}")
        client_id_text = source.client_id.strip()
        if not client_id_text.isdigit():
            raise ValueError(
                "StravaApiSource.client_id must be the numeric Strava application id (STRAVA_CLIENT_ID)"
            )
        for name in ("client_secret", "refresh_token"):
            if not getattr(source, name).strip():
                raise ValueError(f"StravaApiSource.{name} is empty; bind it with EnvVar(...)")
        self.tracker = _RateLimitTracker()
        self.http = _TimeoutSession(source.request_timeout_s)
        self.api = _StravaProtocol(
            base_url=source.base_url,
            client_id=int(client_id_text),
            client_secret=source.client_secret,
            refresh_token=source.refresh_token,
            session=self.http,
            rate_limiter=self.tracker,
            clock=source._clock,
        )

    def close(self) -> None:
        self.http.close()

    # -- secrets ---------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        secrets = {self.source.client_secret, self.source.refresh_token, self.api.refresh_token, self.api.access_token}
        for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    # -- requests --------------------------------------------------------------------------------

    def _ensure_token(self) -> None:
        if not self.api._token_expired():
            return
        first = self.api.access_token is None
        self._call(
            "POST /oauth/token",
            lambda: self.api.refresh_access_token(
                client_id=self.api._config_client_id,
                client_secret=self.api._config_client_secret,
                refresh_token=self.api.refresh_token or self.source.refresh_token,
            ),
        )
        self.log.info("Strava API: access token %s", "obtained" if first else "refreshed (expired)")

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path (relative to /api/v3) with token refresh, rate limiting and retries."""
        endpoint = f"GET /api/v3{path}"
        refreshed_after_401 = False
        while True:
            self._ensure_token()
            try:
                return self._call(endpoint, lambda: self.api.get(path, **params))
            except StravaApiError as err:
                # A token can be revoked or expire early server-side: refresh once and retry.
                if err.status == 401 and not refreshed_after_401:
                    refreshed_after_401 = True
                    self.api.token_expires = 0
                    self.log.warning("Strava API: %s answered 401; refreshing the access token", endpoint)
                    continue
                raise

    def _call(self, endpoint: str, send: Callable[[], Any]) -> Any:
        """Send with retries: 429 (rate limit), 5xx and connection errors are retried up to
        ``max_retries`` times; other errors raise StravaApiError naming the endpoint and status."""
        retries = self.source.max_retries
        for attempt in range(retries + 1):
            if not endpoint.startswith("POST /oauth"):
                self._wait_for_quota(endpoint)
            try:
                return send()
            except strava_exc.Fault as err:
                response = err.response
                status = response.status_code if response is not None else None
                failed = _endpoint_of(response, endpoint)  # may be the token refresh stravalib did
                retryable = status == 429 or status in _TRANSIENT_STATUSES
                if retryable and attempt < retries:
                    wait = self._retry_wait(failed, response, attempt)
                    self.log.warning(
                        "Strava API: %s answered HTTP %s; waiting %.0f s before retry %d/%d",
                        failed, status, wait, attempt + 1, retries,
                    )
                    self.source._sleep(wait)
                    continue
                reason = "" if response is None or not response.reason else f" {response.reason}"
                detail = f" after {retries} retries" if retryable else ""
                if failed.startswith("POST /oauth") and status in (400, 401, 403):
                    detail += " (check STRAVA_CLIENT_ID, STRAVA_CLIENT_SECRET and STRAVA_REFRESH_TOKEN)"
                cls = StravaRateLimitError if status == 429 else StravaApiError
                raise cls(
                    f"Strava {failed} failed with HTTP {status}{reason}{detail}{self._body_summary(response)}",
                    endpoint=failed,
                    status=status,
                ) from None
            except (requests.ConnectionError, requests.Timeout) as err:
                if attempt >= retries:
                    raise StravaApiError(
                        f"Strava {endpoint} failed after {retries} retries: {type(err).__name__}: "
                        f"{self._redact(str(err))}",
                        endpoint=endpoint,
                    ) from None
                wait = min(2.0**attempt, self.source.max_rate_limit_wait_s)
                self.log.warning(
                    "Strava API: %s: %s; waiting %.0f s before retry %d/%d",
                    endpoint, type(err).__name__, wait, attempt + 1, retries,
                )
                self.source._sleep(wait)
            except ValueError as err:  # a 2xx body that is not JSON
                raise StravaApiError(
                    f"Strava {endpoint} returned a body that is not JSON: {self._redact(str(err))}",
                    endpoint=endpoint,
                ) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _body_summary(self, response: requests.Response | None) -> str:
        """Strava's own error text (``message`` and ``errors``), scrubbed of secrets."""
        if response is None:
            return ""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        parts = [str(body[k]) for k in ("message", "errors") if body.get(k)]
        return ": " + self._redact("; ".join(parts))[:500] if parts else ""

    # -- rate limits -----------------------------------------------------------------------------

    def _seconds_to_next_window(self) -> float:
        now = self.source._clock()
        return float(_SHORT_WINDOW_S - (int(now) % _SHORT_WINDOW_S))

    def _seconds_to_utc_midnight(self) -> float:
        now = self.source._clock()
        return float(86_400 - (int(now) % 86_400))

    def _bounded(self, endpoint: str, wait: float, why: str) -> float:
        limit = self.source.max_rate_limit_wait_s
        if wait > limit:
            raise StravaRateLimitError(
                f"Strava {endpoint}: {why}; the limit clears in {wait:.0f} s, more than "
                f"max_rate_limit_wait_s={limit:.0f}",
                endpoint=endpoint,
                status=429,
            )
        return wait

    def _wait_for_quota(self, endpoint: str) -> None:
        """Before a request: if the last response said a quota is used up, wait for it to reset."""
        rates = self.tracker.latest
        if rates is None:
            return
        if rates.long_usage >= rates.long_limit:
            why = f"daily rate limit used up ({rates.long_usage}/{rates.long_limit})"
            wait = self._bounded(endpoint, self._seconds_to_utc_midnight(), why)
        elif rates.short_usage >= rates.short_limit:
            why = f"15-minute rate limit used up ({rates.short_usage}/{rates.short_limit})"
            wait = self._bounded(endpoint, self._seconds_to_next_window(), why)
        else:
            return
        self.log.warning("Strava API: %s; waiting %.0f s before %s", why, wait, endpoint)
        self.source._sleep(wait)
        self.tracker.latest = None  # a new window: the next response reports fresh usage

    def _retry_wait(self, endpoint: str, response: requests.Response | None, attempt: int) -> float:
        status = None if response is None else response.status_code
        if status != 429:
            return min(2.0**attempt, self.source.max_rate_limit_wait_s)
        self.tracker.latest = None  # the wait below covers it
        retry_after = _parse_retry_after(response.headers.get("Retry-After"), self.source._clock())
        if retry_after is not None:
            return self._bounded(endpoint, retry_after, "HTTP 429 with Retry-After")
        rates = get_rates_from_response_headers(dict(response.headers), "GET") if response is not None else None
        if rates is not None and rates.long_usage >= rates.long_limit:
            why = f"HTTP 429, daily rate limit used up ({rates.long_usage}/{rates.long_limit})"
            return self._bounded(endpoint, self._seconds_to_utc_midnight(), why)
        return self._bounded(endpoint, self._seconds_to_next_window(), "HTTP 429")

    # -- the fetch -------------------------------------------------------------------------------

    def fetch(self, start: dt.date, end: dt.date, *, include_earlier: bool = False) -> FetchResult:
        # after/before filter on the UTC start_date; local dates differ by at most 14 h, so pad
        # the window by a day on each side and filter on start_date_local below.
        bounds = {} if include_earlier else {
            "after": _utc_midnight_epoch(start - dt.timedelta(days=1)),
            "before": _utc_midnight_epoch(end + dt.timedelta(days=1)),
        }
        result = FetchResult()
        seen: set[Any] = set()
        summaries: list[dict[str, Any]] = []
        size = self.source.page_size
        for page in range(1, self.source.max_pages + 1):
            batch = self.get("/athlete/activities", **bounds, page=page, per_page=size)
            if not isinstance(batch, list):
                raise StravaApiError(
                    f"Strava GET /api/v3/athlete/activities page {page}: expected a JSON array, "
                    f"got {type(batch).__name__}",
                    endpoint="GET /api/v3/athlete/activities",
                )
            self.log.info("Strava API: activities page %d: %d activities", page, len(batch))
            for activity in batch:
                key = activity.get("id") if isinstance(activity, dict) else None
                if key is not None and key in seen:
                    continue  # pages shift when an activity is uploaded mid-pagination
                seen.add(key)
                summaries.append(activity)
            if len(batch) < size:
                break
        else:
            raise StravaApiError(
                f"Strava GET /api/v3/athlete/activities: more than max_pages={self.source.max_pages} "
                f"pages of {size} for [{start}, {end})",
                endpoint="GET /api/v3/athlete/activities",
            )

        for activity in summaries:
            self._place(activity, start, end, result, include_earlier)
        self.log.info(
            "Strava API: %d activities in [%s, %s)%s, %d unplaceable",
            len(result.records), start, end,
            f", {len(result.earlier)} before {start}" if include_earlier else "", len(result.unplaceable),
        )
        return result

    def _place(self, activity: Any, start: dt.date, end: dt.date, result: FetchResult, include_earlier: bool) -> None:
        if not isinstance(activity, dict):
            result.unplaceable.append(
                UnplaceableRecord(SOURCE_NAME, "activity list item", "activity",
                                  f"not a JSON object: {type(activity).__name__}", raw=activity)
            )
            return
        raw_id = activity.get("id")
        activity_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
        reference = f"activity {raw_id}"
        athlete = activity.get("athlete") if isinstance(activity.get("athlete"), dict) else {}
        payload_athlete = athlete.get("id")
        athlete_id = self.source.athlete_id if self.source.athlete_id is not None else payload_athlete
        local = activity.get("start_date_local")
        try:
            activity_date = dt.date.fromisoformat(str(local)[:10])
        except ValueError:
            result.unplaceable.append(
                UnplaceableRecord(
                    SOURCE_NAME, reference, "start_date_local", f"not a date: {local!r}", raw=activity,
                    athlete_id=_int_or_none(athlete_id), activity_id=activity_id,
                    # Strava files it under its UTC start (what after/before filter on): one window sees it.
                    activity_date=_date_or_none(activity.get("start_date")),
                )
            )
            return
        earlier = activity_date < start
        if (earlier and not include_earlier) or activity_date >= end:
            return
        problem = None
        if athlete_id is None:
            problem = "missing, and athlete_id not configured"
        elif _int_or_none(athlete_id) is None:
            problem = f"not an integer: {athlete_id!r}"
        elif payload_athlete is not None and _int_or_none(payload_athlete) != _int_or_none(athlete_id):
            problem = f"{payload_athlete!r}, not the configured athlete_id {athlete_id}"
        if problem is not None:
            result.unplaceable.append(
                UnplaceableRecord(
                    SOURCE_NAME, reference, "athlete.id", problem, raw=activity,
                    athlete_id=_int_or_none(payload_athlete), activity_id=activity_id, activity_date=activity_date,
                )
            )
            return

        streams = None
        if not earlier and self.source.fetch_details_for_runs and _is_run(activity) and activity_id is not None:
            activity, streams = self._details(activity)
        record = SourceRecord(
            source=SOURCE_NAME,
            athlete_id=int(athlete_id),
            activity_date=activity_date,
            activity=activity,
            streams=streams,
        )
        (result.earlier if earlier else result.records).append(record)

    def _details(self, summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        activity_id = summary["id"]
        try:
            detail = self.get(f"/activities/{activity_id}")
        except StravaApiError as err:
            if err.status != 404:
                raise
            self.log.warning("Strava API: activity %s: detail not found (404); keeping the summary", activity_id)
            detail = {}
        activity = {**summary, **detail} if isinstance(detail, dict) else summary
        if activity.get("manual"):
            return activity, None  # manual entries have no recorded streams
        try:
            raw = self.get(f"/activities/{activity_id}/streams", keys=STREAM_KEYS, key_by_type="true")
        except StravaApiError as err:
            if err.status != 404:
                raise
            self.log.warning("Strava API: activity %s: no streams (404)", activity_id)
            return activity, None
        return activity, _streams_by_type(raw)


def _endpoint_of(response: requests.Response | None, fallback: str) -> str:
    """'METHOD /path' of the request that failed (no query string, so nothing sensitive)."""
    request = None if response is None else response.request
    if request is None or not request.url:
        return fallback
    return f"{request.method} {urlsplit(str(request.url)).path}"


def _is_run(activity: dict[str, Any]) -> bool:
    return activity.get("sport_type") in RUN_SPORT_TYPES or activity.get("type") in RUN_SPORT_TYPES


def _streams_by_type(raw: Any) -> dict[str, Any] | None:
    """Streams keyed by type; accepts the list form too (when key_by_type was not honoured)."""
    if isinstance(raw, list):
        raw = {s["type"]: s for s in raw if isinstance(s, dict) and "type" in s}
    if not isinstance(raw, dict) or not raw:
        return None
    return raw


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _date_or_none(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _utc_midnight_epoch(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


def _parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, when.timestamp() - now)
