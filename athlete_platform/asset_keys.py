"""Every asset key of the platform, in one place, by stage (the order of the data flow).

Imports only dagster, so any module — assets, jobs, sensors, tests, the runners — can name an asset without
importing the asset's code (and Spark or MLflow with it). An asset's decorator uses its key from here; so does
every job selection, sensor and test that refers to it. Adding an asset means adding its key here and the
asset to its stage's ``ASSETS`` list (``definitions.py`` collects the stages).
"""

from dagster import AssetKey

# -- ingest ---------------------------------------------------------------------------------------------------
RAW_ACTIVITIES = AssetKey(["ingest", "raw_activities"])

# -- silver ---------------------------------------------------------------------------------------------------
SILVER_ACTIVITIES = AssetKey(["silver", "activities"])
SILVER_HR_PROFILES = AssetKey(["silver", "activity_hr_profiles"])
SILVER_QUARANTINE = AssetKey(["silver", "quarantine"])

# -- features -------------------------------------------------------------------------------------------------
ACTIVITY_FEATURES = AssetKey(["features", "activity_features"])
DAILY_FEATURES = AssetKey(["features", "athlete_daily_features"])
WEEKLY_FEATURES = AssetKey(["features", "athlete_weekly_features"])
ROLLING_FEATURES = AssetKey(["features", "athlete_rolling_features"])

# -- labels ---------------------------------------------------------------------------------------------------
RACE_RESULTS = AssetKey(["labels", "race_results"])

# -- model ----------------------------------------------------------------------------------------------------
TRAINING_SET = AssetKey(["model", "training_set"])
TIME_ESTIMATOR = AssetKey(["model", "time_estimator"])
REGISTERED_TIME_ESTIMATOR = AssetKey(["model", "registered_time_estimator"])
CHAMPION_DECISION = AssetKey(["model", "champion_decision"])  # daily, after the inference log

# -- inference ------------------------------------------------------------------------------------------------
PREDICTIONS = AssetKey(["inference", "athlete_predictions"])
INFERENCE_LOG = AssetKey(["inference", "inference_log"])

# -- monitoring -----------------------------------------------------------------------------------------------
PERFORMANCE_ESTIMATE = AssetKey(["monitoring", "performance_estimate"])
REALIZED_ERROR = AssetKey(["monitoring", "realized_error"])
FEATURE_DRIFT = AssetKey(["monitoring", "feature_drift"])
OVERTRAINING_ALERTS = AssetKey(["monitoring", "overtraining_alerts"])
ATHLETE_REPORTS = AssetKey(["monitoring", "athlete_reports"])

# -- maintenance ----------------------------------------------------------------------------------------------
DELTA_MAINTENANCE = AssetKey(["maintenance", "delta_tables"])

ALL_ASSET_KEYS = (
    RAW_ACTIVITIES, SILVER_ACTIVITIES, SILVER_HR_PROFILES, SILVER_QUARANTINE,
    ACTIVITY_FEATURES, DAILY_FEATURES, WEEKLY_FEATURES, ROLLING_FEATURES, RACE_RESULTS,
    TRAINING_SET, TIME_ESTIMATOR, REGISTERED_TIME_ESTIMATOR, CHAMPION_DECISION, PREDICTIONS, INFERENCE_LOG,
    PERFORMANCE_ESTIMATE, REALIZED_ERROR, FEATURE_DRIFT, OVERTRAINING_ALERTS, ATHLETE_REPORTS, DELTA_MAINTENANCE,
)
#: The key prefixes: one per stage, equal to the stage's folder and asset group (and, on Databricks, the schema).
STAGES = tuple(dict.fromkeys(key.path[0] for key in ALL_ASSET_KEYS))
