"""The offline diagnostician: failure-signature rules over the same five tools' data, so a
diagnosis needs no LLM and the same data always gives the same report.

Each failure mode moves the sensors in its own pattern, measured as the deviation of the
last ``recent_hours`` hourly means from the unit's healthy median:

- valve failure: discharge pressure oscillates (hour-to-hour spread over the window);
- packing leak: suction rises while discharge pressure falls;
- ring wear: flow falls, and discharge pressure with it;
- cooling degradation: discharge temperature rises, vibration does not;
- fouling: discharge temperature rises, and vibration with it;
- bearing wear: vibration rises far more than temperature.
"""

from __future__ import annotations

import statistics
from typing import Any

import polars as pl

from altaviz.agent.data import DiagnosticsData
from altaviz.agent.report import Action, DiagnosticReport, Evidence, Severity
from altaviz.config import AppConfig
from altaviz.config.schema import DiagnosticRules

SENSOR_WORDS = {
    "vibration_mms": ("vibration", "mm/s"),
    "discharge_temp_f": ("discharge temperature", "°F"),
    "suction_pressure_psi": ("suction pressure", "psi"),
    "discharge_pressure_psi": ("discharge pressure", "psi"),
    "gas_flow_mcf": ("gas flow", "Mcf/d"),
}

CAUSES = {
    "bearing_wear": "Bearing wear: vibration is climbing well above this unit's normal while "
    "temperature barely moves.",
    "cooling_degradation": "Cooling degradation: discharge temperature is rising steadily with "
    "vibration unchanged - the cooler is losing capacity.",
    "fouling": "Fouling: discharge temperature is rising and vibration with it - deposits on "
    "the cooler or valves.",
    "valve_failure": "Valve failure: discharge pressure is swinging hour to hour - a broken or "
    "leaking compressor valve.",
    "ring_wear": "Piston ring wear: flow is falling and discharge pressure with it - the "
    "cylinder is losing compression efficiency.",
    "packing_leak": "Rod packing leak: suction pressure is rising while discharge pressure "
    "falls - gas is escaping past the packing (check the vent for methane).",
}

CHECKS = {
    "bearing_wear": "Vibration survey with spectrum analysis; check bearing temperatures and "
    "lube oil for metal",
    "cooling_degradation": "Inspect the cooler: fan, belts, louvers, tube fouling, coolant level",
    "fouling": "Inspect and clean cooler tubes and valves; check gas quality upstream",
    "valve_failure": "Valve temperature survey; pull and inspect discharge valves",
    "ring_wear": "Cylinder compression test; inspect piston rings and liners",
    "packing_leak": "Measure packing vent flow (OOOOb: 2 scf/min per cylinder); inspect rod "
    "packing",
}


