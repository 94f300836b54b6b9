"""The monitoring stage's assets, collected for ``athlete_platform.definitions`` (add a monitoring asset here).

Cheap to import: the assets import NannyML and MLflow inside their bodies.
"""

from athlete_platform.monitoring.feature_drift import feature_drift
from athlete_platform.monitoring.overtraining_alerts import overtraining_alerts
from athlete_platform.monitoring.performance_estimate import performance_estimate
from athlete_platform.monitoring.realized_error import realized_error

MONITORING_ASSETS = [performance_estimate, realized_error, feature_drift, overtraining_alerts]
