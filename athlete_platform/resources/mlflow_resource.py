"""MLflow tracking and registry as a typed resource (a small wrapper around ``MlflowClient``).

Why not dagster-mlflow's ``mlflow_tracking``: it is a legacy function-style resource that keeps one
MLflow run per Dagster run and leaves it RUNNING unless a hook ends it (shared/reference notes); our
training asset opens and closes its own run and other assets only read the registry.

Locally: sqlite tracking + registry in the platform home, artifacts in a folder beside it (created with an
explicit ``artifact_location`` so nothing lands in ``./mlruns``). On Databricks: tracking ``databricks``,
registry ``databricks-uc``, a Unity Catalog model name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource

if TYPE_CHECKING:
    from mlflow import MlflowClient


class MlflowResource(ConfigurableResource):
    tracking_uri: str
    registry_uri: str | None = None  # None: same as tracking
    experiment_name: str = "athlete-platform/time_estimator"
    artifact_location: str | None = None  # local folder (or None on Databricks: the workspace decides)
    model_name: str = "time_estimator"

    def configure_process(self) -> None:
        """Point the global mlflow module at this store (mlflow.* calls read process-global state)."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)

    def client(self) -> "MlflowClient":
        from mlflow import MlflowClient

        self.configure_process()
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri)

    def experiment_id(self) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.artifact_location:
            from pathlib import Path

            Path(self.artifact_location).mkdir(parents=True, exist_ok=True)
            location = Path(self.artifact_location).resolve().as_uri()
        return client.create_experiment(self.experiment_name, artifact_location=location)
