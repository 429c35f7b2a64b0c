"""The root ``altaviz`` command: its options; every command registers itself on it."""

from __future__ import annotations

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
    """Altaviz command line."""
    Flags.debug = debug
