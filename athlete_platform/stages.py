"""The asset modules of each stage, in the order of the data flow: the one list ``definitions.py`` (and the tests
that build their own ``Definitions``) load assets from.

A new asset in an existing module is picked up as it is; a new asset module is one line here. Folder = asset
group = key prefix (``asset_keys.STAGES``); ``athlete_platform_tests/test_layout.py`` holds every asset to it.
Cheap to import: asset modules import Spark, MLflow and NannyML inside their bodies.
"""

from dagster import AssetsDefinition, load_assets_from_modules

from athlete_platform.features import assets as features_assets
from athlete_platform.inference import assets as inference_assets
from athlete_platform.ingest import assets as ingest_assets
from athlete_platform.labels import assets as labels_assets
from athlete_platform.maintenance import assets as maintenance_assets
from athlete_platform.model import assets as model_assets
from athlete_platform.model import promotion_asset, registration_asset
from athlete_platform.monitoring import (
    feature_drift,
    overtraining_alerts,
    performance_estimate,
    realized_error,
    reports,
)
from athlete_platform.silver import assets as silver_assets

STAGE_MODULES = {
    "ingest": (ingest_assets,),
    "silver": (silver_assets,),
    "features": (features_assets,),
    "labels": (labels_assets,),
    "model": (model_assets, registration_asset, promotion_asset),
    "inference": (inference_assets,),
    "monitoring": (performance_estimate, realized_error, feature_drift, overtraining_alerts, reports),
    "maintenance": (maintenance_assets,),
}


def platform_assets() -> list[AssetsDefinition]:
    """Every asset of the platform, stage by stage."""
    modules = [module for stage in STAGE_MODULES.values() for module in stage]
    return list(load_assets_from_modules(modules))
