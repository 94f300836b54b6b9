"""A small Strava API v3 stand-in on 127.0.0.1 (real HTTP, ephemeral port) for tests.

Serves ``POST /oauth/token``, ``GET /api/v3/athlete/activities`` (``after``/``before``/``page``/
``per_page``), ``GET /api/v3/activities/{id}`` and ``GET /api/v3/activities/{id}/streams``; checks
bearer tokens and their expiry; sets ``X-RateLimit-Limit`` / ``X-RateLimit-Usage``; can answer 429
(or any status) a number of times, or enforce its quota; records every request so tests can assert
on what the client did. Payloads are either the real ones in ``../shared/realdata``
(:func:`load_real_payloads`) or generated ones (:func:`make_summary`, :func:`make_detail`,
:func:`make_streams`).

The server keeps client secrets and tokens in memory only and never logs a request.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from athlete_platform_tests.support.paths import REALDATA



@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    authorization: str | None
    status: int


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    body: dict[str, Any]


@dataclass
class StravaFakeState:
    """Everything the server serves and remembers. Mutate it through the server's methods."""

    client_id: str
    client_secret: str
    refresh_token: str
    summaries: list[dict[str, Any]] = field(default_factory=list)
    details: dict[int, dict[str, Any]] = field(default_factory=dict)
    streams: dict[int, dict[str, Any]] = field(default_factory=dict)
    token_lifetime_s: int = 6 * 3600
    rotate_refresh_token: bool = False
    short_limit: int = 100
    long_limit: int = 1000
    short_usage: int = 0
    long_usage: int = 0
    enforce_limits: bool = False
    failures: list[_Failure] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    issued_access_tokens: list[str] = field(default_factory=list)
    issued_refresh_tokens: list[str] = field(default_factory=list)
    valid_access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires_at


