"""The one place that reads the process environment for platform settings.

``ATHLETE_PLATFORM_ENV`` picks the resource set (``local`` — the embedded default — or ``databricks``) and
whether schedules and sensors start running (only on ``databricks``);
``ATHLETE_PLATFORM_HOME`` moves the local data directory (Delta tables, MLflow sqlite, Dagster instance);
``ATHLETE_PLATFORM_SOURCE`` picks where activities come from (``simulator`` — the demo default —,
``strava_api`` or ``strava_export``); ``ATHLETE_PLATFORM_PARTITIONS_START`` is the first daily partition
(default 2009-01-01, the year Strava started: every recorded activity fits; older manual entries are
quarantined with the reason, never dropped).

Strava export (not secret, so read here): ``STRAVA_EXPORT_PATH``, ``STRAVA_EXPORT_TIMEZONE`` (IANA zone,
required to read an export: its ``activities.csv`` has UTC times only) and ``STRAVA_ATHLETE_ID``
(optional: the export's ``profile.csv`` has it, otherwise a stable derived id). Strava API, non-secret
options: ``STRAVA_API_BASE_URL`` and ``STRAVA_FETCH_DETAILS_FOR_RUNS``. ``ATHLETE_PLATFORM_MLFLOW_UI_URL``
(optional): where ``mlflow ui`` serves the local store, so Dagster links to MLflow runs and model versions.
``ATHLETE_PLATFORM_SPARK_REMOTE`` (optional, local only): a Spark Connect server's URL (``sc://127.0.0.1:15002``,
what ``python -m athlete_platform.spark_server start`` prints) to run Spark on instead of a JVM per process.

Secrets are *not* read here: they are bound with Dagster ``EnvVar`` in ``resources/bindings.py`` so
they are resolved at run time and never appear in run config or metadata.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_VAR = "ATHLETE_PLATFORM_ENV"
HOME_VAR = "ATHLETE_PLATFORM_HOME"
SOURCE_VAR = "ATHLETE_PLATFORM_SOURCE"
PARTITIONS_START_VAR = "ATHLETE_PLATFORM_PARTITIONS_START"
EXPORT_PATH_VAR = "STRAVA_EXPORT_PATH"
EXPORT_TIMEZONE_VAR = "STRAVA_EXPORT_TIMEZONE"
ATHLETE_ID_VAR = "STRAVA_ATHLETE_ID"
API_BASE_URL_VAR = "STRAVA_API_BASE_URL"
FETCH_DETAILS_VAR = "STRAVA_FETCH_DETAILS_FOR_RUNS"
MLFLOW_UI_URL_VAR = "ATHLETE_PLATFORM_MLFLOW_UI_URL"
SPARK_REMOTE_VAR = "ATHLETE_PLATFORM_SPARK_REMOTE"
ENVIRONMENTS = ("local", "databricks")
SOURCES = ("simulator", "strava_api", "strava_export")
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Strava's first year: every activity it recorded is on or after this day.
DEFAULT_PARTITIONS_START = dt.date(2009, 1, 1)
#: The earliest first partition accepted (the Unix epoch: older timestamps are not worth the edge cases).
EARLIEST_PARTITIONS_START = dt.date(1970, 1, 1)
DEFAULT_API_BASE_URL = "https://www.strava.com"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A platform environment variable has a value the platform cannot use; the message names it."""


@dataclass(frozen=True)
class PlatformSettings:
    environment: str
    home: Path
    source: str = "simulator"
    #: IANA zone of a Strava export's owner; None when unset (reading an export then fails, naming the variable).
    export_timezone: str | None = None
    export_path: str | None = None
    #: Strava athlete id of an export's owner; None: from the export's profile.csv, else derived (strava_export.source).
    export_athlete_id: int | None = None
    partitions_start: dt.date = DEFAULT_PARTITIONS_START
    strava_api_base_url: str = DEFAULT_API_BASE_URL
    strava_fetch_details_for_runs: bool = True
    #: Where ``mlflow ui`` serves the local store (e.g. http://localhost:5000): Dagster metadata then links to
    #: runs and model versions; None: plain ids (on Databricks the workspace is linked without it).
    mlflow_ui_url: str | None = None
    #: A Spark Connect server's URL for local runs (``sc://host:port``); None: each process starts its own Spark.
    spark_remote: str | None = None

    @property
    def automation_running_by_default(self) -> bool:
        """Whether schedules and sensors start RUNNING: in production (``databricks``) yes; locally no —
        Dagster's own default (STOPPED) — so a laptop's ``dagster dev`` starts nothing until asked."""
        return self.environment == "databricks"

    @property
    def delta_root(self) -> Path:
        return self.home / "delta"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{(self.home / 'mlflow.db').as_posix()}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.home / "mlflow-artifacts"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"


