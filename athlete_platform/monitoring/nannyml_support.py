"""Importing NannyML safely: the one way the platform imports it (training's DLE in ``model/dle.py``, the
monitoring assets).

``import nannyml`` pulls in flaml → ``pyspark.pandas``, which starts a Spark JVM (and, with a session
active, turns ``spark.sql.ansi.enabled`` off); it also sends usage telemetry unless
``NML_DISABLE_USAGE_LOGGING=1`` and calls ``load_dotenv()``. Our Spark assets never use ``pyspark.pandas``,
so before the first import we block it (``sys.modules["pyspark.pandas"] = None``: flaml then skips its
Spark integration) and disable telemetry (NannyML skips usage logging whenever the variable is set).
Call :func:`import_nannyml` inside asset bodies only, never at module import time, so loading the
definitions stays cheap.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

_BLOCKED = "pyspark.pandas"


def import_nannyml() -> ModuleType:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
    if "nannyml" not in sys.modules and _BLOCKED not in sys.modules:
        # Only when pyspark.pandas was never imported in this process: blocking a loaded module would
        # break whoever uses it. (Nothing in athlete_platform imports pyspark.pandas.)
        sys.modules[_BLOCKED] = None  # type: ignore[assignment]
    import nannyml

    return nannyml
