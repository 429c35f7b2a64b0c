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
    """The web app (at /) and the HTTP API (OpenAPI at /docs), in one process on one port.
    People sign in to the web app with a key from ALTAVIZ_API_KEYS (name:role:key); every
    API route but /health needs such a key in the X-API-Key header."""
    import uvicorn

    from altaviz.api.app import create_app
    from altaviz.web import add_web

    settings = get_settings()
    if not settings.api_keys():
        fail("set ALTAVIZ_API_KEYS (comma-separated keys) before serving the API")
    app = add_web(create_app(open_lakehouse(lakehouse), load_config(), settings))
    uvicorn.run(app, host=host, port=port, log_level="warning")
