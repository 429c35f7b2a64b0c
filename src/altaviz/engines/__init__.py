"""Compute engines behind one interface: ``polars`` (embedded default) and ``spark``."""

from __future__ import annotations

from altaviz.engines.base import Engine, EngineError, Txn, WriteResult
from altaviz.lake.location import LakeLocation

ENGINES = ("polars", "spark")


def get_engine(name: str, location: LakeLocation) -> Engine:
    """The engine called ``name`` over the lakehouse at ``location``."""
    if name == "polars":
        from altaviz.engines.polars_engine import PolarsEngine

        return PolarsEngine(location)
    if name == "spark":
        from altaviz.engines.spark_engine import SparkEngine

        return SparkEngine(location)
    raise ValueError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "EngineError", "Txn", "WriteResult", "get_engine"]
