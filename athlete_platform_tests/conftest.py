"""Shared fixtures: one real local SparkSession per test session, temporary Delta roots, realdata path."""

import os
from pathlib import Path

import pytest

from athlete_platform_tests.support.paths import REALDATA

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")


@pytest.fixture(scope="session")
def spark_resource():
    from athlete_platform.resources.spark import SparkResource

    resource = SparkResource(master="local[2]", shuffle_partitions=2, driver_memory="2g")
    session = resource.get_session()
    yield resource
    session.stop()


@pytest.fixture()
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real Strava data folder {REALDATA} is absent (it lives in ../shared/realdata beside the repo)")
    return REALDATA
