"""The rod-packing programme's records and its compliance alerts.

Packing records arrive two ways, both appended to ``packing_measurements`` and never changed:
the landing zone's ``packing_measurements.parquet`` (what the field already recorded), and
``record_measurement`` (the API, the CLI and the web app). The compliance stage turns the
records, the operating hours and the estimated vent flow into alerts, which the worklist
groups into cases like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.config import AppConfig
from altaviz.core.errors import InputError, NotFoundError
from altaviz.core.frames import differing_rows, local
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import RunContext
from altaviz.transforms import packing

LANDING_FILE = "packing_measurements.parquet"
KINDS = ("measurement", "replacement")


def land_packing_records(engine: Engine, source: Path) -> int:
    """Append the landing zone's packing records not on record yet; returns how many rows."""
    path = source / LANDING_FILE
    if not path.exists():
        return 0
    landed = ("measurement_id", "compressor_id", "measured_at", "cylinder", "vent_scfm", "kind")
    try:
        incoming = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"--source {source}: {LANDING_FILE} cannot be read ({exc})") from exc
    missing = [c for c in landed if c not in incoming.columns]
    if missing:
        raise InputError(f"--source {source}: {LANDING_FILE} lacks {', '.join(missing)}")
    for column in ("instrument", "measured_by", "unit_operating_hours"):
        if column not in incoming.columns:
            incoming = incoming.with_columns(pl.lit(None).alias(column))
    known = engine.read_local(lake.PACKING_MEASUREMENTS).select("measurement_id", "cylinder")
    new = incoming.join(nw.to_native(known), on=["measurement_id", "cylinder"], how="anti")
    if not new.height:
        return 0
    rows = new.with_columns(
        pl.lit(f"landing: {LANDING_FILE}").alias("recorded_by"),
        pl.lit(datetime.now(UTC)).alias("recorded_at"),
        pl.lit(None, dtype=pl.String).alias("note"),
    )
    rows = rows.select(lake.PACKING_MEASUREMENTS.schema.names)
    engine.append(lake.PACKING_MEASUREMENTS, nw.from_native(rows))
    return rows.height


def record_measurement(
    engine: Engine,
    compressor_id: str,
    vent_scfm: Sequence[float | None],
    measured_at: datetime,
    recorded_by: str,
    kind: str = "measurement",
    instrument: str | None = None,
    measured_by: str | None = None,
    unit_operating_hours: float | None = None,
    note: str | None = None,
) -> str:
    """Append one packing measurement (one value per cylinder, in cylinder order) or
    replacement; returns its ID. Refuses an unknown unit, a wrong number of cylinders, a
    negative flow, a moment in the future and a record already on file.

    >>> record_measurement(engine, "COMP-0001", [0.4, 0.5, 0.3, 0.6],
    ...     datetime(2026, 11, 30, 9, tzinfo=UTC), "jane@example.com")  # doctest: +SKIP
    'PK-COMP-0001-202611300900-M'
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    unit = _native(
        engine.read(lake.COMPRESSOR_METADATA, nw.col("compressor_id") == compressor_id).select(
            "cylinders"
        )
    )
    if not unit.height:
        raise NotFoundError(f"no compressor {compressor_id!r} in the fleet")
    cylinders = unit.item(0, "cylinders")
    if kind == "measurement" and len(vent_scfm) != cylinders:
        raise InputError(
            f"{compressor_id} has {cylinders} cylinders: give {cylinders} vent flows, "
            f"not {len(vent_scfm)}"
        )
    if any(v is not None and v < 0 for v in vent_scfm):
        raise InputError("a vent flow cannot be negative")
    if measured_at.tzinfo is None:
        raise InputError("the measurement time needs a time zone (for example 2026-11-30T09:00Z)")
    now = datetime.now(UTC)
    if measured_at > now:
        raise InputError(f"measured at {measured_at.isoformat()} is in the future")
    moment = measured_at.astimezone(UTC).replace(second=0, microsecond=0)
    measurement_id = f"PK-{compressor_id}-{moment:%Y%m%d%H%M}-{kind[0].upper()}"
    on_file = engine.read(
        lake.PACKING_MEASUREMENTS, nw.col("measurement_id") == measurement_id
    ).select("measurement_id")
    if local(on_file).shape[0]:
        raise InputError(f"{measurement_id} is on record already; records are never changed")
    values = list(vent_scfm) if vent_scfm else [None] * cylinders
    count = len(values)
    rows = {
        "measurement_id": [measurement_id] * count,
        "compressor_id": [compressor_id] * count,
        "measured_at": [moment] * count,
        "cylinder": list(range(1, count + 1)),
        "vent_scfm": values,
        "kind": [kind] * count,
        "instrument": [instrument] * count,
        "measured_by": [measured_by] * count,
        "unit_operating_hours": [unit_operating_hours] * count,
        "recorded_by": [recorded_by] * count,
        "recorded_at": [now] * count,
        "note": [note] * count,
    }
    engine.append(lake.PACKING_MEASUREMENTS, engine.frame(lake.PACKING_MEASUREMENTS, rows))
    return measurement_id


def programme(engine: Engine, config: AppConfig, as_of: datetime | None = None) -> pl.DataFrame:
    """Every unit's place in the packing programme (see ``transforms.packing``), as of the
    data's clock unless ``as_of`` is given."""
    as_of = as_of or _clock(engine)
    factors = config.models.emissions
    return packing.programme_status(
        _units(engine),
        nw.to_native(engine.read_local(lake.PACKING_MEASUREMENTS)),
        _native(engine.read(lake.OPERATING_MODE_DAYS)),
        config.models.packing,
        factors.packing_vent_limit_scfm_per_cylinder,
        factors.packing_measurement_interval_hours,
        as_of,
    )


