"""The Databricks resource set (``ATHLETE_PLATFORM_ENV=databricks``).

Orchestration stays where Dagster runs (local daemon, a container, Dagster+); every asset (all of them declare a
``pyspark_step_launcher`` parameter) runs its step on Databricks through dagster-databricks'
``databricks_pyspark_step_launcher``: the launcher zips the repository, uploads it with the pickled step to
DBFS, submits a one-time ``spark_python_task`` run (Jobs API ``runs/submit``), polls ``runs/get`` and replays
the Dagster events the remote step writes back to DBFS (logs, materializations, check results).

Where the steps run (``cluster_spec`` and ``databricks_launcher.shared_cluster_step_launcher``): by default
the steps of one Dagster run share one cluster, created by the run's first step and terminated when the run
ends (one cluster start per run); ``DATABRICKS_CLUSTER_ID`` runs them on an existing cluster (none);
``DATABRICKS_CLUSTER_SCOPE=step`` gives each step its own job cluster (one start per step, at the Jobs
Compute rate); ``DATABRICKS_INSTANCE_POOL_ID`` takes the nodes of new clusters from a pool of warm VMs.

Binding, same keys as ``environments.local_resources``:

* ``spark`` — ``ClusterSparkResource``: ``SparkResource(master=None)`` (reuse the cluster's session) that
  also ships the project package to the executors for Python functions running there;
* ``io_manager`` — ``UnityCatalogDeltaIOManager``: ``<catalog>.<key prefix>.<table>`` managed Delta tables;
* ``activity_source`` — the configured source (``bindings.activity_source``);
* ``mlflow`` — Databricks MLflow (tracking ``databricks``, registry ``databricks-uc``), reached from the cluster
  with the host/token the remote step exports from the secret scope;
* ``pyspark_step_launcher`` — the Databricks step launcher (below).

Secrets: ``DATABRICKS_HOST``/``DATABRICKS_TOKEN`` are only referenced as environment variables
(``{"env": ...}``) and resolved when a run initializes the launcher, never written into run config or
metadata. The remote step re-initializes its resources on the cluster, where those variables do not exist:
``secrets_to_env_variables`` exports them (and the Strava API credentials when that source is used) from a
Databricks secret scope before the step starts.

Non-secret knobs are environment variables read when the code location loads (they shape the cluster spec,
so they cannot wait for run time), all optional — see ``DatabricksKnobs``. They are forwarded to the remote
step so that it rebuilds identical resource definitions.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import EnvVar, ResourceDefinition
from packaging.requirements import Requirement

from athlete_platform.resources.bindings import STEP_LAUNCHER_KEY, activity_source
from athlete_platform.resources.mlflow_resource import MlflowResource
from athlete_platform.resources.spark import SparkResource
from athlete_platform.resources.unity_catalog_io import DEFAULT_CATALOG, UnityCatalogDeltaIOManager
from athlete_platform.settings import ENV_VAR, HOME_VAR, REPO_ROOT, PlatformSettings, settings_environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# -- MLflow on Databricks (bound by the model/monitoring resources) ------------------------------------
MLFLOW_TRACKING_URI = "databricks"
MLFLOW_REGISTRY_URI = "databricks-uc"
MLFLOW_EXPERIMENT_NAME = "/Shared/athlete-platform/time_estimator"  # workspace experiments are paths

# -- environment variables ----------------------------------------------------------------------------
HOST_VAR = "DATABRICKS_HOST"  # secret-ish: resolved at run time only
TOKEN_VAR = "DATABRICKS_TOKEN"  # secret: resolved at run time only
CLUSTER_ID_VAR = "DATABRICKS_CLUSTER_ID"  # set: run steps on this all-purpose cluster; unset: new cluster(s)
CLUSTER_SCOPE_VAR = "DATABRICKS_CLUSTER_SCOPE"  # run (default): one new cluster per Dagster run; step: one per step
INSTANCE_POOL_VAR = "DATABRICKS_INSTANCE_POOL_ID"  # optional: driver and workers of new clusters from this pool
AUTOTERMINATION_VAR = "DATABRICKS_AUTOTERMINATION_MINUTES"  # run-scoped cluster's idle backstop (default 15)
PLATFORM_HOME_VAR = "DATABRICKS_PLATFORM_HOME"  # files the steps write (report PNGs): a Unity Catalog volume path
SPARK_VERSION_VAR = "DATABRICKS_SPARK_VERSION"
NODE_TYPE_VAR = "DATABRICKS_NODE_TYPE"
NUM_WORKERS_VAR = "DATABRICKS_NUM_WORKERS"  # 0 = single-node job cluster (cheapest for this data size)
SECRET_SCOPE_VAR = "DATABRICKS_SECRET_SCOPE"
CATALOG_VAR = "DATABRICKS_CATALOG"
STAGING_PREFIX_VAR = "DATABRICKS_STAGING_PREFIX"
WHEEL_VAR = "DATABRICKS_PROJECT_WHEEL"  # optional: install the project wheel (deploy.yml) instead of pip requirements
KNOB_VARS = (
    CLUSTER_ID_VAR, CLUSTER_SCOPE_VAR, INSTANCE_POOL_VAR, AUTOTERMINATION_VAR, SPARK_VERSION_VAR, NODE_TYPE_VAR,
    NUM_WORKERS_VAR, SECRET_SCOPE_VAR, CATALOG_VAR, STAGING_PREFIX_VAR, WHEEL_VAR, PLATFORM_HOME_VAR,
)
CLUSTER_SCOPES = ("run", "step")


DEFAULT_SPARK_VERSION = "17.3.x-scala2.13"  # Spark 4.0 LTS runtime (the code uses Spark 4 APIs such as toArrow)
DEFAULT_NODE_TYPE = "i3.xlarge"
DEFAULT_SECRET_SCOPE = "athlete-platform"
DEFAULT_STAGING_PREFIX = "/tmp/athlete_platform/dagster_staging"  # DBFS path; /dbfs/tmp/... on the cluster
DEFAULT_AUTOTERMINATION_MINUTES = 15  # Databricks accepts 10..43200; a step keeps the cluster busy, so 15 is safe


def default_platform_home(catalog: str) -> str:
    """The volume ``<catalog>.monitoring.files`` (created once, see docs/databricks.md): report PNGs land in
    ``<home>/reports``, as locally under ``$ATHLETE_PLATFORM_HOME/reports``."""
    return f"/Volumes/{catalog}/monitoring/files"

# Secrets the remote step needs as environment variables: (env var, key in the secret scope).
LAUNCHER_SECRETS = (("DATABRICKS_HOST", "databricks-host"), ("DATABRICKS_TOKEN", "databricks-token"))
STRAVA_API_SECRETS = (
    ("STRAVA_CLIENT_ID", "strava-client-id"),
    ("STRAVA_CLIENT_SECRET", "strava-client-secret"),
    ("STRAVA_REFRESH_TOKEN", "strava-refresh-token"),
)

# The cluster brings its own Spark; the UI is not needed remotely. Everything else in setup.py is installed.
NOT_INSTALLED_ON_CLUSTER = {"pyspark", "dagster-webserver"}

# Same session semantics as the local SparkResource (UTC, Arrow without silent fallback).
CLUSTER_SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


def _knob(name: str, default: str | None = None) -> str | None:
    value = EnvVar(name).get_value(default)
    return value.strip() if isinstance(value, str) and value.strip() else default


@dataclass(frozen=True)
class DatabricksKnobs:
    """Non-secret settings of the Databricks environment, from environment variables (all optional)."""

    cluster_id: str | None = None
    cluster_scope: str = "run"
    instance_pool_id: str | None = None
    autotermination_minutes: int = DEFAULT_AUTOTERMINATION_MINUTES
    spark_version: str = DEFAULT_SPARK_VERSION
    node_type: str = DEFAULT_NODE_TYPE
    num_workers: int = 0
    secret_scope: str = DEFAULT_SECRET_SCOPE
    catalog: str = DEFAULT_CATALOG
    staging_prefix: str = DEFAULT_STAGING_PREFIX
    project_wheel: str | None = None
    platform_home: str | None = None  # None: default_platform_home(catalog)

    @classmethod
    def from_env(cls) -> "DatabricksKnobs":
        workers = _knob(NUM_WORKERS_VAR, "0")
        if not workers.isdigit():
            raise ValueError(f"{NUM_WORKERS_VAR}={workers!r} must be a non-negative integer")
        staging = _knob(STAGING_PREFIX_VAR, DEFAULT_STAGING_PREFIX)
        scope = _knob(CLUSTER_SCOPE_VAR, "run").lower()
        if scope not in CLUSTER_SCOPES:
            raise ValueError(f"{CLUSTER_SCOPE_VAR}={scope!r} is not one of {', '.join(CLUSTER_SCOPES)}")
        idle = _knob(AUTOTERMINATION_VAR, str(DEFAULT_AUTOTERMINATION_MINUTES))
        if not idle.isdigit() or not 10 <= int(idle) <= 43200:
            raise ValueError(f"{AUTOTERMINATION_VAR}={idle!r} must be a whole number of minutes in 10..43200")
        if not staging.startswith("/"):
            raise ValueError(f"{STAGING_PREFIX_VAR}={staging!r} must be an absolute DBFS path such as /tmp/dagster")
        return cls(
            cluster_id=_knob(CLUSTER_ID_VAR),
            cluster_scope=scope,
            instance_pool_id=_knob(INSTANCE_POOL_VAR),
            autotermination_minutes=int(idle),
            spark_version=_knob(SPARK_VERSION_VAR, DEFAULT_SPARK_VERSION),
            node_type=_knob(NODE_TYPE_VAR, DEFAULT_NODE_TYPE),
            num_workers=int(workers),
            secret_scope=_knob(SECRET_SCOPE_VAR, DEFAULT_SECRET_SCOPE),
            catalog=_knob(CATALOG_VAR, DEFAULT_CATALOG),
            staging_prefix=staging,
            project_wheel=_knob(WHEEL_VAR),
            platform_home=_knob(PLATFORM_HOME_VAR),
        )

    @property
    def home(self) -> str:
        return self.platform_home or default_platform_home(self.catalog)


_shipped_lock = threading.Lock()
_shipped: set[tuple[int, str]] = set()


def ship_project_to_executors(session: "SparkSession") -> None:
    """Make ``athlete_platform`` importable by the cluster's Python workers (once per Spark context).

    The step launcher puts its code zip on the *driver's* ``sys.path`` only. Spark functions that run on the
    workers and reference project code (the silver ``mapInPandas`` parser, pandas UDFs) need the package
    there too, so it is zipped from where the driver imported it and added with ``addPyFile``. Skipped when
    the package comes from an installed distribution (``DATABRICKS_PROJECT_WHEEL``): every node has it.
    """
    import athlete_platform

    package_dir = Path(athlete_platform.__file__).resolve().parent
    if "site-packages" in package_dir.parts or "dist-packages" in package_dir.parts:
        return
    context = session.sparkContext
    key = (id(context), str(package_dir))
    with _shipped_lock:
        if key in _shipped:
            return
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(package_dir.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    bundle.write(path, path.relative_to(package_dir.parent).as_posix())
        # Named by content: the steps of a run share the cluster's SparkContext, which refuses a file name
        # registered before from another path, and would keep serving the first content under one name.
        digest = hashlib.sha256(buffer.getvalue()).hexdigest()[:16]
        archive = Path(tempfile.gettempdir()) / "athlete_platform_pyfiles" / f"athlete_platform-{digest}.zip"
        if not archive.exists():
            archive.parent.mkdir(parents=True, exist_ok=True)
            staged = archive.with_suffix(f".{os.getpid()}.tmp")
            staged.write_bytes(buffer.getvalue())
            os.replace(staged, archive)
        context.addPyFile(str(archive))
        _shipped.add(key)


class ClusterSparkResource(SparkResource):
    """``SparkResource(master=None)`` (the cluster's session) that also ships the project to the executors."""

    master: str | None = None

    def get_session(self) -> "SparkSession":
        session = super().get_session()
        ship_project_to_executors(session)
        return session


def project_libraries(knobs: DatabricksKnobs) -> list[dict[str, Any]]:
    """Cluster libraries: the deployed project wheel if configured, else the project's pip requirements.

    The requirements are ``INSTALL_REQUIRES`` of ``setup.py`` (the single list; it is in the checkout and in
    the code zip the remote step rebuilds these definitions from — the project itself is not installed
    there), minus what the cluster must not get (its own Spark). dagster-pyspark and databricks-sdk are
    added by the launcher itself (``install_default_libraries``).
    """
    if knobs.project_wheel:
        return [{"whl": knobs.project_wheel}]
    libraries = []
    for line in install_requires(REPO_ROOT / "setup.py"):
        requirement = Requirement(line)
        if requirement.name.lower().replace("_", "-") in NOT_INSTALLED_ON_CLUSTER:
            continue
        libraries.append({"pypi": {"package": f"{requirement.name}{requirement.specifier}"}})
    return libraries


def install_requires(setup_py: Path) -> list[str]:
    """The ``INSTALL_REQUIRES = [...]`` literal of setup.py, read without executing setup()."""
    import ast

    if not setup_py.is_file():
        raise FileNotFoundError(
            f"{setup_py} not found: run the Dagster code location from a checkout of the repository "
            "(the step launcher uploads that checkout), or set DATABRICKS_PROJECT_WHEEL"
        )
    for node in ast.parse(setup_py.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "INSTALL_REQUIRES" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError(f"{setup_py} has no INSTALL_REQUIRES list")


def cluster_spec(knobs: DatabricksKnobs) -> dict[str, Any]:
    """``existing`` all-purpose cluster if ``DATABRICKS_CLUSTER_ID`` is set, else the spec of a new cluster
    (one per run or per step: ``DATABRICKS_CLUSTER_SCOPE``), its nodes from the instance pool if one is set."""
    if knobs.cluster_id:
        return {"existing": knobs.cluster_id}
    spark_conf = dict(CLUSTER_SPARK_CONF)
    custom_tags = [{"key": "project", "value": "athlete-platform"}]
    if knobs.num_workers == 0:
        # Single-node cluster: the driver does all the work; no idle workers to pay for.
        spark_conf.update({"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*, 4]"})
        custom_tags.append({"key": "ResourceClass", "value": "SingleNode"})
    if knobs.instance_pool_id:
        nodes: dict[str, Any] = {"instance_pool_id": knobs.instance_pool_id, "driver_instance_pool_id": knobs.instance_pool_id}
    else:
        nodes = {"node_types": {"node_type_id": knobs.node_type}}
    return {
        "new": {
            "size": {"num_workers": knobs.num_workers},
            "spark_version": knobs.spark_version,
            "nodes": nodes,
            "spark_conf": spark_conf,
            "spark_env_vars": {"NML_DISABLE_USAGE_LOGGING": "1"},
            "custom_tags": custom_tags,
            "data_security_mode": "DATA_SECURITY_MODE_AUTO",  # Unity Catalog capable access mode
        }
    }


def remote_environment(settings: PlatformSettings, extra: Mapping[str, str] | None = None,
                       knobs: DatabricksKnobs | None = None) -> dict[str, str]:
    """Non-secret environment of the remote step: it re-imports the definitions, which must resolve the same way."""
    knobs = knobs or DatabricksKnobs.from_env()
    # The platform settings (source, first partition, export path/zone/athlete, API options) as set here;
    # an export path must be one the cluster can read, e.g. /Volumes/... The platform home of the remote
    # step is a volume: what a step writes as files (report PNGs) outlives the cluster.
    env = {ENV_VAR: "databricks", HOME_VAR: knobs.home, **settings_environment(settings)}
    for name in KNOB_VARS:
        value = EnvVar(name).get_value()
        if value:
            env[name] = value
    env.update(extra or {})
    return env


def remote_secrets(settings: PlatformSettings, knobs: DatabricksKnobs) -> list[dict[str, str]]:
    pairs = list(LAUNCHER_SECRETS)
    if settings.source == "strava_api":
        pairs += STRAVA_API_SECRETS
    return [{"name": name, "key": key, "scope": knobs.secret_scope} for name, key in pairs]


def step_launcher_config(
    settings: PlatformSettings,
    knobs: DatabricksKnobs | None = None,
    *,
    poll_interval_sec: float = 5.0,
    extra_env: Mapping[str, str] | None = None,
    run_name: str = "athlete-platform step",
) -> dict[str, Any]:
    knobs = knobs or DatabricksKnobs.from_env()
    return {
        "run_config": {
            "run_name": run_name,
            "cluster": cluster_spec(knobs),
            "libraries": project_libraries(knobs),
        },
        # Environment references, resolved when a run initializes the launcher (never stored as values).
        "databricks_host": {"env": HOST_VAR},
        "databricks_token": {"env": TOKEN_VAR},
        "local_dagster_job_package_path": str(REPO_ROOT),
        "staging_prefix": knobs.staging_prefix,
        "secrets_to_env_variables": remote_secrets(settings, knobs),
        "env_variables": remote_environment(settings, extra_env, knobs),
        "poll_interval_sec": poll_interval_sec,
        "max_completion_wait_time_seconds": 4 * 60 * 60,
        "verbose_logs": False,
        "cluster_scope": knobs.cluster_scope,
        "autotermination_minutes": knobs.autotermination_minutes,
    }


def databricks_step_launcher(settings: PlatformSettings, knobs: DatabricksKnobs | None = None, **options: Any) -> ResourceDefinition:
    """The real ``databricks_pyspark_step_launcher`` (with one cluster per run by default), configured for this project."""
    from athlete_platform.resources.databricks_launcher import shared_cluster_step_launcher

    return shared_cluster_step_launcher.configured(step_launcher_config(settings, knobs, **options))


def databricks_resources(settings: PlatformSettings) -> dict[str, Any]:
    knobs = DatabricksKnobs.from_env()
    spark = ClusterSparkResource()
    return {
        "spark": spark,
        "io_manager": UnityCatalogDeltaIOManager(spark=spark, catalog=knobs.catalog),
        "activity_source": activity_source(settings),
        "mlflow": MlflowResource(
            tracking_uri=MLFLOW_TRACKING_URI,
            registry_uri=MLFLOW_REGISTRY_URI,
            experiment_name=MLFLOW_EXPERIMENT_NAME,
            model_name=f"{knobs.catalog}.model.time_estimator",
        ),
        STEP_LAUNCHER_KEY: databricks_step_launcher(settings, knobs),
    }
