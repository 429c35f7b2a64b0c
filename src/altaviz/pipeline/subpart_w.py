"""The annual Subpart W report pack of one reporting facility.

40 CFR 98.238 defines an onshore natural gas gathering and boosting facility as the gathering
and boosting equipment under common control in one hydrocarbon basin: the facility here is a
basin. For a reporting year the pack holds, as CSV files and a PDF summary:

- CO2, CH4 and CO2e by source type (combustion, 98.233(z); reciprocating compressor venting,
  98.233(p)) and by unit, and the 25,000 t CO2e threshold determination (98.2(a)(2));
- each unit's hours in each operating mode;
- the rod-packing measurements, replacements and repairs of the year;
- every factor with its source, the configuration's and the code's version, the data range
  and the Delta versions of the tables read.

Nothing in the files depends on when or by whom they were made, so the same inputs give the
same bytes. Each generation is recorded in ``compliance_reports`` (who, when, inputs and each
file's SHA-256); with the recorded table versions, Delta time travel gives back the very
rows, down to the readings, behind any figure.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from altaviz import __version__
from altaviz.config import AppConfig
from altaviz.core.errors import InputError, NotFoundError
from altaviz.core.frames import local
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.ml.emissions import LB_PER_TONNE
from altaviz.pipeline.report_pdf import render_summary
from altaviz.transforms.packing import RULE_NAMES, unit_rules

INPUT_TABLES = (
    lake.COMPRESSOR_METADATA,
    lake.EMISSIONS_ESTIMATES,
    lake.OPERATING_MODE_DAYS,
    lake.PACKING_MEASUREMENTS,
    lake.MAINTENANCE_EVENTS,
)

FACTOR_SOURCES: dict[str, tuple[str, str]] = {
    "fuel_mmbtu_per_hp_hour": ("MMBtu/hp-h", "Product specification (engine fuel use)"),
    "combustion_ch4_lb_per_mmbtu": ("lb/MMBtu", "40 CFR 98 Subpart C Table C-2, natural gas"),
    "combustion_co2_lb_per_mmbtu": ("lb/MMBtu", "40 CFR 98 Subpart C Table C-1 (53.06 kg/MMBtu)"),
    "packing_leak_scf_per_hour": ("scf/h per unit", "Product specification (rod packing)"),
    "reference_compression_ratio": ("-", "Product specification"),
    "packing_leak_scfm_per_psi": (
        "scf/min per cylinder per psi",
        "Fleet calibration: measured vent flow against discharge pressure lost",
    ),
    "gas_density_lb_per_scf": ("lb/scf", "Product specification"),
    "methane_fraction": ("mol fraction", "Product specification (gas composition)"),
    "gwp_ch4": ("-", "40 CFR 98 Subpart A Table A-1 (IPCC AR5), reporting years 2024 on"),
    "reporting_threshold_t_co2e": ("t CO2e/yr", "40 CFR 98.2(a)(2)"),
    "packing_vent_limit_scfm_per_cylinder": ("scf/min per cylinder", "40 CFR 60.5385b (OOOOb)"),
    "packing_measurement_interval_hours": ("operating hours", "40 CFR 60.5385b (OOOOb)"),
}
SOURCE_TYPES = (
    ("Combustion: compressor engines", "98.233(z)"),
    ("Reciprocating compressor venting: rod packing", "98.233(p)"),
)


@dataclass(frozen=True)
class ReportPack:
    """A generated pack: its ID, what it covers, its files' bytes and the inputs read."""

    report_id: str
    facility: str
    basin_code: str
    year: int
    data_from: date
    data_to: date
    co2e_t: float
    over_threshold: bool
    inputs: dict[str, int | None]
    files: dict[str, bytes]

    def digests(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.files.items()}


