"""The web app: fleet overview, worklist, unit pages, emissions and pipeline health, served
by ``altaviz serve`` beside the API, in the same process and on the same port.

Pages are rendered on the server (Jinja2) and enhanced with htmx (filters, live refresh)
and uPlot (trend charts); the map is SVG drawn here from a packaged outline. Every script,
style and shape ships in this package, so it works on a site with no network.

>>> from altaviz.web import add_web
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from altaviz.web import compliance, pages, signin, worklist
from altaviz.web.auth import CsrfRefused, SignInRequired, person, sign_in_redirect
from altaviz.web.session import Signer
from altaviz.web.site import Web, render, templates


def add_web(app: FastAPI, live_seconds: float = 15.0) -> FastAPI:
    """Add the web app to the API ``app`` (from :func:`altaviz.api.app.create_app`): pages at
    ``/`` and ``/ui/...``, sign-in at ``/login``, assets at ``/ui/static``. Open pages check
    for new data every ``live_seconds``."""
    served = app.state.served
    secret = served.settings.altaviz_session_secret
    app.state.web = Web(
        signer=Signer.for_keys(secret.get_secret_value() if secret else None, served.principals),
        templates=templates(),
        live_seconds=live_seconds,
    )
    app.mount("/ui/static", StaticFiles(packages=[("altaviz.web", "static")]), name="static")
    for router in (signin.router, pages.router, worklist.router, compliance.router):
        app.include_router(router)
    app.add_exception_handler(SignInRequired, _sign_in)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, _csrf)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _error_page)  # type: ignore[arg-type]
    return app


async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
    return sign_in_redirect(request)


async def _csrf(_request: Request, _exc: CsrfRefused) -> Response:
    return PlainTextResponse(
        "refused: this form is stale or came from another site; reload the page and try again",
        status_code=403,
    )


async def _error_page(request: Request, exc: StarletteHTTPException) -> Response:
    """Pages get an error page; the API (and the pages' JSON) keep their JSON errors."""
    path = request.url.path
    is_page = path == "/" or (path.startswith("/ui/") and not path.endswith(("/charts", ".csv")))
    if not is_page or request.headers.get("hx-request"):
        return await http_exception_handler(request, exc)
    try:
        who = person(request)
    except SignInRequired:
        return sign_in_redirect(request)
    return render(request, "error.html", who, status=exc.status_code, detail=exc.detail)