def diagnose_offline(
    compressor_id: str, data: DiagnosticsData, config: AppConfig
) -> DiagnosticReport:
    """A report for one unit from its tools' data alone (deterministic)."""
    rules = config.models.diagnostics
    unit = data.compressor(compressor_id)
    readings = data.latest_readings(compressor_id, rules.window_hours)
    alerts = data.alert_history(compressor_id)
    predictions = data.predictions(compressor_id)
    maintenance = data.maintenance_history(compressor_id, 5)
    baseline: dict[str, float] = unit.get("baseline_median") or {}
    evidence: list[Evidence] = []
    as_of = readings[-1]["hour"] if readings else None

    if not readings or not baseline:
        why = "no hourly readings yet" if not readings else "no healthy baseline learned yet"
        evidence.append(
            Evidence(tool="latest_readings", item="hourly rows", value=str(len(readings)), note=why)
        )
        return DiagnosticReport(
            compressor_id=compressor_id,
            severity="healthy",
            failure_mode=None,
            root_cause=f"Not enough data to diagnose: {why}.",
            contributing_factors=[],
            recommended_actions=[],
            confidence=0.0,
            data_summary=_summary(unit, readings, alerts, predictions),
            evidence=evidence,
            diagnosed_by="offline",
            data_as_of=as_of,
        )

    deviation = _deviations(readings, baseline, rules)
    oscillation = _oscillation(readings, baseline)
    mode = _signature(deviation, oscillation, rules)
    for sensor, change in deviation.items():
        if abs(change) >= 0.02 or sensor in _primary(mode):
            word, unit_name = SENSOR_WORDS[sensor]
            recent = _recent_mean(readings, sensor, rules.recent_hours)
            evidence.append(
                Evidence(
                    tool="latest_readings",
                    item=sensor,
                    value=f"{recent:.4g} {unit_name}",
                    note=f"{word} {change:+.1%} against this unit's healthy median "
                    f"{baseline[sensor]:.4g} {unit_name}",
                )
            )
    if oscillation >= rules.valve_oscillation_above / 2:
        evidence.append(
            Evidence(
                tool="latest_readings",
                item="discharge_pressure_psi",
                value=f"{oscillation:.1%} of its median",
                note="hour-to-hour spread of discharge pressure over the window",
            )
        )
    open_alerts = [a for a in alerts if a["state"] == "open"]
    for alert in alerts[:5]:
        evidence.append(
            Evidence(
                tool="alert_history",
                item=f"{alert['alert_type']} alert on {alert['sensor']}",
                value=f"{alert['severity']}, {alert['state']}",
                note=str(alert.get("message") or ""),
            )
        )
    latest = predictions[0] if predictions else {}
    rul = latest.get("rul_hours")
    if latest:
        evidence.append(
            Evidence(
                tool="predictions",
                item="models at " + str(latest["hour"]),
                value=f"anomaly {_fmt(latest.get('anomaly_score'), '.3f')}, RUL "
                f"{_fmt(rul, '.0f')} h, drift to warning "
                f"{_fmt(latest.get('drift_hours_to_warning'), '.0f')} h",
                note=f"status {latest.get('status')}; RUL sensor {latest.get('rul_sensor') or '-'}",
            )
        )
    severity = _severity(readings[-1], open_alerts, latest, mode, rules)
    if mode is None and severity == "healthy":
        evidence.append(
            Evidence(
                tool="latest_readings",
                item="worst_status",
                value=str(readings[-1]["worst_status"]),
                note="every sensor within this unit's normal band",
            )
        )
    if maintenance:
        last = maintenance[0]
        evidence.append(
            Evidence(
                tool="maintenance_history",
                item=str(last["event_type"]),
                value=str(last["completed_at"] or last["started_at"]),
                note=str(last.get("description") or ""),
            )
        )
    return DiagnosticReport(
        compressor_id=compressor_id,
        severity=severity,
        failure_mode=mode,
        root_cause=CAUSES[mode]
        if mode
        else (
            "No sign of degradation."
            if severity == "healthy"
            else "Abnormal readings without a known failure signature yet."
        ),
        contributing_factors=_factors(deviation, oscillation, open_alerts, latest),
        recommended_actions=_actions(mode, severity, config, rul),
        time_to_failure_hours=rul,
        confidence=_confidence(mode, deviation, oscillation, rules, latest),
        data_summary=_summary(unit, readings, alerts, predictions),
        evidence=evidence,
        diagnosed_by="offline",
        data_as_of=as_of,
    )


def _recent_mean(readings: list[dict[str, Any]], sensor: str, hours: int) -> float:
    values = [r[f"{sensor}_mean"] for r in readings[-hours:] if r[f"{sensor}_mean"] is not None]
    return statistics.fmean(values) if values else float("nan")


def _deviations(
    readings: list[dict[str, Any]], baseline: dict[str, float], rules: DiagnosticRules
) -> dict[str, float]:
    out = {}
    for sensor in SENSOR_WORDS:
        base = baseline.get(sensor)
        recent = _recent_mean(readings, sensor, rules.recent_hours)
        if base and recent == recent:
            out[sensor] = recent / base - 1.0
    return out