def build_report(engine: Engine, config: AppConfig, facility: str, year: int) -> ReportPack:
    """The report pack of ``facility`` (a basin's name or code) for ``year``, from the
    lakehouse as it is now. Raises ``NotFoundError`` for an unknown basin or a year without
    estimates."""
    units = _native(engine.read(lake.COMPRESSOR_METADATA))
    basin = units.filter((pl.col("basin") == facility) | (pl.col("basin_code") == facility))
    if not basin.height:
        known = ", ".join(sorted(set(units["basin_code"].to_list())))
        raise NotFoundError(f"no basin {facility!r} in the fleet (known: {known})")
    name, code = basin.item(0, "basin"), basin.item(0, "basin_code")
    first, last = date(year, 1, 1), date(year, 12, 31)
    in_year = nw.col("date").is_between(first, last) & (nw.col("basin") == name)
    rows = _native(engine.read(lake.EMISSIONS_ESTIMATES, in_year))
    if not rows.height:
        raise NotFoundError(f"no emissions estimates for {name} in {year}")
    ids = basin["compressor_id"].to_list()
    modes = _native(
        engine.read(
            lake.OPERATING_MODE_DAYS,
            nw.col("date").is_between(first, last) & nw.col("compressor_id").is_in(ids),
        )
    )
    records = _native(engine.read(lake.PACKING_MEASUREMENTS, nw.col("compressor_id").is_in(ids)))
    maintenance = _native(engine.read(lake.MAINTENANCE_EVENTS, nw.col("compressor_id").is_in(ids)))
    inputs = {spec.name: engine.version(spec) for spec in INPUT_TABLES}
    factors = config.models.emissions
    data_from, data_to = rows["date"].min(), rows["date"].max()
    identity = json.dumps(
        {
            "facility": code,
            "year": year,
            "inputs": inputs,
            "factors": factors.model_dump(),
            "packing": config.models.packing.model_dump(mode="json"),
            "code": __version__,
        },
        sort_keys=True,
    )
    report_id = f"SW-{code}-{year}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"

    by_unit = _by_unit(rows, modes, basin, config)
    by_source = _by_source(rows, factors.gwp_ch4)
    co2e = float(by_source["co2e_t"].sum())
    days = (data_to - data_from).days + 1
    annualised = co2e * 365.0 / days
    threshold = factors.reporting_threshold_t_co2e
    summary = pl.DataFrame(
        {
            "report_id": [report_id],
            "facility": [name],
            "basin_code": [code],
            "reporting_year": [year],
            "data_from": [data_from],
            "data_to": [data_to],
            "days_covered": [days],
            "units": [basin.height],
            "co2_t": [float(by_source["co2_t"].sum())],
            "ch4_t": [float(by_source["ch4_t"].sum())],
            "co2e_t": [co2e],
            "co2e_t_annualised": [annualised],
            "threshold_t_co2e": [threshold],
            "must_report": [annualised >= threshold],
            "code_version": [__version__],
            **{f"input_{k}_version": [v] for k, v in inputs.items()},
        }
    )
    packing = _packing_records(records, maintenance, first, last)
    factor_rows = pl.DataFrame(
        [
            {
                "factor": key,
                "value": float(getattr(factors, key)),
                "unit": unit,
                "source": source,
                "config_version": config.models.version,
            }
            for key, (unit, source) in FACTOR_SOURCES.items()
        ]
    )
    tables = {
        "summary": summary,
        "emissions-by-source": by_source,
        "emissions-by-unit": by_unit,
        "operating-modes": _modes_by_unit(modes, basin),
        "packing-records": packing,
        "factors": factor_rows,
    }
    stem = f"subpart-w-{code}-{year}"
    files = {f"{stem}-{name}.csv": _csv(frame) for name, frame in tables.items()}
    files[f"{stem}-summary.pdf"] = render_summary(report_id, tables, data_to)
    return ReportPack(
        report_id=report_id,
        facility=name,
        basin_code=code,
        year=year,
        data_from=data_from,
        data_to=data_to,
        co2e_t=co2e,
        over_threshold=annualised >= threshold,
        inputs=inputs,
        files=files,
    )