def parse_partitions_start(value: str | None, today: dt.date | None = None) -> dt.date:
    """The first daily partition from ``ATHLETE_PLATFORM_PARTITIONS_START`` (ISO date; unset → 2009-01-01)."""
    if value is None or not value.strip():
        return DEFAULT_PARTITIONS_START
    try:
        start = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise SettingsError(f"{PARTITIONS_START_VAR}={value!r} is not an ISO date (YYYY-MM-DD)") from None
    today = today or dt.date.today()
    if not EARLIEST_PARTITIONS_START <= start <= today:
        raise SettingsError(
            f"{PARTITIONS_START_VAR}={value!r} must be between {EARLIEST_PARTITIONS_START} and today ({today})"
        )
    return start


def parse_timezone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{EXPORT_TIMEZONE_VAR}={value!r} is not an IANA time zone name (e.g. Europe/Lisbon)") from None
    return name


def parse_athlete_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or int(text) <= 0:
        raise SettingsError(f"{ATHLETE_ID_VAR}={value!r} is not a positive integer (a Strava athlete id)")
    return int(text)


def parse_flag(name: str, value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean ({'/'.join(_TRUE)} or {'/'.join(_FALSE)})")


def parse_base_url(value: str | None) -> str:
    if value is None or not value.strip():
        return DEFAULT_API_BASE_URL
    url = value.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{API_BASE_URL_VAR}={value!r} must start with http:// or https://")
    return url


def parse_optional_url(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    url = value.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={value!r} must start with http:// or https://")
    return url


def parse_spark_remote(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    from urllib.parse import urlparse

    url = value.strip()
    parsed = urlparse(url)
    if parsed.scheme != "sc" or not parsed.hostname or (parsed.path not in ("", "/") and not parsed.path.startswith("/;")):
        raise SettingsError(f"{SPARK_REMOTE_VAR}={value!r} is not a Spark Connect URL (sc://host:port)")
    return url


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower() or default
    if value not in choices:
        raise SettingsError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> PlatformSettings:
    env = os.environ if environ is None else environ
    export_path = (env.get(EXPORT_PATH_VAR) or "").strip()
    return PlatformSettings(
        environment=_choice(env, ENV_VAR, "local", ENVIRONMENTS),
        home=Path(env.get(HOME_VAR) or REPO_ROOT / ".athlete_platform").expanduser().resolve(),
        source=_choice(env, SOURCE_VAR, "simulator", SOURCES),
        export_timezone=parse_timezone(env.get(EXPORT_TIMEZONE_VAR)),
        export_path=str(Path(export_path).expanduser()) if export_path else None,
        export_athlete_id=parse_athlete_id(env.get(ATHLETE_ID_VAR)),
        partitions_start=parse_partitions_start(env.get(PARTITIONS_START_VAR)),
        strava_api_base_url=parse_base_url(env.get(API_BASE_URL_VAR)),
        strava_fetch_details_for_runs=parse_flag(FETCH_DETAILS_VAR, env.get(FETCH_DETAILS_VAR), True),
        mlflow_ui_url=parse_optional_url(MLFLOW_UI_URL_VAR, env.get(MLFLOW_UI_URL_VAR)),
        spark_remote=parse_spark_remote(env.get(SPARK_REMOTE_VAR)),
    )


def settings_environment(settings: PlatformSettings) -> dict[str, str]:
    """The non-secret platform variables that reproduce ``settings`` in another process (the remote
    Databricks step re-imports the definitions: same source, partitions and source options). Unset
    optional values are left out, so they stay unset there too."""
    env = {
        SOURCE_VAR: settings.source,
        PARTITIONS_START_VAR: settings.partitions_start.isoformat(),
        API_BASE_URL_VAR: settings.strava_api_base_url,
        FETCH_DETAILS_VAR: "true" if settings.strava_fetch_details_for_runs else "false",
    }
    optional = {
        EXPORT_PATH_VAR: settings.export_path,
        EXPORT_TIMEZONE_VAR: settings.export_timezone,
        ATHLETE_ID_VAR: None if settings.export_athlete_id is None else str(settings.export_athlete_id),
    }
    env.update({name: value for name, value in optional.items() if value is not None})
    return env
