"""The one place that reads the process environment for platform settings.

``ATHLETE_PLATFORM_ENV`` picks the resource set (``local`` — the embedded default — or ``databricks``);
``ATHLETE_PLATFORM_HOME`` moves the local data directory (Delta tables, MLflow sqlite, Dagster instance);
``ATHLETE_PLATFORM_SOURCE`` picks where activities come from (``simulator`` — the demo default —,
``strava_api`` or ``strava_export``; the export's timezone is ``STRAVA_EXPORT_TIMEZONE``).
Secrets are *not* read here: they are bound with Dagster ``EnvVar`` in ``definitions.py`` so they are
resolved at run time and never appear in run config or metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "ATHLETE_PLATFORM_ENV"
HOME_VAR = "ATHLETE_PLATFORM_HOME"
SOURCE_VAR = "ATHLETE_PLATFORM_SOURCE"
EXPORT_TIMEZONE_VAR = "STRAVA_EXPORT_TIMEZONE"
ENVIRONMENTS = ("local", "databricks")
SOURCES = ("simulator", "strava_api", "strava_export")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PlatformSettings:
    environment: str
    home: Path
    source: str = "simulator"
    export_timezone: str = "UTC"

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


def load_settings(environ: dict[str, str] | None = None) -> PlatformSettings:
    env = os.environ if environ is None else environ
    environment = env.get(ENV_VAR, "local").strip().lower() or "local"
    if environment not in ENVIRONMENTS:
        raise ValueError(f"{ENV_VAR}={environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    home = Path(env.get(HOME_VAR) or REPO_ROOT / ".athlete_platform").expanduser().resolve()
    source = env.get(SOURCE_VAR, "simulator").strip().lower() or "simulator"
    if source not in SOURCES:
        raise ValueError(f"{SOURCE_VAR}={source!r} is not one of {', '.join(SOURCES)}")
    return PlatformSettings(
        environment=environment, home=home, source=source, export_timezone=env.get(EXPORT_TIMEZONE_VAR, "UTC")
    )