def write_report(pack: ReportPack, folder: Path) -> list[Path]:
    """Write the pack's files into ``folder`` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(pack.files.items()):
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


def record_generation(engine: Engine, pack: ReportPack, who: str) -> datetime:
    """Append the generation to ``compliance_reports``; returns its time."""
    now = datetime.now(UTC)
    row = {
        "report_id": [pack.report_id],
        "facility": [pack.facility],
        "year": [pack.year],
        "generated_at": [now],
        "generated_by": [who],
        "code_version": [__version__],
        "data_from": [pack.data_from],
        "data_to": [pack.data_to],
        "inputs": [json.dumps(pack.inputs, sort_keys=True)],
        "files": [json.dumps(pack.digests(), sort_keys=True)],
        "co2e_t": [pack.co2e_t],
        "over_threshold": [pack.over_threshold],
    }
    engine.append(lake.COMPLIANCE_REPORTS, engine.frame(lake.COMPLIANCE_REPORTS, row))
    return now


def generate_report(
    engine: Engine, config: AppConfig, facility: str, year: int, who: str, folder: Path | None
) -> ReportPack:
    """Build the pack, keep it beside a local lakehouse's tables, write it to ``folder`` (if
    given) and record the generation."""
    if not who.strip():
        raise InputError("say who generates the report (it is recorded with it)")
    pack = build_report(engine, config, facility, year)
    for target in (report_folder(engine, pack.report_id), folder):
        if target is not None:
            write_report(pack, target)
    record_generation(engine, pack, who)
    return pack


def generations(engine: Engine, facility: str | None = None) -> pl.DataFrame:
    """Every recorded generation, newest first."""
    rows = _native(engine.read(lake.COMPLIANCE_REPORTS))
    if facility:
        rows = rows.filter(pl.col("facility") == facility)
    return rows.sort("generated_at", descending=True)


def _by_source(rows: pl.DataFrame, gwp: float) -> pl.DataFrame:
    combustion, venting = SOURCE_TYPES
    totals = rows.select(
        (pl.col("co2_combustion_lb").sum() / LB_PER_TONNE).alias("co2"),
        (pl.col("ch4_combustion_lb").sum() / LB_PER_TONNE).alias("ch4_c"),
        (pl.col("ch4_packing_lb").sum() / LB_PER_TONNE).alias("ch4_v"),
        pl.col("compressor_id").n_unique().alias("units"),
    ).row(0, named=True)
    frame = pl.DataFrame(
        {
            "source_type": [combustion[0], venting[0]],
            "rule": [combustion[1], venting[1]],
            "units": [totals["units"]] * 2,
            "co2_t": [totals["co2"], 0.0],
            "ch4_t": [totals["ch4_c"], totals["ch4_v"]],
        }
    )
    return frame.with_columns((pl.col("co2_t") + pl.col("ch4_t") * gwp).alias("co2e_t"))


def _by_unit(
    rows: pl.DataFrame, modes: pl.DataFrame, basin: pl.DataFrame, config: AppConfig
) -> pl.DataFrame:
    limit = config.models.emissions.packing_vent_limit_scfm_per_cylinder
    totals = rows.group_by("compressor_id").agg(
        pl.col("fuel_mmbtu").sum(),
        (pl.col("co2_combustion_lb").sum() / LB_PER_TONNE).alias("co2_combustion_t"),
        (pl.col("ch4_combustion_lb").sum() / LB_PER_TONNE).alias("ch4_combustion_t"),
        (pl.col("ch4_packing_lb").sum() / LB_PER_TONNE).alias("ch4_venting_t"),
        (pl.col("ch4_lb").sum() / LB_PER_TONNE).alias("ch4_t"),
        pl.col("co2e_t").sum(),
        pl.col("packing_vent_scfm_per_cylinder").max().alias("max_estimated_vent_scfm"),
        pl.col("packing_over_limit").sum().cast(pl.Int32).alias("hours_over_limit"),
    )
    ruled = unit_rules(basin, config.models.packing).select(
        "compressor_id",
        "station_id",
        "model",
        pl.col("rule").replace_strict(RULE_NAMES).alias("packing_rule"),
    )
    return (
        ruled.join(totals, on="compressor_id", how="left")
        .with_columns(pl.lit(limit).alias("vent_limit_scfm"))
        .fill_null(0)
        .sort("compressor_id")
    )


def _modes_by_unit(modes: pl.DataFrame, basin: pl.DataFrame) -> pl.DataFrame:
    hours = ["operating_hours", "standby_hours", "depressurised_hours", "not_reporting_hours"]
    return (
        basin.select("compressor_id", "station_id")
        .join(
            modes.group_by("compressor_id").agg(*(pl.col(h).sum() for h in hours)),
            on="compressor_id",
            how="left",
        )
        .fill_null(0.0)
        .sort("compressor_id")
    )


def _packing_records(
    records: pl.DataFrame, maintenance: pl.DataFrame, first: date, last: date
) -> pl.DataFrame:
    """The year's measurements and replacements (per cylinder) and packing-leak repairs."""
    in_year = pl.col("at").dt.date().is_between(first, last)
    measured = records.select(
        pl.col("measured_at").alias("at"),
        "compressor_id",
        "measurement_id",
        "kind",
        "cylinder",
        "vent_scfm",
        "instrument",
        "measured_by",
        "recorded_by",
    )
    repairs = maintenance.filter(pl.col("failure_mode") == "packing_leak").select(
        pl.col("completed_at").alias("at"),
        "compressor_id",
        pl.col("event_id").alias("measurement_id"),
        pl.lit("repair").alias("kind"),
        pl.lit(None, dtype=pl.Int32).alias("cylinder"),
        pl.lit(None, dtype=pl.Float64).alias("vent_scfm"),
        pl.lit(None, dtype=pl.String).alias("instrument"),
        pl.lit(None, dtype=pl.String).alias("measured_by"),
        pl.lit("maintenance log").alias("recorded_by"),
    )
    return (
        pl.concat([measured, repairs], how="vertical_relaxed")
        .filter(in_year)
        .sort("at", "compressor_id", "kind", "cylinder", nulls_last=True)
    )


