"""The cases stage: the worklist rebuilt from the alert history, what people did, and each
sick unit's latest diagnosis; written only where it changed (a rerun writes nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import narwhals as nw
import polars as pl

from altaviz.agent.offline import suspected_modes
from altaviz.core.frames import differing_rows, local
from altaviz.engines import Engine
from altaviz.lake import catalog as lake
from altaviz.pipeline.context import RunContext
from altaviz.transforms.cases import build_cases
from altaviz.transforms.repairs import current_baselines


@dataclass(frozen=True)
class CaseCounts:
    open: int = 0  # cases on the worklist: open, acknowledged or snoozed
    changed: int = 0  # case rows written by this run


def cases_stage(run: RunContext) -> CaseCounts:
    """Rebuild the ``cases`` table (see :mod:`altaviz.transforms.cases`)."""
    engine, cfg = run.engine, run.config
    now = engine.column_max(lake.SENSOR_CLEANED, "timestamp")
    alerts = _native(engine.read_local(lake.ALERT_HISTORY))
    if now is None or not alerts.height:
        return CaseCounts()
    repairs = _native(run.repairs())
    open_units = alerts.filter(pl.col("state") == "open").select("compressor_id").unique()
    cases = build_cases(
        alerts,
        _native(engine.read_local(lake.CASE_EVENTS)),
        _native(
            engine.read_local(lake.COMPRESSOR_METADATA).select(
                "compressor_id", "station_id", "basin"
            )
        ),
        repairs,
        _diagnoses(run, open_units, repairs, now),
        _last_seen(engine),
        now,
        cfg.thresholds.alerts.offline_after_minutes,
    )
    # The worklist is of the fleet's size: compared on the driver, with no Spark job.
    current = engine.read_local(lake.CASES)
    names = lake.CASES.schema.names
    framed = engine.frame(lake.CASES, cases.to_dict(as_series=False))
    changed = local(differing_rows(framed, current, names)).shape[0]
    gone = local(differing_rows(current, framed, names)).shape[0]
    if changed or gone:
        units = sorted(set(cases["compressor_id"]) | set(current["compressor_id"]))
        engine.replace(lake.CASES, framed, {"compressor_id": units})
    still = cases.filter(pl.col("state").is_in(["open", "acknowledged", "snoozed"])).height
    return CaseCounts(open=still, changed=changed)


def _native(frame: Any) -> pl.DataFrame:
    return nw.to_native(local(frame))


def _last_seen(engine: Engine) -> pl.DataFrame:
    """Per unit, the end of its newest hour in gold (when it was last heard from)."""
    newest = (
        engine.read(lake.HOURLY_AGGREGATES)
        .group_by("compressor_id")
        .agg(nw.col("hour").max().alias("last_seen"))
    )
    return _native(newest).with_columns(pl.col("last_seen") + timedelta(hours=1))


def _diagnoses(
    run: RunContext, units: pl.DataFrame, repairs: pl.DataFrame, now: datetime
) -> pl.DataFrame:
    """Per unit with an open alert: the failure signature of its recent readings against its
    baseline (the offline diagnostician's rules), the hours to failure the models give, and
    the evidence of both, as JSON."""
    schema = {
        "compressor_id": pl.String,
        "suspected_failure_mode": pl.String,
        "time_to_failure_hours": pl.Float64,
        "evidence": pl.String,
    }
    if not units.height:
        return pl.DataFrame(schema=schema)
    engine, rules = run.engine, run.config.models.diagnostics
    ids = units["compressor_id"].to_list()
    since = now - timedelta(hours=rules.window_hours)
    mine = nw.col("compressor_id").is_in(ids)
    recent = _native(
        engine.read_local(lake.HOURLY_AGGREGATES, mine & (nw.col("date") >= since.date())).filter(
            nw.col("hour") >= since
        )
    )
    bands = engine.read_local(lake.UNIT_BASELINES, mine)
    baselines = nw.to_native(current_baselines(bands, nw.from_native(repairs), now))
    models = _latest_predictions(engine, mine, now)
    found = {d["compressor_id"]: d for d in suspected_modes(recent, baselines, rules)}
    rows = []
    for unit in ids:
        signs = found.get(unit, {})
        model = models.get(unit, {})
        hours = model.get("rul_hours")
        if hours is None:
            hours = model.get("drift_hours_to_critical")
        evidence = {
            "deviations": {
                s: round(v, 4) for s, v in signs.get("deviations", {}).items() if abs(v) >= 0.02
            },
            "models": {k: v for k, v in model.items() if v is not None and k != "hour"},
        }
        rows.append((unit, signs.get("failure_mode"), hours, json.dumps(evidence, sort_keys=True)))
    return pl.DataFrame(rows, schema=schema, orient="row")


def _latest_predictions(engine: Engine, mine: nw.Expr, now: datetime) -> dict[str, dict]:
    """Each unit's newest prediction of the last two days: the models' figures for its case."""
    days = [now.date() - timedelta(days=1), now.date()]
    columns = ("anomaly_score", "rul_hours", "rul_sensor", "drift_hours_to_critical")
    newest = (
        _native(engine.read_local(lake.ML_PREDICTIONS, mine & nw.col("date").is_in(days)))
        .sort("hour")
        .group_by("compressor_id")
        .last()
    )
    if not newest.height:
        return {}
    return {
        r["compressor_id"]: {c: r[c] for c in ("hour", *columns)}
        for r in newest.iter_rows(named=True)
    }
