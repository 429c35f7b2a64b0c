"""The root ``altaviz`` command: its options; every command registers itself on it."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from altaviz import __version__
from altaviz.cli.errors import Flags, Group
from altaviz.cli.render import out

app = Group(
    name="altaviz",
    help="Compressor fleet integrity: simulate, land, clean, alert, predict, explain.",
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"altaviz {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an internal error.")
    ] = False,
) -> None:
    """Altaviz command line. Structured logs (JSON) go to stderr when ALTAVIZ_LOG_LEVEL is set
    (e.g. INFO); otherwise a command says what it did, and an error in one line."""
    Flags.debug = debug
    quiet_logs(os.environ.get("ALTAVIZ_LOG_LEVEL"))


def quiet_logs(level: str | None) -> None:
    """The ``altaviz`` loggers: to stderr at ``level``, or nowhere (never Python's fallback
    printer, which would add a second line to a command's one-line error)."""
    log = logging.getLogger("altaviz")
    if log.handlers:
        return
    if level:
        handler: logging.Handler = logging.StreamHandler()
        log.setLevel(level.upper())
    else:
        handler = logging.NullHandler()
    log.addHandler(handler)
