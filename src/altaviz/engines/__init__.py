"""Compute engines behind one interface: ``polars`` (embedded default) and ``spark``."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from altaviz.config import AppConfig
from altaviz.core.errors import InputError, StorageError
from altaviz.engines.base import Engine, EngineError, Txn, WriteResult
from altaviz.lake.location import LakeLocation, lake_location
from altaviz.settings import Settings

ENGINES = ("polars", "spark")


def get_engine(name: str, location: LakeLocation) -> Engine:
    """The engine called ``name`` over the lakehouse at ``location``."""
    if name == "polars":
        from altaviz.engines.polars_engine import PolarsEngine

        return PolarsEngine(location)
    if name == "spark":
        from altaviz.engines.spark_engine import SparkEngine

        return SparkEngine(location)
    raise InputError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


def open_engine(
    name: str,
    lakehouse: Path | None,
    config: AppConfig,
    settings: Settings,
    spark_packages: Sequence[str] = (),
) -> Engine:
    """The engine ``name`` over the lakehouse the settings and ``lakehouse`` (a local root that
    overrides them) point at: the one way every command, stage and service opens one.

    >>> from altaviz.config import load_config
    >>> engine = open_engine("polars", Path("/tmp/lake"), load_config(), Settings())
    >>> engine.name
    'polars'
    """
    location = lake_location(config.lakehouse, settings, root=lakehouse)
    if name == "spark" and spark_packages:  # a session with extra packages (Kafka's source)
        from altaviz.engines.spark_engine import SparkEngine
        from altaviz.engines.spark_session import spark_session

        engine: Engine = SparkEngine(location, spark_session(packages=list(spark_packages)))
    else:
        engine = get_engine(name, location)
    _ = engine.batch_days  # a bad ALTAVIZ_BATCH_DAYS is refused before anything is written
    return engine


def ensure_writable(engine: Engine) -> None:
    """Fail early, in one line, when a local lakehouse cannot be written (a read-only
    folder, a full disk, no permission) - before a run has half-written anything."""
    if engine.location.onelake:
        return  # OneLake answers a write with its own clear error
    root = Path(engine.location.root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise StorageError(
            f"cannot write the lakehouse at {root}: {exc.strerror or exc} "
            "(a read-only folder, a full disk or no permission?)"
        ) from None


__all__ = [
    "ENGINES",
    "Engine",
    "EngineError",
    "Txn",
    "WriteResult",
    "ensure_writable",
    "get_engine",
    "open_engine",
]
