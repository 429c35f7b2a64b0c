"""MLflow: an experiment per model, runs with parameters and metrics, and the model registry
with champion/challenger aliases for the trained anomaly model.

Models belong to a fleet: the store lives with the lakehouse (``MLFLOW_TRACKING_URI``
overrides it), and the anomaly model is registered under its fleet's name
(``altaviz-anomaly-<fleet id>``), so a store shared by several lakehouses never serves one
fleet's model to another. Scoring loads the version the ``champion`` alias points at;
training registers a new version as ``challenger`` (or champion when there is none), so
training never disturbs scoring until a version is promoted.

>>> registry = Registry("sqlite:////tmp/altaviz-doctest-mlruns/mlflow.db")  # doctest: +SKIP
>>> registry.champion()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from altaviz.core.errors import ServiceError

EXPERIMENTS = {
    "anomaly": "altaviz-anomaly",
    "drift": "altaviz-temperature-drift",
    "rul": "altaviz-remaining-useful-life",
    "emissions": "altaviz-emissions",
}
ANOMALY_MODEL = "altaviz-anomaly"
CHAMPION, CHALLENGER = "champion", "challenger"
_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")

log = logging.getLogger("altaviz.ml")


class RegistryError(ServiceError):
    """MLflow cannot be reached or holds no usable model; the message says why in one line."""


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    alias: str
    run_id: str
    note: str | None = None  # e.g. a model learned from few hours says so


class Registry:
    """The MLflow tracking store and model registry at ``tracking_uri``; ``fleet`` (the
    lakehouse's fleet ID) names the anomaly model, ``lakehouse`` is recorded with it."""

    def __init__(
        self, tracking_uri: str, fleet: str | None = None, lakehouse: str | None = None
    ) -> None:
        from mlflow import MlflowClient

        self.uri = tracking_uri
        self.model = f"{ANOMALY_MODEL}-{fleet}" if fleet else ANOMALY_MODEL
        self.fleet = fleet
        self.lakehouse = lakehouse
        logging.getLogger("mlflow").setLevel(logging.ERROR)  # its notices are not ours to print
        self._artifacts = _local_artifact_root(tracking_uri)
        self._use()
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _use(self) -> None:
        """Point MLflow's process-wide (fluent) API at this store: another Registry may
        have pointed it elsewhere since."""
        import mlflow

        exported = {k: os.environ.get(k) for k in _URI_VARIABLES}
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        # MLflow also writes the URI into the environment; the user's variables stay theirs.
        for key, value in exported.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def experiment_id(self, model: str) -> str:
        name = EXPERIMENTS[model]
        try:
            found = self._client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            location = None if self._artifacts is None else (self._artifacts / name).as_uri()
            return self._client.create_experiment(name, artifact_location=location)
        except Exception as exc:  # MLflow raises many kinds; all mean the store is unusable
            raise RegistryError(f"MLflow at {self.uri}: {_first_line(exc)}") from exc

    def log_run(
        self, model: str, run_name: str, params: dict[str, Any], metrics: dict[str, float]
    ) -> str:
        """A finished run in the model's experiment; returns its run id."""
        run = self._client.create_run(self.experiment_id(model), run_name=run_name)
        for key, value in params.items():
            self._client.log_param(run.info.run_id, key, value)
        for key, value in metrics.items():
            if value == value:  # NaN metrics are not logged
                self._client.log_metric(run.info.run_id, key, float(value))
        self._client.set_terminated(run.info.run_id)
        return run.info.run_id

    def register_anomaly(
        self,
        model: Any,
        run_name: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        promote: bool = False,
    ) -> ModelRef:
        """Log ``model`` in a run, register it as a new version of the anomaly model and point
        ``challenger`` at it - or ``champion`` with ``promote`` or when there is none yet."""
        import mlflow
        import mlflow.sklearn

        experiment = self.experiment_id("anomaly")
        self._use()
        try:
            with mlflow.start_run(experiment_id=experiment, run_name=run_name) as run:
                mlflow.log_params(params)
                mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
                mlflow.set_tags(self._origin())
                with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints its own notices
                    info = mlflow.sklearn.log_model(
                        model,
                        name="model",
                        registered_model_name=self.model,
                        serialization_format="cloudpickle",  # the model class is altaviz's own
                        pip_requirements=_requirements(),  # inferring them takes seconds
                    )
            version = str(info.registered_model_version)
            for key, value in self._origin().items():
                self._client.set_model_version_tag(self.model, version, key, value)
            alias = CHAMPION if promote or self._alias_version(CHAMPION) is None else CHALLENGER
            self._client.set_registered_model_alias(self.model, alias, version)
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"MLflow at {self.uri}: {_first_line(exc)}") from exc
        log.info("registered %s version %s as %s", self.model, version, alias)
        return ModelRef(self.model, version, alias, run.info.run_id)

    def _origin(self) -> dict[str, str]:
        """Where a model comes from: the fleet and lakehouse it was trained on."""
        found = {"fleet_id": self.fleet, "lakehouse": self.lakehouse}
        return {k: v for k, v in found.items() if v}

    def promote(self, version: str) -> ModelRef:
        """Point ``champion`` at ``version`` (scoring uses it from the next run); a promoted
        challenger stops being the challenger."""
        try:
            found = self._client.get_model_version(self.model, version)
            self._client.set_registered_model_alias(self.model, CHAMPION, version)
            challenger = self._alias_version(CHALLENGER)
            if challenger is not None and str(challenger.version) == str(version):
                self._client.delete_registered_model_alias(self.model, CHALLENGER)
        except Exception as exc:
            raise RegistryError(f"{self.model} version {version}: {_first_line(exc)}") from exc
        return ModelRef(self.model, version, CHAMPION, found.run_id or "")

    def champion(self) -> tuple[Any, ModelRef] | None:
        """The champion anomaly model and its reference, or None when none is registered."""
        import mlflow.sklearn

        version = self._alias_version(CHAMPION)
        if version is None:
            return None
        self._use()
        try:
            model = mlflow.sklearn.load_model(f"models:/{self.model}@{CHAMPION}")
        except Exception as exc:
            raise RegistryError(
                f"{self.model}@{CHAMPION} (version {version}) cannot be loaded: {_first_line(exc)}"
            ) from exc
        return model, ModelRef(self.model, str(version.version), CHAMPION, version.run_id or "")

    def versions(self) -> list[dict[str, Any]]:
        """Every registered version of the anomaly model with its aliases, newest first."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._client.search_model_versions(f"name = '{self.model}'")
            aliases = self._client.get_registered_model(self.model).aliases
        except MlflowException:
            return []  # nothing registered yet
        except Exception as exc:
            raise RegistryError(f"MLflow at {self.uri}: {_first_line(exc)}") from exc
        rows = [
            {
                "version": str(v.version),
                "aliases": sorted(a for a, ver in aliases.items() if str(ver) == str(v.version)),
                "run_id": v.run_id,
            }
            for v in found
        ]
        return sorted(rows, key=lambda r: int(r["version"]), reverse=True)

    def _alias_version(self, alias: str) -> Any | None:
        from mlflow.exceptions import MlflowException

        try:
            return self._client.get_model_version_by_alias(self.model, alias)
        except MlflowException:
            return None  # no such model or alias yet
        except Exception as exc:
            raise RegistryError(f"MLflow at {self.uri}: {_first_line(exc)}") from exc


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "numpy", "altaviz")]


def _local_artifact_root(tracking_uri: str) -> Path | None:
    """Artifacts of a local SQLite store live beside its database file."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    database = Path(tracking_uri.removeprefix(prefix))
    database.parent.mkdir(parents=True, exist_ok=True)
    return (database.parent / "artifacts").resolve()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