def _oscillation(readings: list[dict[str, Any]], baseline: dict[str, float]) -> float:
    values = [
        r["discharge_pressure_psi_mean"]
        for r in readings
        if r["discharge_pressure_psi_mean"] is not None
    ]
    base = baseline.get("discharge_pressure_psi")
    if len(values) < 3 or not base:
        return 0.0
    return statistics.stdev(values) / base


def _signature(d: dict[str, float], oscillation: float, r: DiagnosticRules) -> str | None:
    vib, temp = d.get("vibration_mms", 0.0), d.get("discharge_temp_f", 0.0)
    suction, discharge = d.get("suction_pressure_psi", 0.0), d.get("discharge_pressure_psi", 0.0)
    flow = d.get("gas_flow_mcf", 0.0)
    if oscillation >= r.valve_oscillation_above:
        return "valve_failure"
    if suction >= r.packing_suction_rise_above and discharge <= r.packing_discharge_fall_below:
        return "packing_leak"
    if flow <= r.ring_flow_fall_below and discharge <= r.ring_discharge_fall_below:
        return "ring_wear"
    if temp >= r.temperature_rise_above and vib < 3 * temp:
        return "fouling" if vib >= r.fouling_vibration_rise_above else "cooling_degradation"
    if vib >= r.bearing_vibration_rise_above:
        return "bearing_wear"
    return None


def _primary(mode: str | None) -> tuple[str, ...]:
    return {
        "bearing_wear": ("vibration_mms",),
        "cooling_degradation": ("discharge_temp_f",),
        "fouling": ("discharge_temp_f", "vibration_mms"),
        "valve_failure": ("discharge_pressure_psi",),
        "ring_wear": ("gas_flow_mcf", "discharge_pressure_psi"),
        "packing_leak": ("suction_pressure_psi", "discharge_pressure_psi"),
    }.get(mode or "", ())


def _severity(
    last: dict[str, Any],
    open_alerts: list[dict[str, Any]],
    prediction: dict[str, Any],
    mode: str | None,
    rules: DiagnosticRules,
) -> Severity:
    rul = prediction.get("rul_hours")
    if rul is not None and rul <= rules.emergency_within_hours and mode is not None:
        return "emergency"
    if last.get("worst_status") == "critical" or any(
        a["severity"] == "critical" for a in open_alerts
    ):
        return "critical"
    levels = [prediction.get(k) or 0 for k in ("anomaly_level", "drift_level", "rul_level")]
    if mode or open_alerts or last.get("worst_status") == "warning" or max(levels) >= 1:
        return "warning"
    return "healthy"


def _confidence(
    mode: str | None,
    d: dict[str, float],
    oscillation: float,
    r: DiagnosticRules,
    prediction: dict[str, Any],
) -> float:
    """How far past its signature threshold the evidence is (1.0 at twice the threshold), a
    little more when the models agree something is wrong."""
    if mode is None:
        return 0.9 if not any(abs(v) > 0.02 for v in d.values()) else 0.5
    strength = {
        "valve_failure": oscillation / r.valve_oscillation_above,
        "packing_leak": d.get("suction_pressure_psi", 0) / r.packing_suction_rise_above,
        "ring_wear": d.get("gas_flow_mcf", 0) / r.ring_flow_fall_below,
        "cooling_degradation": d.get("discharge_temp_f", 0) / r.temperature_rise_above,
        "fouling": d.get("discharge_temp_f", 0) / r.temperature_rise_above,
        "bearing_wear": d.get("vibration_mms", 0) / r.bearing_vibration_rise_above,
    }[mode]
    agree = 0.1 if max(prediction.get(k) or 0 for k in ("anomaly_level", "rul_level")) else 0.0
    return round(min(1.0, 0.5 + 0.25 * min(strength, 2.0) + agree), 2)


