"""Python warnings a user of the platform cannot act on, filtered narrowly (category and message).

Installed when the package is imported (``athlete_platform/__init__.py``), so every process that loads the
definitions — ``make demo``/``make athlete``, each Dagster step process, ``dagster dev``, the tests — prints
them no more (the issue counted ~20 per process). Each filter names one warning, and why nobody can act on it:

* ``BetaWarning`` for ``backfill_policy`` (every daily asset is a single-run backfill: a deliberate choice,
  README "Backfills") and ``allow_nonexistent_upstream_partitions`` (a partition mapping that starts before the
  first partition): the platform's design uses these beta parameters; nothing to change on the user's side.
* ``SupersessionWarning`` for ``StepLauncher``: the Databricks environment runs each step through the
  ``databricks_pyspark_step_launcher`` (README "Running on Databricks"); Dagster says there is no plan to
  remove it.

Anything else — other beta parameters, deprecations, warnings from other libraries — still shows.

Log lines of other libraries are dropped only where the platform makes the call that emits them, for that call
(:func:`without_log_lines`): e.g. MLflow's advice, at each model logged from a Python object, to log models from
code instead (the platform's model is a fitted object by design, with pinned requirements).

MLflow's own progress lines (:func:`quiet_mlflow`): its INFO log records ("Creating initial MLflow database
tables...", "Validating input example against model signature") and the registry's prints ("Successfully registered
model", "Created version '3' of model"). The steps report what happened themselves (the version, its aliases, the
run's link). MLflow's warnings and errors still show, and a user who sets MLflow's own ``MLFLOW_LOGGING_LEVEL``
gets every line back.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: (category name, message regex): what :func:`ignore_unactionable_warnings` filters.
UNACTIONABLE = (
    ("BetaWarning", r"Parameter `backfill_policy` of function `asset` is currently in beta"),
    ("BetaWarning", r"Parameter `allow_nonexistent_upstream_partitions` of initializer "
                    r"`TimeWindowPartitionMapping.__init__` is currently in beta"),
    ("SupersessionWarning", r"StepLauncher is superseded"),
)


def ignore_unactionable_warnings() -> None:
    # The categories dagster re-exports, imported from where they live: ``import dagster`` costs ~0.6 s,
    # too much for a package import (pure domain code and its tests need no Dagster).
    from dagster_shared.utils import warnings as dagster_warnings

    for category, message in UNACTIONABLE:
        warnings.filterwarnings("ignore", message=message, category=getattr(dagster_warnings, category))


class _StartingWith(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextmanager
def without_log_lines(logger_name: str, prefix: str) -> Iterator[None]:
    """Records of logger ``logger_name`` whose message starts with ``prefix`` dropped while the block runs."""
    logger = logging.getLogger(logger_name)
    dropped = _StartingWith(prefix)
    logger.addFilter(dropped)
    try:
        yield
    finally:
        logger.removeFilter(dropped)


def quiet_mlflow() -> None:
    """MLflow's loggers at WARNING in this process, unless the user set ``MLFLOW_LOGGING_LEVEL`` (MLflow reads it
    when it is imported and configures its loggers from it: https://mlflow.org/docs/latest/ml/tracking/)."""
    from mlflow.environment_variables import MLFLOW_LOGGING_LEVEL

    if not MLFLOW_LOGGING_LEVEL.defined:
        logging.getLogger("mlflow").setLevel(logging.WARNING)


@contextmanager
def without_mlflow_prints() -> Iterator[None]:
    """The model registry's prints off while the block runs, unless the user set ``MLFLOW_LOGGING_LEVEL``: it
    ``print``s its progress ("Successfully registered model ...", "Created version ...") to MLflow's event stream,
    not through a logger a level could silence. The stream is muted and MLflow's log handlers write to stderr
    directly meanwhile, so its warnings still show."""
    import sys

    from mlflow.environment_variables import MLFLOW_LOGGING_LEVEL
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    if MLFLOW_LOGGING_LEVEL.defined:
        yield
        return
    handlers = [handler for handler in logging.getLogger("mlflow").handlers
                if isinstance(handler, logging.StreamHandler) and handler.stream is MLFLOW_LOGGING_STREAM]
    was = MLFLOW_LOGGING_STREAM.enabled
    for handler in handlers:
        handler.setStream(sys.stderr)
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = was
        for handler in handlers:
            handler.setStream(MLFLOW_LOGGING_STREAM)
