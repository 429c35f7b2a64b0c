"""Where a lakehouse's models live: its MLflow store and the registry of its fleet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from altaviz.engines import Engine
from altaviz.pipeline.reference import fleet_id
from altaviz.settings import Settings

if TYPE_CHECKING:  # scikit-learn and MLflow load in seconds: only when a model is used
    from altaviz.ml.registry import Registry

STORE_FOLDER = "_models"


def model_store(engine: Engine, settings: Settings) -> str:
    """``MLFLOW_TRACKING_URI``, else a SQLite store inside a local lakehouse (it travels
    with the lakehouse), else - for OneLake, where Fabric sets the URI - ``./mlruns``."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    if engine.location.onelake:
        return "sqlite:///mlruns/mlflow.db"
    return f"sqlite:///{Path(engine.location.root) / STORE_FOLDER / 'mlflow.db'}"


def open_registry(engine: Engine, settings: Settings) -> Registry:
    """The model registry of ``engine``'s lakehouse: its store, its fleet's model."""
    from altaviz.ml.registry import Registry

    return Registry(model_store(engine, settings), fleet_id(engine), engine.location.root)