def _csv(frame: pl.DataFrame) -> bytes:
    """The frame as CSV: floats to 6 decimals, timestamps in RFC 3339."""
    buffer = io.BytesIO()
    rounded = frame.with_columns(pl.col(pl.Float64).round(6))
    rounded.write_csv(buffer, datetime_format="%Y-%m-%dT%H:%M:%SZ")
    return buffer.getvalue()


def _native(frame: Any) -> pl.DataFrame:
    return nw.to_native(local(frame))


REPORTS_FOLDER = "_reports"


def report_folder(engine: Engine, report_id: str) -> Path | None:
    """Where a local lakehouse keeps a generated pack (beside its tables); None on OneLake,
    where packs are written where the command says."""
    if engine.location.onelake:
        return None
    return Path(engine.location.root) / REPORTS_FOLDER / report_id


def stored_file(engine: Engine, report_id: str, name: str) -> tuple[bytes, str]:
    """A kept pack's file and its media type; ``NotFoundError`` for anything else (names
    are plain file names: no way out of the pack's folder)."""
    folder = report_folder(engine, report_id)
    safe = "/" not in name and "/" not in report_id and ".." not in name + report_id
    path = folder / name if folder is not None and safe else None
    if path is None or not path.is_file():
        raise NotFoundError(f"no file {name!r} in report {report_id!r}")
    kind = "application/pdf" if name.endswith(".pdf") else "text/csv; charset=utf-8"
    return path.read_bytes(), kind


def stored_files(engine: Engine, report_id: str) -> list[str]:
    """The names of a kept pack's files (none when it is not kept with this lakehouse)."""
    folder = report_folder(engine, report_id)
    return sorted(p.name for p in folder.iterdir()) if folder and folder.is_dir() else []
