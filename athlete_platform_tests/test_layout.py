"""The layout rule: an asset's folder, its asset group and its key prefix are the same stage name, and every key
the platform materializes is named once, in ``asset_keys``."""

from athlete_platform import asset_keys
from athlete_platform.stages import STAGE_MODULES, platform_assets


def test_folder_group_and_key_prefix_agree_for_every_asset():
    for assets_def in platform_assets():
        module = assets_def.op.compute_fn.decorated_fn.__module__  # e.g. athlete_platform.monitoring.reports
        folder = module.split(".")[1]
        for key in assets_def.keys:
            assert (key.path[0], assets_def.group_names_by_key[key]) == (folder, folder), (key, module)
            assert any(module == m.__name__ for m in STAGE_MODULES[folder]), (key, module)


def test_asset_keys_names_exactly_the_assets_of_the_definitions():
    defined = {key for assets_def in platform_assets() for key in assets_def.keys}
    assert defined == set(asset_keys.ALL_ASSET_KEYS)
    assert tuple(STAGE_MODULES) == asset_keys.STAGES