class StravaFakeServer:
    """Threaded HTTP server; use as a context manager. ``base_url`` is ``http://127.0.0.1:<port>``."""

    def __init__(
        self,
        *,
        client_id: str = "12345",
        client_secret: str = "test-client-secret-0123456789",
        refresh_token: str = "test-refresh-token-abcdefghij",
        summaries: list[dict[str, Any]] | None = None,
        details: dict[int, dict[str, Any]] | None = None,
        streams: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        self.state = StravaFakeState(
            client_id=client_id,
            client_secret=client_secret,
            refresh_token=refresh_token,
            summaries=list(summaries or []),
            details=dict(details or {}),
            streams=dict(streams or {}),
        )
        self.lock = threading.Lock()
        self._counter = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> StravaFakeServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- controls --------------------------------------------------------------------------------

    def fail_next(self, count: int, *, status: int = 429, retry_after: str | int | None = None) -> None:
        """Answer the next ``count`` API requests (not /oauth) with ``status``."""
        message = "Rate Limit Exceeded" if status == 429 else "Injected failure"
        with self.lock:
            for _ in range(count):
                self.state.failures.append(
                    _Failure(status, None if retry_after is None else str(retry_after), {"message": message, "errors": []})
                )

    def reset_short_window(self) -> None:
        """A new 15-minute window began (call it from a test's fake sleep)."""
        with self.lock:
            self.state.short_usage = 0

    def revoke_access_tokens(self) -> None:
        with self.lock:
            self.state.valid_access_tokens.clear()

    # -- what happened ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[SeenRequest]:
        with self.lock:
            return list(self.state.requests)

    def seen(self, path_prefix: str, method: str = "GET") -> list[SeenRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def token_requests(self) -> list[SeenRequest]:
        return self.seen("/oauth/token", "POST")

    def activity_pages(self) -> list[SeenRequest]:
        return [r for r in self.seen("/api/v3/athlete/activities") if r.status == 200]

    # -- request handling (called from handler threads) -----------------------------------------

    def _next_token(self, kind: str) -> str:
        return f"{kind}-{next(self._counter):04d}-{time.monotonic_ns():x}"

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str], auth: str | None) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            status, headers, body = self._dispatch(method, path, query, form, auth)
            self.state.requests.append(SeenRequest(method, path, query, form, auth, status))
            return status, headers, body

    def _dispatch(self, method: str, path: str, query: dict[str, str], form: dict[str, str], auth: str | None) -> tuple[int, dict[str, str], Any]:
        st = self.state
        if path == "/oauth/token":
            if method != "POST":
                return 405, {}, {"message": "Method Not Allowed"}
            return self._token(form)
        if not path.startswith("/api/v3/"):
            return 404, {}, {"message": "Record Not Found", "errors": [{"resource": "Path", "code": "invalid"}]}

        if st.failures:
            failure = st.failures.pop(0)
            headers = self._rate_headers()
            if failure.retry_after is not None:
                headers["Retry-After"] = failure.retry_after
            return failure.status, headers, failure.body
        if st.enforce_limits and (st.short_usage >= st.short_limit or st.long_usage >= st.long_limit):
            return 429, self._rate_headers(), {"message": "Rate Limit Exceeded", "errors": []}
        if not self._authorized(auth):
            return 401, {}, {
                "message": "Authorization Error",
                "errors": [{"resource": "Athlete", "field": "access_token", "code": "invalid"}],
            }
        st.short_usage += 1
        st.long_usage += 1
        headers = self._rate_headers()
        status, body = self._api(path, query)
        return status, headers, body

    def _rate_headers(self) -> dict[str, str]:
        st = self.state
        return {
            "X-RateLimit-Limit": f"{st.short_limit},{st.long_limit}",
            "X-RateLimit-Usage": f"{st.short_usage},{st.long_usage}",
        }

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        st = self.state
        if form.get("grant_type") != "refresh_token":
            return 400, {}, {"message": "Bad Request", "errors": [{"resource": "RefreshToken", "field": "grant_type", "code": "invalid"}]}
        if form.get("client_id") != st.client_id or form.get("client_secret") != st.client_secret:
            return 401, {}, {"message": "Bad Request", "errors": [{"resource": "Application", "field": "client_id", "code": "invalid"}]}
        if form.get("refresh_token") != st.refresh_token:
            return 400, {}, {"message": "Bad Request", "errors": [{"resource": "RefreshToken", "field": "refresh_token", "code": "invalid"}]}
        access = self._next_token("access")
        expires_at = int(time.time()) + st.token_lifetime_s
        st.valid_access_tokens[access] = expires_at
        st.issued_access_tokens.append(access)
        if st.rotate_refresh_token:
            st.refresh_token = self._next_token("refresh")
            st.issued_refresh_tokens.append(st.refresh_token)
        return 200, {}, {
            "token_type": "Bearer",
            "access_token": access,
            "expires_at": expires_at,
            "expires_in": st.token_lifetime_s,
            "refresh_token": st.refresh_token,
        }

    def _authorized(self, auth: str | None) -> bool:
        if not auth or not auth.startswith("Bearer "):
            return False
        expires_at = self.state.valid_access_tokens.get(auth[len("Bearer "):])
        return expires_at is not None and time.time() < expires_at

    def _api(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        st = self.state
        if path == "/api/v3/athlete/activities":
            return 200, self._list(query)
        parts = path.strip("/").split("/")  # api, v3, activities, {id}[, streams]
        if len(parts) in (4, 5) and parts[2] == "activities" and parts[3].isdigit():
            activity_id = int(parts[3])
            summary = next((a for a in st.summaries if a.get("id") == activity_id), None)
            if len(parts) == 4:
                if activity_id in st.details:
                    return 200, st.details[activity_id]
                if summary is not None:
                    return 200, make_detail(summary)
            elif parts[4] == "streams":
                if activity_id in st.streams:
                    return 200, _select_streams(st.streams[activity_id], query)
                if summary is not None and not summary.get("manual"):
                    return 200, _select_streams(make_streams(summary), query)
            return 404, {"message": "Record Not Found", "errors": [{"resource": "Activity", "field": "id", "code": "not found"}]}
        return 404, {"message": "Record Not Found", "errors": [{"resource": "Path", "code": "invalid"}]}

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        after = int(query["after"]) if query.get("after") else None
        before = int(query["before"]) if query.get("before") else None
        page = int(query.get("page") or 1)
        per_page = min(int(query.get("per_page") or 30), 200)
        chosen = []
        for activity in self.state.summaries:
            t = _epoch(activity["start_date"])
            if after is not None and not t > after:
                continue
            if before is not None and not t < before:
                continue
            chosen.append(activity)
        # Strava: oldest first when `after` is given, newest first otherwise.
        chosen.sort(key=lambda a: _epoch(a["start_date"]), reverse=after is None)
        return chosen[(page - 1) * per_page: page * per_page]


def _make_handler(server: StravaFakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - never log requests
            return

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
            status, headers, body = server.handle(method, parts.path, query, form, self.headers.get("Authorization"))
            payload = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

    return Handler


def _epoch(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _select_streams(streams: dict[str, Any], query: dict[str, str]) -> Any:
    keys = [k for k in (query.get("keys") or "").split(",") if k]
    chosen = {k: v for k, v in streams.items() if not keys or k in keys}
    if (query.get("key_by_type") or "").lower() == "true":
        return chosen
    return [{"type": k, **v} for k, v in chosen.items()]


# -- payloads ------------------------------------------------------------------------------------


def make_summary(
    activity_id: int,
    start_utc: dt.datetime,
    *,
    utc_offset_s: int = 0,
    sport_type: str = "Run",
    athlete_id: int = 4242,
    manual: bool = False,
    distance_m: float = 10_000.0,
    moving_time_s: int = 3000,
    average_heartrate: float | None = 150.0,
    workout_type: int | None = 0,
) -> dict[str, Any]:
    """A generated SummaryActivity shaped like the API's (start_date_local keeps the fake 'Z')."""
    start_utc = start_utc.astimezone(dt.timezone.utc) if start_utc.tzinfo else start_utc.replace(tzinfo=dt.timezone.utc)
    local = start_utc.replace(tzinfo=None) + dt.timedelta(seconds=utc_offset_s)
    legacy_type = "Run" if sport_type == "TrailRun" else sport_type
    sign = "+" if utc_offset_s >= 0 else "-"
    hours, minutes = divmod(abs(utc_offset_s) // 60, 60)
    summary: dict[str, Any] = {
        "resource_state": 2,
        "athlete": {"id": athlete_id, "resource_state": 1},
        "name": f"Generated {sport_type} {activity_id}",
        "distance": distance_m,
        "moving_time": moving_time_s,
        "elapsed_time": moving_time_s + 60,
        "total_elevation_gain": 25.0,
        "type": legacy_type,
        "sport_type": sport_type,
        "workout_type": workout_type if legacy_type == "Run" else None,
        "id": activity_id,
        "start_date": start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_date_local": local.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": f"(GMT{sign}{hours:02d}:{minutes:02d}) Etc/Generated",
        "utc_offset": float(utc_offset_s),
        "manual": manual,
        "average_speed": distance_m / moving_time_s if moving_time_s else 0.0,
        "max_speed": 5.0,
        "has_heartrate": average_heartrate is not None,
    }
    if average_heartrate is not None:
        summary["average_heartrate"] = average_heartrate
        summary["max_heartrate"] = average_heartrate + 25
    return summary


def make_detail(summary: dict[str, Any]) -> dict[str, Any]:
    """A DetailedActivity: the summary plus per-km splits."""
    distance = float(summary.get("distance") or 0.0)
    moving = int(summary.get("moving_time") or 0)
    n = max(1, int(distance // 1000))
    splits = [
        {
            "distance": distance / n,
            "elapsed_time": moving // n,
            "moving_time": moving // n,
            "split": i + 1,
            "average_speed": (distance / n) / max(1, moving // n),
            "average_heartrate": summary.get("average_heartrate"),
            "pace_zone": 0,
        }
        for i in range(n)
    ]
    return {**summary, "resource_state": 3, "splits_metric": splits, "description": None}


def make_streams(summary: dict[str, Any], points: int = 50) -> dict[str, Any]:
    """Streams keyed by type: time, distance and (when the summary has HR) heartrate."""
    moving = int(summary.get("moving_time") or 0) or points
    distance = float(summary.get("distance") or 0.0)
    times = [round(i * moving / (points - 1)) for i in range(points)]
    out: dict[str, Any] = {
        "time": {"data": times, "series_type": "distance", "original_size": points, "resolution": "high"},
        "distance": {
            "data": [round(distance * i / (points - 1), 1) for i in range(points)],
            "series_type": "distance", "original_size": points, "resolution": "high",
        },
    }
    if summary.get("has_heartrate"):
        base = float(summary.get("average_heartrate") or 140.0)
        out["heartrate"] = {
            "data": [int(base - 10 + 20 * i / (points - 1)) for i in range(points)],
            "series_type": "distance", "original_size": points, "resolution": "high",
        }
    return out


@dataclass(frozen=True)
class RealPayloads:
    summaries: list[dict[str, Any]]
    details: dict[int, dict[str, Any]]
    streams: dict[int, dict[str, Any]]


def load_real_payloads(realdata: Path = REALDATA) -> RealPayloads:
    """The real API payloads in ``../shared/realdata`` (read in place, never copied).

    The endani trail run is not in the deroffal list (another athlete), so its detail also serves as
    its summary; its streams file is the list form and is re-keyed by type.
    """
    summaries = json.loads((realdata / "deroffal_summary_activities.json").read_text("utf-8"))
    race = json.loads((realdata / "deroffal_detailed_race_7826768400.json").read_text("utf-8"))
    trail = json.loads((realdata / "endani_detailed_trailrun_9247175034.json").read_text("utf-8"))
    trail_streams = json.loads((realdata / "endani_streams_trailrun_9247175034.json").read_text("utf-8"))
    by_type = {s["type"]: {k: v for k, v in s.items() if k != "type"} for s in trail_streams}
    return RealPayloads(
        summaries=[*summaries, trail],
        details={int(race["id"]): race, int(trail["id"]): trail},
        streams={int(trail["id"]): by_type},
    )
