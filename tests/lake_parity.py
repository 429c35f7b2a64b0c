"""Compare two lakehouses table by table: the same rows, every column equal, floats within a
relative tolerance. Used to prove that the Polars and Spark engines give the same tables."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import polars as pl

from altaviz.lake import catalog as lake
from altaviz.lake.catalog import TableSpec

# Run bookkeeping, not results: which run wrote what, when, and at which table version.
RUN_COLUMNS = {"ingested_at", "recorded_at", "run_id"}
JSON_COLUMNS = {"raw_record"}
# Text that renders floats rounded (alert messages): two values equal to 1e-9 can round to
# neighbouring last digits when they straddle a tie, so such numbers may differ by one unit of
# their last printed digit. Everything else in the text must be equal.
ROUNDED_TEXT_COLUMNS = {"message"}
NUMBER = re.compile(r"-?\d+\.\d+")
LAYERS = {
    "bronze": "lh_bronze_raw",
    "silver": "lh_silver_cleaned",
    "gold": "lh_gold_curated",
    "ml": "lh_ml_serving",
}
DATA_TABLES = (
    lake.SENSOR_READINGS,
    lake.DEAD_LETTER,
    lake.COMPRESSOR_METADATA,
    lake.STATIONS,
    lake.MAINTENANCE_EVENTS,
    lake.SENSOR_CLEANED,
    lake.QUALITY_METRICS,
    lake.HOURLY_AGGREGATES,
    lake.DAILY_AGGREGATES,
    lake.ALERT_HISTORY,
    lake.FLEET_HEALTH,
    lake.UNIT_BASELINES,
    lake.OPERATING_MODES,
    lake.OPERATING_MODE_DAYS,
    lake.PACKING_MEASUREMENTS,
)

# What the ML stage writes (its model alerts are in alert_history).
ML_TABLES = (
    lake.FEATURE_STORE,
    lake.ML_PREDICTIONS,
    lake.EMISSIONS_ESTIMATES,
    lake.FEATURE_DRIFT,
    lake.ALERT_HISTORY,
)


def read_table(root: Path, spec: TableSpec) -> pl.DataFrame:
    path = root / LAYERS[spec.layer] / "Tables" / spec.name
    if not (path / "_delta_log").is_dir():
        return pl.DataFrame(schema={c.name: pl.String for c in spec.schema.columns}).clear()
    return pl.read_delta(str(path))


def differences(a: Path, b: Path, tables=DATA_TABLES, rel: float = 1e-9) -> list[str]:
    """What differs between the tables of lakehouses ``a`` and ``b`` (empty when equal)."""
    found = []
    for spec in tables:
        left, right = read_table(a, spec), read_table(b, spec)
        found += [f"{spec.name}: {p}" for p in _table_differences(spec, left, right, rel)]
    return found


def _table_differences(
    spec: TableSpec, left: pl.DataFrame, right: pl.DataFrame, rel: float
) -> list[str]:
    if left.height != right.height:
        return [f"{left.height} rows != {right.height} rows"]
    if left.height == 0:
        return []
    columns = [c.name for c in spec.schema.columns if c.name not in RUN_COLUMNS]
    floats = {c.name for c in spec.schema.columns if c.type == "float64"}
    # Order by the exact columns first (floats last: they may differ in the last bits).
    order = [c for c in columns if c not in floats and c not in JSON_COLUMNS] + [
        c for c in columns if c in floats
    ]
    left = left.select(columns).sort(order, nulls_last=True)
    right = right.select(columns).sort(order, nulls_last=True)
    problems = []
    for column in columns:
        x, y = left.get_column(column).to_list(), right.get_column(column).to_list()
        bad = [
            i
            for i, (u, v) in enumerate(zip(x, y, strict=True))
            if not _same(column, u, v, floats, rel)
        ]
        if bad:
            i = bad[0]
            problems.append(f"{column}: {len(bad)} rows differ, e.g. {x[i]!r} != {y[i]!r}")
    return problems


def _same(column: str, u: Any, v: Any, floats: set[str], rel: float) -> bool:
    if u is None or v is None:
        return u is None and v is None
    if column in floats:
        if math.isnan(u) or math.isnan(v):
            return math.isnan(u) and math.isnan(v)
        return u == v or abs(u - v) <= rel * max(abs(u), abs(v))
    if column in JSON_COLUMNS:
        return _json_same(json.loads(u), json.loads(v), rel)
    if column in ROUNDED_TEXT_COLUMNS:
        return _rounded_text_same(u, v)
    return u == v


def _rounded_text_same(u: str, v: str) -> bool:
    if NUMBER.sub("#", u) != NUMBER.sub("#", v):
        return False
    for a, b in zip(NUMBER.findall(u), NUMBER.findall(v), strict=True):
        unit = 10.0 ** -max(len(a.split(".")[1]), len(b.split(".")[1]))
        if abs(float(a) - float(b)) > unit * 1.001:
            return False
    return True


def _json_same(u: Any, v: Any, rel: float) -> bool:
    """JSON documents equal up to float tolerance and timestamp spelling."""
    if isinstance(u, dict) and isinstance(v, dict):
        keys = set(u) | set(v)
        return all(_json_same(u.get(k), v.get(k), rel) for k in keys)
    if isinstance(u, float | int) and isinstance(v, float | int) and not isinstance(u, bool):
        return u == v or abs(u - v) <= rel * max(abs(u), abs(v))
    if isinstance(u, str) and isinstance(v, str):
        return _instant(u) == _instant(v)
    return u == v


def _instant(text: str) -> str:
    """A timestamp however spelled (``T`` or space, ``Z``, fraction) as one canonical text."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return moment.isoformat()
