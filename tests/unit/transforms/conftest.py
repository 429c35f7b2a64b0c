"""Frames for the transforms' unit tests, on Polars and (where cheap) on local Spark.

``frame(rows)`` builds a small hand-made frame on the backend under test. Tests run on
Polars; a module whose transforms are cheap on Spark too overrides ``backend`` with both
(Spark's per-job overhead makes the others cost a minute or more each on a local session).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import narwhals as nw
import polars as pl
import pytest

from altaviz.core.frames import Frame, local

MakeFrame = Callable[..., Frame]


def _spark_or_skip() -> Any:
    pytest.importorskip("pyspark", reason="the Spark engine is an optional extra: make test has it")
    from altaviz.engines.spark_session import spark_session

    return spark_session()


@pytest.fixture(params=["polars"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def frame(backend: str) -> MakeFrame:
    """Hand-made rows as a frame of the backend: eager on Polars, lazy on Spark."""

    def make(data: dict[str, list[Any]], schema: dict[str, Any] | None = None) -> Frame:
        native = pl.DataFrame(data, schema=schema)
        if backend == "polars":
            return nw.from_native(native)
        spark = _spark_or_skip()
        return nw.from_native(spark.createDataFrame(native.to_pandas()))

    return make


def rows_of(result: Frame, *sort: str) -> list[dict[str, Any]]:
    """The result's rows back on the driver, sorted."""
    eager = local(result)
    return (eager.sort(*sort) if sort else eager).rows(named=True)


@pytest.fixture
def empty(backend: str) -> Callable[[Any], Frame]:
    """An empty frame with a catalogue table's schema, on the backend under test."""

    def make(spec: Any) -> Frame:
        if backend == "polars":
            return nw.from_native(pl.DataFrame(schema=spec.schema.polars()))
        spark = _spark_or_skip()
        return nw.from_native(spark.createDataFrame([], spec.schema.spark()))

    return make
