"""The HTTP API (FastAPI): fleet health, one compressor, alerts, predictions, and diagnosis.

It serves the serving database when ``DATABASE_URL`` is set, else the lakehouse.

Every route but ``/health`` needs an API key (header ``X-API-Key``, keys from
``ALTAVIZ_API_KEYS``). Bad input is a 4xx with a message that says what was wrong; the
routes answer from an in-memory snapshot of the lakehouse (see :mod:`altaviz.api.snapshot`).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from altaviz import __version__
from altaviz.agent.diagnostics import diagnostics_data
from altaviz.api.access import AccessLog
from altaviz.api.deps import Served, key_check
from altaviz.api.routers import (
    alerts,
    cases,
    compliance,
    diagnosis,
    emissions,
    fleet,
    predictions,
    service,
)
from altaviz.api.snapshot import LakehouseSource, PostgresSource, SnapshotStore
from altaviz.config import AppConfig
from altaviz.engines import Engine
from altaviz.settings import Settings, check_keys


def create_app(
    engine: Engine,
    config: AppConfig,
    settings: Settings,
    api_keys: list[str] | None = None,
    principals: dict[str, tuple[str, str]] | None = None,
    refresh_seconds: float = 30.0,
) -> FastAPI:
    """The API over ``engine``'s lakehouse. Keys and their holders' roles default to
    ``ALTAVIZ_API_KEYS``; ``api_keys`` are engineers' keys, ``principals`` maps keys to
    (name, role). With no key at all, every authenticated route answers 401 (nothing is
    served unguarded)."""
    if principals is None:
        principals = (
            {k: (f"key-{n + 1}", "engineer") for n, k in enumerate(api_keys)}
            if api_keys is not None
            else settings.api_principals()
        )
    check_keys(principals)
    keys = list(principals)
    if settings.database_url is not None:  # the serving database, when there is one
        source = PostgresSource(settings.database_url.get_secret_value())
    else:
        source = LakehouseSource(engine)
    app = FastAPI(
        title="Altaviz",
        version=__version__,
        description="Compressor fleet integrity: health, alerts, predictions, diagnosis.",
        docs_url=None,  # served below from the package's own copies: no CDN
        redoc_url=None,
    )
    add_docs(app)
    app.state.served = Served(
        store=SnapshotStore(source, refresh_seconds),
        data=diagnostics_data(config, settings, engine),
        config=config,
        settings=settings,
        principals=principals,
        engine=engine,
    )
    if settings.altaviz_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.altaviz_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.add_middleware(AccessLog, principals=principals)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    guarded = [Depends(key_check(tuple(keys)))]
    fleet.add_routes(app, guarded)  # first: the hot routes are matched before any other
    app.include_router(service.router)
    for router in (
        alerts.router,
        predictions.router,
        diagnosis.router,
        cases.router,
        emissions.router,
        compliance.router,
    ):
        app.include_router(router, dependencies=guarded)
    return app


def add_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` and ReDoc at ``/redoc`` with their scripts and styles from the
    package, so they work on a site with no network."""
    app.mount("/docs-static", StaticFiles(packages=[("altaviz.api", "static")]), name="docs")
    assets = "/docs-static"

    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon-32x32.png",
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 422 whose detail is one line naming the field."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return JSONResponse({"detail": message}, status_code=422)
