"""Options shared by many commands, and parsing of their values."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from altaviz.config import load_config
from altaviz.core.errors import InputError
from altaviz.engines import ENGINES, Engine, open_engine
from altaviz.settings import get_settings

EngineName = Enum("EngineName", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]
"""The compute engines, as the command line's choices."""


class Mode(StrEnum):
    batch = "batch"
    stream = "stream"


class Target(StrEnum):
    kafka = "kafka"
    eventhub = "eventhub"


LakehouseOption = Annotated[
    Path | None,
    typer.Option(help="Local lakehouse root \\[default: ALTAVIZ_LAKEHOUSE_ROOT or ./lakehouse]."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable result.")]


def open_lakehouse(lakehouse: Path | None) -> Engine:
    """The embedded engine over the lakehouse the settings (or ``--lakehouse``) point at."""
    return open_engine("polars", lakehouse, load_config(), get_settings())


def model_registry(engine: Engine) -> Any:
    """The model registry of ``engine``'s lakehouse (its store, its fleet's model)."""
    from altaviz.pipeline.models import open_registry

    return open_registry(engine, get_settings())


def parse_date(value: str | None, option: str = "--date") -> date | None:
    """A YYYY-MM-DD option's value, or a clear error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


def parse_start(value: str | None) -> datetime | None:
    """An ISO-8601 moment, or a clear error naming ``--start``."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--start {value!r} is not an ISO-8601 date or time (e.g. 2026-01-01T00:00Z)"
        ) from None
