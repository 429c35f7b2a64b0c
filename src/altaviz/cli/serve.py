"""``altaviz serve``: the HTTP API."""

from __future__ import annotations

import errno
import logging
import socket
from typing import Annotated

import typer

from altaviz.cli.app import app
from altaviz.cli.errors import fail
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
)
from altaviz.config import load_config
from altaviz.core.errors import ServiceError
from altaviz.settings import get_settings


@app.command("serve")
def serve_command(
    lakehouse: LakehouseOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8001,
    access_log: Annotated[
        bool,
        typer.Option(help="Log every request (method, route, status, who, ms) as JSON on stderr."),
    ] = True,
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
    check_port(host, port)
    requests = logging.getLogger("altaviz.api.access")
    handler = logging.StreamHandler()
    if access_log:
        requests.addHandler(handler)
        requests.setLevel(logging.INFO)
        requests.propagate = False
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        requests.removeHandler(handler)  # the server is done: its stderr may be gone too


def check_port(host: str, port: int) -> None:
    """One line when the address cannot be listened on (taken, or not this machine's)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ServiceError(
                f"cannot listen on {host}:{port}: {reason} (choose another with --port)"
            ) from None
