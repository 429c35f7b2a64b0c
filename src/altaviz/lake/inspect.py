"""Read-side helpers for the CLI: stored reports, nothing that writes."""

from __future__ import annotations

from datetime import date
from typing import Any

import narwhals as nw

from altaviz.engines import Engine
from altaviz.lake import catalog as lake

ORDER = ("critical", "warning", "pass", "info")


def quality_report_rows(
    engine: Engine, day: date | None = None
) -> tuple[date, list[dict[str, Any]]]:
    """The stored quality checks of ``day`` (default: the latest date with a report)."""
    metrics = engine.read(lake.QUALITY_METRICS).collect("polars")
    if not metrics.shape[0]:
        raise LookupError("no quality reports yet: run `altaviz pipeline` first")
    when = day or metrics.get_column("date").max()
    rows = metrics.filter(nw.col("date") == when).rows(named=True)
    if not rows:
        raise LookupError(f"no quality report for {when}")
    rows.sort(key=lambda r: (ORDER.index(r["severity"]), r["check"]))
    return when, rows
