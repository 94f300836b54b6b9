"""Materialize the daily graph of ``support.daily_graph.two_athletes`` from its first day to ``last`` through a Spark
Connect server, into a Delta root: ``python -m athlete_platform_tests.support.connect_client <sc://url> <root> <last>``.

A process holds either a classic Spark session or a Connect one, never both: pytest's process holds the classic
session, so the Connect client runs here.
"""

import sys
from pathlib import Path

from athlete_platform.resources.spark import SparkResource
from athlete_platform_tests.support.daily_graph import DAILY_GRAPH, FIRST, two_athletes
from athlete_platform_tests.support.runs import local_test_resources, materialize_window
from athlete_platform_tests.support.static_source import StaticSource


def main(url: str, root: Path, last: str) -> None:
    spark = SparkResource(remote=url)
    resources = local_test_resources(root, spark, activity_source=StaticSource(records=two_athletes()))
    materialize_window(DAILY_GRAPH, resources, FIRST.isoformat(), last)
    session = spark.get_session()
    print(f"ran on {type(session).__module__}.{type(session).__name__}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
