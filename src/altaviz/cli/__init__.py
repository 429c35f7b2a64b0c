"""The ``altaviz`` command line: the root app, one module per command group.

A command body parses its options, calls one library function and renders the result;
errors become exit codes in one place (:mod:`altaviz.cli.errors`).
"""

from altaviz.cli import cases as cases_commands
from altaviz.cli import compliance as compliance_commands
from altaviz.cli import config as config_commands
from altaviz.cli import db as db_commands
from altaviz.cli import dev as dev_commands
from altaviz.cli import (
    diagnose,
    emissions,
    evaluate,
    models,
    pipeline,
    quality,
    runs,
    serve,
    simulate,
)
from altaviz.cli import lake as lake_commands
from altaviz.cli.app import app

app.add_typer(cases_commands.group, name="cases")
app.add_typer(compliance_commands.group, name="compliance")
app.add_typer(config_commands.group, name="config")
app.add_typer(lake_commands.group, name="lake")
app.add_typer(db_commands.group, name="db")
app.add_typer(dev_commands.group, name="dev")

__all__ = [
    "app",
    "diagnose",
    "emissions",
    "evaluate",
    "models",
    "pipeline",
    "quality",
    "runs",
    "serve",
    "simulate",
]
