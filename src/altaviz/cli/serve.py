"""``altaviz serve``: the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from altaviz.cli.app import app
from altaviz.cli.errors import fail
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
)
from altaviz.config import load_config
from altaviz.settings import get_settings


@app.command("serve")
def serve_command(
    lakehouse: LakehouseOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8001,
) -> None:
    """The HTTP API (OpenAPI at /docs): fleet, compressors, alerts, predictions, diagnose.
    Every route but /health needs a key from ALTAVIZ_API_KEYS in the X-API-Key header."""
    import uvicorn

    from altaviz.api.app import create_app

    settings = get_settings()
    if not settings.api_keys():
        fail("set ALTAVIZ_API_KEYS (comma-separated keys) before serving the API")
    api = create_app(open_lakehouse(lakehouse), load_config(), settings)
    uvicorn.run(api, host=host, port=port, log_level="warning")
