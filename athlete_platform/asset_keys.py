"""Every asset key of the platform, in one place, by stage (the order of the data flow).

Imports only dagster, so any module — assets, jobs, sensors, tests, the runners — can name an asset without
importing the asset's code (and Spark or MLflow with it). An asset's decorator uses its key from here; so does
every job selection, sensor and test that refers to it. Adding an asset means adding its key here and the
asset to its stage's ``ASSETS`` list (``definitions.py`` collects the stages).
"""

from dagster import AssetKey

# -- ingest ---------------------------------------------------------------------------------------------------
RAW_ACTIVITIES = AssetKey(["bronze", "raw_activities"])

# -- silver ---------------------------------------------------------------------------------------------------
SILVER_ACTIVITIES = AssetKey(["silver", "activities"])
SILVER_HR_PROFILES = AssetKey(["silver", "activity_hr_profiles"])
SILVER_QUARANTINE = AssetKey(["silver", "quarantine"])

# -- features -------------------------------------------------------------------------------------------------
ACTIVITY_FEATURES = AssetKey(["feature_store", "activity_features"])
DAILY_FEATURES = AssetKey(["feature_store", "athlete_daily_features"])
WEEKLY_FEATURES = AssetKey(["feature_store", "athlete_weekly_features"])
ROLLING_FEATURES = AssetKey(["feature_store", "athlete_rolling_features"])

# -- labels ---------------------------------------------------------------------------------------------------
RACE_RESULTS = AssetKey(["feature_store", "race_results"])

# -- model ----------------------------------------------------------------------------------------------------
TRAINING_SET = AssetKey(["feature_store", "training_set"])
TIME_ESTIMATOR = AssetKey(["models", "time_estimator"])
REGISTERED_TIME_ESTIMATOR = AssetKey(["models", "registered_time_estimator"])
CHAMPION_DECISION = AssetKey(["models", "champion_decision"])  # daily, after the inference log

# -- inference ------------------------------------------------------------------------------------------------
PREDICTIONS = AssetKey(["gold", "athlete_predictions"])
INFERENCE_LOG = AssetKey(["monitoring", "inference_log"])

# -- monitoring -----------------------------------------------------------------------------------------------
PERFORMANCE_ESTIMATE = AssetKey(["monitoring", "performance_estimate"])
REALIZED_ERROR = AssetKey(["monitoring", "realized_error"])
FEATURE_DRIFT = AssetKey(["monitoring", "feature_drift"])
OVERTRAINING_ALERTS = AssetKey(["monitoring", "overtraining_alerts"])
ATHLETE_REPORTS = AssetKey(["gold", "athlete_reports"])

# -- maintenance ----------------------------------------------------------------------------------------------
DELTA_MAINTENANCE = AssetKey(["maintenance", "delta_tables"])
