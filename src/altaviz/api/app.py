"""The HTTP API (FastAPI): fleet health, one compressor, alerts, predictions, and diagnosis.

It serves the serving database when ``DATABASE_URL`` is set, else the lakehouse.

Every route but ``/health`` needs an API key (header ``X-API-Key``, keys from
``ALTAVIZ_API_KEYS``). Bad input is a 4xx with a message that says what was wrong; the
routes answer from an in-memory snapshot of the lakehouse (see :mod:`altaviz.api.snapshot`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from altaviz import __version__
from altaviz.agent.data import CompressorIdError, LakehouseData, UnknownCompressor, check_id
from altaviz.agent.diagnostics import DiagnosisError, diagnose
from altaviz.agent.report import DiagnosticReport
from altaviz.api.snapshot import LakehouseSource, PostgresSource, SnapshotStore
from altaviz.config import AppConfig
from altaviz.engines import Engine
from altaviz.settings import Settings

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)
MAX_LIMIT = 1000


class DiagnoseRequest(BaseModel):
    compressor_id: str = Field(max_length=32, examples=["COMP-0003"])


def create_app(
    engine: Engine,
    config: AppConfig,
    settings: Settings,
    api_keys: list[str] | None = None,
    refresh_seconds: float = 30.0,
) -> FastAPI:
    """The API over ``engine``'s lakehouse. ``api_keys`` default to ``ALTAVIZ_API_KEYS``;
    with none at all, every authenticated route answers 401 (nothing is served unguarded)."""
    keys = api_keys if api_keys is not None else settings.api_keys()
    data: Any
    if settings.database_url is not None:  # the serving database, when there is one
        from altaviz.agent.postgres import PostgresData

        url = settings.database_url.get_secret_value()
        store = SnapshotStore(PostgresSource(url), refresh_seconds)
        data = PostgresData(url, config)
    else:
        store = SnapshotStore(LakehouseSource(engine), refresh_seconds)
        data = LakehouseData(engine, config)
    app = FastAPI(
        title="Altaviz",
        version=__version__,
        description="Compressor fleet integrity: health, alerts, predictions, diagnosis.",
    )
    if settings.altaviz_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.altaviz_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )

    async def authorised(key: Annotated[str | None, Security(API_KEY)]) -> None:
        if not key or not any(secrets.compare_digest(key, k) for k in keys):
            raise HTTPException(401, "missing or unknown API key (header X-API-Key)")

    guarded = [Depends(authorised)]

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse({"detail": message}, status_code=422)

    def unit_id(compressor_id: str) -> str:
        try:
            return check_id(compressor_id, config)
        except CompressorIdError as exc:
            raise HTTPException(400, str(exc)) from exc

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and what the API is serving (no key needed)."""
        snap = store.get()
        latest = snap.latest["hour"].max() if snap.latest.height else None
        return {
            "status": "ok",
            "version": __version__,
            "data_as_of": latest,
            "units": snap.units.height,
            "loaded_at": snap.loaded_at,
        }

    # The two hot routes are async and answer pre-serialised JSON from the snapshot: no
    # thread hand-off, no per-request encoding.
    @app.get("/fleet", dependencies=guarded, tags=["fleet"])
    async def fleet() -> Response:
        """Fleet health by basin for the newest date: {date, basins: [...]}."""
        return Response(store.get().fleet_json, media_type="application/json")

    @app.get("/compressors/{compressor_id}", dependencies=guarded, tags=["fleet"])
    async def compressor(compressor_id: str) -> Response:
        """One unit: {compressor, latest_readings, open_alerts, prediction}."""
        unit = store.get().unit_json.get(unit_id(compressor_id))
        if unit is None:
            raise HTTPException(404, f"{compressor_id} is not in the registered fleet")
        return Response(unit, media_type="application/json")

    @app.get("/alerts", dependencies=guarded, tags=["alerts"])
    def alerts(
        severity: Literal["warning", "critical"] | None = None,
        state: Literal["open", "acknowledged", "resolved", "suppressed"] | None = None,
        basin: Annotated[str | None, Query(max_length=64)] = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        """Alerts, newest first, filtered by severity, state, basin and opening time."""
        snap = store.get()
        rows = snap.alerts
        if severity:
            rows = rows.filter(pl.col("severity") == severity)
        if state:
            rows = rows.filter(pl.col("state") == state)
        if basin:
            in_basin = snap.units.filter(pl.col("basin") == basin).select("compressor_id")
            rows = rows.join(in_basin, on="compressor_id", how="semi")
        if since:
            moment = since if since.tzinfo else since.astimezone()
            rows = rows.filter(pl.col("opened_at") >= moment)
        return {"count": rows.height, "alerts": rows.head(limit).to_dicts()}

    @app.get("/predictions", dependencies=guarded, tags=["models"])
    def predictions(
        at_risk: bool = False,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        """The newest prediction of every unit; ``at_risk`` keeps those any model flags."""
        rows = store.get().predictions
        if at_risk and rows.height:
            level = pl.max_horizontal(
                pl.col(c).fill_null(0) for c in ("anomaly_level", "drift_level", "rul_level")
            )
            rows = rows.filter(level >= 1)
        return {"count": rows.height, "predictions": rows.head(limit).to_dicts()}

    @app.post("/diagnose", dependencies=guarded, tags=["diagnosis"])
    def diagnose_unit(request: DiagnoseRequest) -> DiagnosticReport:
        """A diagnosis of one unit (the model from DIAGNOSTICS_MODEL, or offline rules)."""
        try:
            report, _ = diagnose(unit_id(request.compressor_id), data, config, settings)
        except UnknownCompressor as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
        except DiagnosisError as exc:
            raise HTTPException(502, str(exc)) from exc
        return report

    return app
