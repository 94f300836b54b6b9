import pytest

from athlete_platform_tests.model.weekly_training import train_weeks


@pytest.fixture(scope="package")
def trained_weeks(tmp_path_factory):
    """The five weekly runs of ``weekly_training.py``, once for the model tests that read them."""
    return train_weeks(tmp_path_factory.mktemp("weekly_training"))
