"""Which fleet a lakehouse holds: the units and what each one is (model, maker, size, place).

A lakehouse is registered to one fleet. Metadata that changes every day (a unit's operating
hours) is not part of its identity; a unit's model, its install date or its station are. A
landing batch whose metadata changes them is either another fleet (refused) or a real change
of this one (a unit moved, new units), which the user must say; then the change is recorded
as a new version of the unit's row, never written over the old one.

>>> import polars as pl
>>> before = pl.DataFrame({"compressor_id": ["C1"], "model": ["A"], "operating_hours": [1.0]})
>>> after = before.with_columns(pl.lit("B").alias("model"), pl.lit(9.0).alias("operating_hours"))
>>> identity_changes(after, before).to_dicts()
[{'compressor_id': 'C1', 'change': 'model A → B'}]
>>> fingerprint(before) == fingerprint(before.with_columns(pl.lit(5.0).alias("operating_hours")))
True
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import polars as pl

VARYING = ("operating_hours",)
"""Metadata that moves on its own: not part of a unit's identity."""


def identity_columns(metadata: pl.DataFrame) -> list[str]:
    return [c for c in metadata.columns if c != "compressor_id" and c not in VARYING]


def fingerprint(metadata: pl.DataFrame) -> str:
    """A short, stable ID of a fleet: the hash of every unit's identity (order-free)."""
    columns = ["compressor_id", *sorted(identity_columns(metadata))]
    rows = metadata.select(columns).sort("compressor_id").write_csv(include_header=True)
    return hashlib.sha256(rows.encode()).hexdigest()[:12]


def identity_changes(incoming: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Per unit of ``incoming`` that is new or whose identity differs from ``current``: its
    ID and what changed, in words (``new unit``, ``model A → B; station_id X → Y``)."""
    columns = [c for c in identity_columns(incoming) if c in current.columns]
    joined = incoming.select("compressor_id", *columns).join(
        current.select("compressor_id", *columns), on="compressor_id", how="left", suffix="__was"
    )
    known = current["compressor_id"].to_list()
    parts = [
        pl.when(~pl.col(c).eq_missing(pl.col(f"{c}__was"))).then(
            pl.format("{} {} → {}", pl.lit(c), pl.col(f"{c}__was"), pl.col(c))
        )
        for c in columns
    ]
    described = joined.with_columns(
        pl.when(~pl.col("compressor_id").is_in(known))
        .then(pl.lit("new unit"))
        .otherwise(pl.concat_str(parts, separator="; ", ignore_nulls=True))
        .alias("change")
    )
    return described.filter(pl.col("change").is_not_null() & (pl.col("change") != "")).select(
        "compressor_id", "change"
    )


def describe(changes: pl.DataFrame, shown: int = 2) -> str:
    """A few changes as one short line: ``200 units differ (COMP-0001: model A → B, ...)``.

    >>> describe(pl.DataFrame({"compressor_id": ["C1", "C2"], "change": ["new unit", "x"]}))
    '2 units differ (C1: new unit; C2: x)'
    """

    def first(change: str) -> str:
        parts = change.split("; ")
        return "; ".join(parts[:2]) + ("; ..." if len(parts) > 2 else "")

    head = "; ".join(
        f"{r['compressor_id']}: {first(r['change'])}" for r in changes.head(shown).to_dicts()
    )
    more = ", ..." if changes.height > shown else ""
    return f"{changes.height:,} units differ ({head}{more})"


def history_rows(
    incoming: pl.DataFrame,
    previous: pl.DataFrame,
    changed: pl.DataFrame,
    at: datetime,
) -> pl.DataFrame:
    """Rows of ``compressor_metadata_history`` for the ``changed`` units: their open version
    in ``previous`` (the history) closed at ``at``, and a new version from ``at``."""
    units = changed["compressor_id"].to_list()
    closed = previous.filter(
        pl.col("compressor_id").is_in(units) & pl.col("valid_to").is_null()
    ).with_columns(pl.lit(at).cast(previous.schema["valid_to"]).alias("valid_to"))
    opened = (
        incoming.join(changed, on="compressor_id", how="semi")
        .join(changed, on="compressor_id")
        .with_columns(
            pl.lit(at).cast(previous.schema["valid_from"]).alias("valid_from"),
            pl.lit(None).cast(previous.schema["valid_to"]).alias("valid_to"),
        )
        .select(previous.columns)
    )
    return pl.concat([closed, opened], how="vertical")
