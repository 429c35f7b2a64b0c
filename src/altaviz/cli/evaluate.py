"""``altaviz evaluate``: alerts and models scored against the simulator's truth."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.app import app
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
)
from altaviz.cli.render import num, out, pct, working
from altaviz.core.sensors import SENSORS
from altaviz.settings import get_settings


@app.command("evaluate")
def evaluate_command(
    source: Annotated[
        Path | None,
        typer.Option(
            help="The simulator output whose truth to score against \\[default: data/fleet]."
        ),
    ] = None,
    lakehouse: LakehouseOption = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write a Markdown report with PNG plots here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Score alerts and models against the simulator's ground truth."""
    import narwhals as nw

    from altaviz.lake.catalog import ALERT_HISTORY, HOURLY_AGGREGATES, ML_PREDICTIONS
    from altaviz.ml.evaluate import Truth, after_window, evaluate, evaluate_worklist, write_report
    from altaviz.worklist.view import current_cases

    truth = Truth.read(source or get_settings().altaviz_data_dir / "fleet")
    engine = open_lakehouse(lakehouse)
    with working("evaluating") if not as_json else nullcontext():
        alerts = nw.to_native(engine.read(ALERT_HISTORY).collect("polars"))
        predictions = nw.to_native(engine.read(ML_PREDICTIONS).collect("polars"))
        result = evaluate(truth, alerts, predictions)
        cases = current_cases(engine)  # with every action people took since the last run
        result["worklist"] = evaluate_worklist(truth, cases, alerts)
        emissions = _emission_scores(engine, source or get_settings().altaviz_data_dir / "fleet")
        if emissions is not None:
            result["emissions"] = emissions
        if report is not None:
            hourly = nw.to_native(
                engine.read(HOURLY_AGGREGATES)
                .select("compressor_id", "hour", *(f"{s}_mean" for s in SENSORS))
                .collect("polars")
            )
            result["report"] = str(write_report(result, truth, alerts, hourly, report))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    w = result["worklist"]
    out.print(
        f"worklist at the end: [bold]{w['open_cases']} open cases on {w['units_on_list']} "
        f"units[/]; precision {pct(w['precision'])}, recall past warning "
        f"{pct(w['recall_past_warning'])} (of {w['units_past_warning']}), stale "
        f"{w['stale_units']} of {w['repaired_units']} repaired units"
    )
    o = result["overall"]
    if o["failures"]:
        out.print(
            f"failures caught before failing: [bold]{o['caught']} of {o['failures']}[/] "
            f"({pct(o['caught_share'])}), median lead {num(o['median_lead_h'], '.1f')} h "
            f"(p10 {num(o['p10_lead_h'], '.1f')} h)"
        )
    note = after_window(result)
    if note:
        out.print(f"[yellow]{note}[/]", highlight=False)
    out.print(
        f"healthy units flagged: [bold]{o['healthy_units_flagged']} of {o['healthy_units']}[/] "
        f"({pct(o['healthy_units_flagged_share'])}); alert precision {pct(o['precision'])}"
    )
    table = Table("failure mode", "failures", "caught", "median lead h", "p10 lead h")
    for mode, r in result["per_mode"].items():
        table.add_row(
            mode,
            str(r["failures"]),
            pct(r["caught_share"]),
            num(r["median_lead_h"], ".1f"),
            num(r["p10_lead_h"], ".1f"),
        )
    if result["per_mode"]:
        out.print(table)
    d = result["drift"]
    out.print(
        f"drift model: {d['found_by_drift_model']} of {d['cooling_and_fouling_failures']} "
        f"cooling/fouling failures ({pct(d['found_share'])}); time-to-warning median abs "
        f"error {d['time_to_warning_median_abs_error_h']} h"
    )
    if result["rul"]["median_abs_error_h"] is not None:
        out.print(
            f"RUL: median abs error {num(result['rul']['median_abs_error_h'], '.1f')} h "
            f"({num(result['rul']['median_abs_error_last_48h'], '.1f')} h in the last 48 h)"
        )
    if "emissions" in result:
        _print_emissions(result["emissions"])
    if report is not None:
        out.print(f"report: {result['report']}")


def _emission_scores(engine, fleet: Path) -> dict | None:
    """Emissions and operating modes against ``truth/emissions``, when both are there."""
    import narwhals as nw
    import polars as pl

    from altaviz.config import load_config
    from altaviz.lake.catalog import EMISSIONS_ESTIMATES, OPERATING_MODE_DAYS
    from altaviz.ml.emission_scores import score_emissions

    parts = sorted((fleet / "truth" / "emissions").glob("*.parquet"))
    if not parts or not engine.exists(EMISSIONS_ESTIMATES):
        return None
    estimates = nw.to_native(engine.read(EMISSIONS_ESTIMATES).collect("polars"))
    if not estimates.height:
        return None
    limit = load_config().models.emissions.packing_vent_limit_scfm_per_cylinder
    return score_emissions(
        pl.read_parquet(parts),
        estimates,
        nw.to_native(engine.read(OPERATING_MODE_DAYS).collect("polars")),
        limit,
    )


def _print_emissions(e: dict) -> None:
    o, m = e["oooob"], e["methane"]
    out.print(
        f"OOOOb flags: [bold]{o['caught']} of {o['units_exceeding']}[/] units over the limit for "
        f"a day flagged (recall {pct(o['recall'])}), precision {pct(o['precision'])} "
        f"({o['units_flagged']} flagged)"
    )
    out.print(
        f"methane: estimated {m['fleet_estimated_t']:,.1f} t against {m['fleet_true_t']:,.1f} t "
        f"true ({m['fleet_error']:+.1%}); {m['leaking_units']} leaking units "
        f"{num(m['leaking_error'], '+.1%')} together, {pct(m['leaking_units_within_25pct'])} "
        f"of them within 25 % ({pct(m['exceeding_units_within_25pct'])} of those over the limit)"
    )
    modes = e["modes"]
    out.print(
        "operating modes, worst unit's error as a share of its hours: "
        + ", ".join(f"{k} {pct(modes[k]['max_error_share'])}" for k in ("operating", "standby",
                                                                          "depressurised"))
    )  # fmt: skip
