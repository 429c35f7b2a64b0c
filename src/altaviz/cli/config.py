"""``altaviz config``: settings and YAML configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from altaviz.cli.errors import Group
from altaviz.cli.render import out
from altaviz.config import load_config
from altaviz.settings import get_settings, masked

group = Group(help="Inspect and validate settings and YAML configuration.")


@group.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print the settings read from the environment (secrets masked) and the config files in use."""
    cfg = load_config()
    current = get_settings()
    settings = {name: masked(getattr(current, name)) for name in type(current).model_fields}
    if as_json:
        print(json.dumps({"settings": settings, "config_files": cfg.sources}, indent=2))
        return
    table = Table("setting", "value", title="Settings (environment)")
    for key, value in settings.items():
        table.add_row(key.upper(), value if value is not None else "[dim]unset[/]")
    out.print(table)
    files = Table("file", "read from", title="Configuration")
    for name, source in cfg.sources.items():
        files.add_row(name, source)
    out.print(files)


@group.command("validate")
def config_validate(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder with YAML files overriding the packaged ones.")
    ] = None,
) -> None:
    """Validate the configuration; exit code 2 and the bad file and key if it is invalid."""
    cfg = load_config(folder)
    out.print(
        f"configuration valid: {len(cfg.fleet.models)} models, {len(cfg.fleet.basins)} basins, "
        f"{sum(b.stations for b in cfg.fleet.basins)} stations, "
        f"{len(cfg.fleet.failures.modes)} failure modes"
    )
