"""Reading the simulator's ground truth: which units were degrading, and how badly, when.

Severity follows the progress ``p`` of an episode (``fleet.yaml`` ``severity_bands``):
early_warning from onset, then warning, critical and failed; ``offline`` from the trip until
the unit is back in service; otherwise ``healthy``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

SEVERITY_ORDER = ("healthy", "early_warning", "warning", "critical", "failed", "offline")


def read_failures(output: str | Path) -> pl.DataFrame:
    """The failure episodes of a simulation written to ``output``."""
    return pl.read_parquet(Path(output) / "truth" / "failures.parquet")


def read_dirt(output: str | Path) -> pl.DataFrame:
    """Every defect injected into the telemetry of a simulation written to ``output``."""
    return pl.read_parquet(Path(output) / "truth" / "dirt" / "*.parquet")


def severity_at(failures: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """Severity of every unit with an episode at moment ``at``; units not listed are healthy.

    >>> from datetime import UTC
    >>> f = read_failures("data/fleet")  # doctest: +SKIP
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> severity_at(f, now)["severity"].value_counts()  # doctest: +SKIP
    """
    moment = (
        pl.lit(at).dt.convert_time_zone("UTC")
        if at.tzinfo
        else pl.lit(at).dt.replace_time_zone("UTC")
    )
    return (
        failures.filter(pl.col("onset_time") <= moment, pl.col("back_online_time") > moment)
        .with_columns(
            severity=pl.when(moment >= pl.col("failure_time"))
            .then(pl.lit("offline"))
            .when(moment >= pl.col("failed_time"))
            .then(pl.lit("failed"))
            .when(moment >= pl.col("critical_time"))
            .then(pl.lit("critical"))
            .when(moment >= pl.col("warning_time"))
            .then(pl.lit("warning"))
            .otherwise(pl.lit("early_warning"))
        )
        .select("compressor_id", "failure_mode", "severity")
    )
