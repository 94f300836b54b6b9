"""The one ``Definitions`` of athlete-platform.

Importing this module is cheap: no Spark session, no network, no heavy ML imports (assets import those
inside their bodies). The resource set comes from ``ATHLETE_PLATFORM_ENV`` via ``settings.load_settings``.
"""

from dagster import Definitions

from athlete_platform.features.assets import (
    activity_features,
    athlete_daily_features,
    athlete_rolling_features,
    athlete_weekly_features,
)
from athlete_platform.inference.assets import athlete_predictions
from athlete_platform.ingest.assets import raw_activities
from athlete_platform.jobs import JOBS
from athlete_platform.labels.assets import race_results
from athlete_platform.maintenance.assets import delta_tables
from athlete_platform.model.assets import registered_time_estimator, time_estimator, training_set
from athlete_platform.model.promotion_asset import champion_decision
from athlete_platform.monitoring.definitions import MONITORING_ASSETS
from athlete_platform.monitoring.reports import athlete_reports
from athlete_platform.resources.environments import executor_for, resources_for
from athlete_platform.schedules import SCHEDULES
from athlete_platform.sensors import SENSORS
from athlete_platform.settings import load_settings
from athlete_platform.silver.assets import silver_activities

settings = load_settings()

defs = Definitions(
    assets=[
        raw_activities,
        silver_activities,
        activity_features,
        athlete_daily_features,
        athlete_weekly_features,
        athlete_rolling_features,
        race_results,
        training_set,
        time_estimator,
        registered_time_estimator,
        athlete_predictions,
        champion_decision,
        *MONITORING_ASSETS,
        athlete_reports,
        delta_tables,
    ],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=resources_for(settings),
    executor=executor_for(settings),  # Databricks: one run worker, one cluster per run
)
