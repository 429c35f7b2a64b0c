"""``altaviz train``, ``models`` and ``predict``: the anomaly model and fleet scoring."""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.app import app
from altaviz.cli.options import (
    LakehouseOption,
    model_registry,
    open_lakehouse,
    parse_date,
)
from altaviz.cli.render import num, out, working
from altaviz.config import load_config


@app.command("train")
def train_command(
    lakehouse: LakehouseOption = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Learn from the training window ending at this date (YYYY-MM-DD) "
            "\\[default: the first days on record]."
        ),
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make the new version the champion that scoring uses.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Train an anomaly model from the feature store and register it in MLflow.

    The first model becomes the champion; later ones are challengers until promoted, so
    training never disturbs scoring.
    """
    import uuid

    from altaviz.pipeline.training import train

    end = parse_date(until, "--until")
    cfg = load_config()
    engine = open_lakehouse(lakehouse)
    reg = model_registry(engine)
    moment = None if end is None else datetime.combine(end, datetime.min.time(), UTC)
    with working("training the anomaly model") if not as_json else nullcontext():
        ref = train(engine, cfg, reg, uuid.uuid4().hex[:12], moment, promote)
    if as_json:
        print(json.dumps({**ref.__dict__, "store": reg.uri}, indent=2))
    else:
        out.print(
            f"registered {ref.name} version {ref.version} as [bold]{ref.alias}[/], "
            f"trained on this lakehouse's fleet (store {reg.uri})",
            highlight=False,
        )
        if ref.note:
            out.print(f"  [yellow]{ref.note}[/]", highlight=False)


@app.command("models")
def models_command(
    lakehouse: LakehouseOption = None,
    promote: Annotated[
        str | None, typer.Option(help="Make this version the champion.", metavar="VERSION")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the lakehouse fleet's anomaly model versions and their aliases; promote one."""
    reg = model_registry(open_lakehouse(lakehouse))
    if promote is not None:
        reg.promote(promote)
    versions = reg.versions()
    if as_json:
        print(json.dumps(versions, indent=2))
        return
    if not versions:
        out.print(
            f"no anomaly model for this lakehouse's fleet yet ({reg.model} in {reg.uri}): "
            "`altaviz pipeline` trains one once the fleet has enough healthy hours, or run "
            "`altaviz train`",
            highlight=False,
        )
        return
    table = Table("version", "aliases", "run", title=f"{reg.model} ({reg.uri})")
    for v in versions:
        table.add_row(v["version"], ", ".join(v["aliases"]) or "-", v["run_id"] or "-")
    out.print(table)


@app.command("predict")
def predict_command(
    lakehouse: LakehouseOption = None,
    day: Annotated[
        str | None,
        typer.Option(
            "--date", help="Gold date to score (YYYY-MM-DD) \\[default: the last complete day]."
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Units at risk to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Score the fleet with all four models for a gold date and list the units at risk.

    Writes what it scores to the lakehouse, as the pipeline does: the date's predictions,
    model alerts and emissions estimates (a rerun on the same data changes nothing)."""
    from altaviz.pipeline.ml import score_date

    engine = open_lakehouse(lakehouse)
    with working("scoring") if not as_json else nullcontext():
        scored = score_date(engine, load_config(), model_registry(engine), parse_date(day))
    summary, last, at_risk, took, wanted = (
        scored.result,
        scored.latest,
        scored.at_risk,
        scored.seconds,
        scored.day,
    )
    if as_json:
        payload = {
            "date": wanted.isoformat(),
            "model_version": summary.model_version,
            "units_scored": last.shape[0],
            "units_at_risk": at_risk.shape[0],
            "scoring_s": round(took, 3),
            "notes": summary.notes,
            "at_risk": at_risk.head(top).rows(named=True),
        }
        print(json.dumps(payload, indent=2, default=str))
        return
    model = (
        f"{summary.model_name} v{summary.model_version}" if summary.model_version else "none yet"
    )
    table = Table(
        "unit",
        "anomaly",
        "top sensors",
        "drift h to warn",
        "RUL h",
        "RUL sensor",
        "P(fail 48h)",
        title=f"Units at risk, {wanted}{'' if day else ' (the last complete day)'}: "
        f"{at_risk.shape[0]:,} at risk, {last.shape[0]:,} units scored",
        caption=f"anomaly model: {model}; scored in {took:.1f} s; predictions written to "
        "ml_predictions",
    )
    for r in at_risk.head(top).rows(named=True):
        table.add_row(
            r["compressor_id"],
            num(r["anomaly_score"], ".3f"),
            r["anomaly_top_sensors"] or "-",
            num(r["drift_hours_to_warning"], ".0f"),
            num(r["rul_hours"], ".0f"),
            r["rul_sensor"] or "-",
            num(r["rul_failure_probability"], ".2f"),
        )
    out.print(table)
    for note in summary.notes:
        out.print(f"  [dim]{note}[/]")