def due_list(
    engine: Engine, config: AppConfig, basin: str | None = None, within_days: int | None = None
) -> tuple[datetime, pl.DataFrame]:
    """The programme as of the data's clock, soonest due first: of one basin (name or code)
    if given, and only units due within ``within_days`` (overdue ones included) if given."""
    if not engine.exists(lake.COMPRESSOR_METADATA):
        raise NotFoundError(
            f"no fleet registered in {engine.location.root} (run `altaviz pipeline` first)"
        )
    as_of = _clock(engine)
    units = programme(engine, config, as_of)
    if basin:
        codes = _units(engine).select("basin", "basin_code").unique()
        names = codes.filter((pl.col("basin") == basin) | (pl.col("basin_code") == basin))
        if not names.height:
            raise NotFoundError(f"no basin {basin!r} in the fleet")
        units = units.filter(pl.col("basin") == names.item(0, "basin"))
    if within_days is not None:
        horizon = as_of + timedelta(days=within_days)
        units = units.filter(pl.col("due_at") <= horizon)
    return as_of, units.with_columns(pl.col("rule").replace_strict(packing.RULE_NAMES))


def mode_hours(engine: Engine, year: int, by: str = "basin") -> pl.DataFrame:
    """Hours in each operating mode per unit, station or basin over a calendar year."""
    key = {"unit": "compressor_id", "station": "station_id", "basin": "basin"}[by]
    days = _native(
        engine.read(
            lake.OPERATING_MODE_DAYS,
            nw.col("date").is_between(date(year, 1, 1), date(year, 12, 31)),
        )
    )
    units = _units(engine).select("compressor_id", "station_id", "basin")
    return (
        days.join(units, on="compressor_id", how="left")
        .group_by(key)
        .agg(
            pl.col("compressor_id").n_unique().alias("units"),
            *(pl.col(c).sum() for c in packing.MODE_HOURS),
        )
        .sort(key)
    )


def compliance_stage(run: RunContext) -> int:
    """Rewrite the packing programme's alerts where they changed; returns how many are open."""
    engine, cfg = run.engine, run.config
    if not engine.exists(lake.COMPRESSOR_METADATA):
        return 0
    alerts = packing.compliance_alerts(
        _units(engine),
        _native(engine.read_local(lake.PACKING_MEASUREMENTS)),
        _flags(engine),
        _native(run.repairs()),
        cfg.models.packing,
        cfg.models.emissions.packing_vent_limit_scfm_per_cylinder,
    )
    # The packing programme's alerts are a few per unit: compared on the driver.
    framed = engine.frame(lake.ALERT_HISTORY, alerts.to_dict(as_series=False))
    current = engine.read_local(lake.ALERT_HISTORY, nw.col("alert_type").is_in(packing.ALERT_TYPES))
    names = lake.ALERT_HISTORY.schema.names
    if (
        local(differing_rows(framed, current, names)).shape[0]
        or local(differing_rows(current, framed, names)).shape[0]
    ):
        engine.replace(lake.ALERT_HISTORY, framed, {"alert_type": list(packing.ALERT_TYPES)})
    return alerts.filter(pl.col("state") == "open").height


def _flags(engine: Engine) -> pl.DataFrame:
    """The estimated vent flow of units ever flagged over the limit, hour by hour."""
    flagged = _native(
        engine.read(lake.EMISSIONS_ESTIMATES, nw.col("packing_over_limit")).select("compressor_id")
    )
    units = sorted(set(flagged["compressor_id"].to_list()))
    return _native(
        engine.read(lake.EMISSIONS_ESTIMATES, nw.col("compressor_id").is_in(units)).select(
            "compressor_id", "hour", "packing_over_limit", "packing_vent_scfm_per_cylinder"
        )
    )


def _units(engine: Engine) -> pl.DataFrame:
    return _native(
        engine.read_local(lake.COMPRESSOR_METADATA).select(
            "compressor_id",
            "station_id",
            "basin",
            "basin_code",
            "region",
            "install_date",
            "operating_hours",
        )
    )


def _clock(engine: Engine) -> datetime:
    """The data's clock: its newest reading (now, before any)."""
    newest = engine.column_max(lake.SENSOR_CLEANED, "timestamp")
    return newest if isinstance(newest, datetime) else datetime.now(UTC)


def _native(frame: Any) -> pl.DataFrame:
    return nw.to_native(local(frame))