def _factors(
    d: dict[str, float],
    oscillation: float,
    open_alerts: list[dict[str, Any]],
    prediction: dict[str, Any],
) -> list[str]:
    factors = [
        f"{SENSOR_WORDS[s][0]} {v:+.1%} against its healthy median"
        for s, v in sorted(d.items(), key=lambda kv: -abs(kv[1]))
        if abs(v) >= 0.02
    ]
    if oscillation >= 0.015:
        factors.append(f"discharge pressure swinging {oscillation:.1%} of its median hour to hour")
    if open_alerts:
        factors.append(f"{len(open_alerts)} open alert(s)")
    if prediction.get("anomaly_top_sensors"):
        factors.append(f"anomaly model points at {prediction['anomaly_top_sensors']}")
    return factors


def _actions(
    mode: str | None, severity: Severity, config: AppConfig, rul: float | None
) -> list[Action]:
    if mode is None:
        if severity == "healthy":
            return [
                Action(
                    action="Keep the routine service schedule",
                    priority="low",
                    rationale="No abnormal readings.",
                )
            ]
        return [
            Action(
                action="Field check of the sensors that alerted",
                priority="medium",
                estimated_downtime_hours=0,
                rationale="Readings are abnormal but match no failure signature yet.",
            )
        ]
    failures = config.fleet.failures
    spec = failures.modes[mode]  # type: ignore[index]
    urgent = severity in ("critical", "emergency")
    actions = [
        Action(
            action=CHECKS[mode],
            priority="immediate" if urgent else "high",
            estimated_downtime_hours=2.0,
            rationale=CAUSES[mode].split(":")[0] + " signature in this unit's own readings.",
        ),
        Action(
            action=spec.repair,
            priority="high" if urgent else "medium",
            estimated_downtime_hours=round(sum(failures.repair_hours) / 2, 1),
            rationale="The repair this failure mode needs, planned before the unit trips"
            + (f" (RUL about {rul:.0f} h)." if rul is not None else "."),
        ),
    ]
    if severity == "emergency":
        actions.insert(
            0,
            Action(
                action="Reduce load or shut down in a controlled way",
                priority="immediate",
                estimated_downtime_hours=None,
                rationale="The primary sensor reaches its trip limit within a day.",
            ),
        )
    return actions


def _summary(unit: dict[str, Any], readings: list, alerts: list, predictions: list) -> str:
    station = (unit.get("station") or {}).get("station_id") or unit.get("station_id")
    span = f"{readings[0]['hour']} to {readings[-1]['hour']}" if readings else "no readings"
    return (
        f"{unit['compressor_id']} ({unit.get('model')}, {station}, {unit.get('basin')}): "
        f"{len(readings)} hourly rows ({span}), {len(alerts)} alerts in 7 days, "
        f"{len(predictions)} model predictions in 24 h."
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def suspected_modes(
    hourly: pl.DataFrame, baselines: pl.DataFrame, rules: DiagnosticRules
) -> list[dict[str, Any]]:
    """For many units at once, what :func:`diagnose_offline` reads in their readings: per
    unit of ``hourly`` (its gold hourly rows), the failure signature of its last
    ``window_hours`` against its baseline (``baselines``: compressor_id, sensor, p50), and
    each sensor's deviation from it."""
    medians: dict[str, dict[str, float]] = {}
    for row in baselines.select("compressor_id", "sensor", "p50").iter_rows(named=True):
        medians.setdefault(row["compressor_id"], {})[row["sensor"]] = row["p50"]
    found = []
    for (unit,), rows in hourly.sort("compressor_id", "hour").group_by(
        "compressor_id", maintain_order=True
    ):
        baseline = medians.get(unit, {})
        readings = rows.tail(rules.window_hours).to_dicts()
        if not baseline or not readings:
            continue
        deviation = _deviations(readings, baseline, rules)
        mode = _signature(deviation, _oscillation(readings, baseline), rules)
        found.append({"compressor_id": unit, "failure_mode": mode, "deviations": deviation})
    return found
