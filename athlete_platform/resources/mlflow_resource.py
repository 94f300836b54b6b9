"""MLflow tracking and registry as a typed resource (a small wrapper around ``MlflowClient``).

Why not dagster-mlflow (not a dependency): its ``mlflow_tracking`` is a legacy function-style resource that
keeps one MLflow run per Dagster run, left RUNNING unless its ``end_mlflow_on_run_finished`` hook ends it —
and that hook ends the run active in the process it runs in, the Dagster host, while on Databricks the
training step runs (and its MLflow run lives) on the cluster. Our training asset opens and closes its own
run; a step that dies inside it is covered by ``end_unfinished_runs`` (the ``weekly_training_job`` failure
hook in ``jobs.py``), which finds the Dagster run's MLflow runs by tag in the store, wherever they ran.

Locally: sqlite tracking + registry in the platform home, artifacts in a folder beside it (created with an
explicit ``artifact_location`` so nothing lands in ``./mlruns``). On Databricks: tracking ``databricks``,
registry ``databricks-uc``, a Unity Catalog model name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from athlete_platform.model.tracking import MlflowLinks


#: The tag of every MLflow run a Dagster step opens (``model/time_estimator`` sets it): the Dagster run id.
DAGSTER_RUN_TAG = "dagster_run_id"


class MlflowResource(ConfigurableResource):
    tracking_uri: str
    registry_uri: str | None = None  # None: same as tracking
    experiment_name: str = "athlete-platform/time_estimator"
    artifact_location: str | None = None  # local folder (or None on Databricks: the workspace decides)
    model_name: str = "time_estimator"
    #: Where the UI of this store is served (e.g. ``http://localhost:5000`` for ``mlflow ui`` on the local
    #: sqlite file); None: the tracking URI when it is an http(s) server, the workspace on Databricks, else none.
    ui_url: str | None = None

    def links(self) -> "MlflowLinks | None":
        """URL builder for runs, experiments and model versions of this store; None when it has no UI address.
        On Databricks the workspace is ``DATABRICKS_HOST``, read at run time (on the cluster too)."""
        import os

        from athlete_platform.model.tracking import links_for

        return links_for(self.tracking_uri, self.ui_url, os.environ.get("DATABRICKS_HOST"))

    def configure_process(self) -> None:
        """Point the global mlflow module at this store (mlflow.* calls read process-global state), with MLflow's
        INFO lines off (``quiet.quiet_mlflow``)."""
        import mlflow

        from athlete_platform.quiet import quiet_mlflow

        quiet_mlflow()
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

    def end_unfinished_runs(self, dagster_run_id: str, status: str = "FAILED") -> list[str]:
        """End with ``status`` every MLflow run of the Dagster run ``dagster_run_id`` still RUNNING; the ids.

        A step ends its own MLflow run, even when it raises; one that dies inside it (a killed driver, a
        terminated cluster, out of memory) cannot, and the run would stay RUNNING for ever."""
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            return []
        unfinished = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.{DAGSTER_RUN_TAG} = '{dagster_run_id}' and attributes.status = 'RUNNING'",
        )
        for run in unfinished:
            client.set_terminated(run.info.run_id, status=status)
        return [run.info.run_id for run in unfinished]
