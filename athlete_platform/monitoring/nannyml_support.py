"""Importing NannyML safely: the one way the platform imports it (training's DLE in ``model/dle.py``, the
monitoring assets); and reading a period's rows of its results (:func:`period_rows`).

``import nannyml`` pulls in flaml → ``pyspark.pandas``, which starts a Spark JVM; flaml also turns
``spark.sql.ansi.enabled`` off in the active session (``flaml/automl/spark/__init__.py``), and puts it back only
when the process exits. It also sends usage telemetry unless ``NML_DISABLE_USAGE_LOGGING=1`` and calls
``load_dotenv()``. Our Spark assets never use ``pyspark.pandas``, so before the first import we block it
(``sys.modules["pyspark.pandas"] = None``: flaml then skips its Spark integration), disable telemetry (NannyML
skips usage logging whenever the variable is set), and restore the session's ANSI mode right after the import:
the steps after the first NannyML step of a process would otherwise run with Spark's other semantics (overflows
and bad casts as nulls instead of errors).
Call :func:`import_nannyml` inside asset bodies only, never at module import time, so loading the
definitions stays cheap.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

import pandas as pd

_BLOCKED = "pyspark.pandas"
ANSI_CONF = "spark.sql.ansi.enabled"


def import_nannyml() -> ModuleType:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
    if "nannyml" not in sys.modules and _BLOCKED not in sys.modules:
        # Only when pyspark.pandas was never imported in this process: blocking a loaded module would
        # break whoever uses it. (Nothing in athlete_platform imports pyspark.pandas.)
        sys.modules[_BLOCKED] = None  # type: ignore[assignment]
    if "nannyml" in sys.modules:
        return sys.modules["nannyml"]
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    ansi = session.conf.get(ANSI_CONF) if session is not None else None
    import nannyml

    if session is not None:
        import atexit

        session.conf.set(ANSI_CONF, ansi)
        # flaml's exit hook would set the same value again, on a session that may be closed by then (a traceback).
        restore = getattr(sys.modules.get("flaml.automl.spark"), "restore_spark_ansi_mode", None)
        if restore is not None:
            atexit.unregister(restore)
    return nannyml


def period_rows(results: pd.DataFrame, period: str) -> pd.DataFrame:
    """The rows of one period (``"reference"`` or ``"analysis"``) of a NannyML result's ``to_df()``, numbered
    from 0: what ``result.filter(period=...).to_df()`` gives, without ``filter``'s deep copy of the whole result
    (it holds the reference and analysis data and, for a DLE, the metrics' LightGBM models)."""
    column = next(c for c in results.columns if c[0] == "chunk" and c[-1] == "period")
    return results[results[column] == period].reset_index(drop=True)
