"""Package metadata and the single list of dependencies (pyproject.toml holds tool config only)."""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "dagster==1.13.27",
    "dagster-webserver==1.13.27",
    "dagster-databricks==0.29.27",
    "dagster-deltalake==0.29.27",
    "pyspark[connect]==4.3.0",  # connect: the client of a local Spark Connect server (spark_server.py)
    "deltalake==1.6.6",
    "pyarrow>=15",
    # pandas 3 changes defaults the tables rely on (microsecond datetimes, a string dtype): not yet supported.
    "pandas>=2.1,<3",
    "numpy>=1.26",
    "scikit-learn>=1.4",
    "mlflow>=3.17,<4",
    "nannyml==0.13.1",
    # nannyml imports statsmodels without declaring it (see shared/reference notes).
    "statsmodels>=0.14",
    "stravalib>=2.6,<2.7",  # the API source overrides ApiV3 internals: re-check before widening
    "requests>=2.31",
    "fitdecode>=0.11",
    "matplotlib>=3.8",
]

TEST_REQUIRES = ["pytest>=8", "pytest-timeout>=2.3"]

setup(
    name="athlete_platform",
    version="0.1.0",
    description="Open athlete analytics and MLOps on a Dagster asset graph: Strava to CTL/ATL/TSB and race-time predictions.",
    packages=find_packages(exclude=["athlete_platform_tests*"]),
    python_requires=">=3.11,<3.13",
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES},
)
