"""Dependencies of the routes: the served data, the API key, a unit's ID."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from altaviz.agent.data import CompressorIdError, check_id
from altaviz.api.snapshot import SnapshotStore
from altaviz.config import AppConfig
from altaviz.settings import Settings
from altaviz.worklist import Actor, Role

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)


@dataclass(frozen=True)
class Served:
    """What the app serves: the snapshot, the diagnosis tools' data, the configuration."""

    store: SnapshotStore
    data: Any  # altaviz.agent.data.DiagnosticsData
    config: AppConfig
    settings: Settings
    principals: dict[str, tuple[str, str]]  # key -> (name, role)
    engine: Any  # the lakehouse's engine: cases are read and triaged there


async def served(request: Request) -> Served:
    """The app's served data. Async, as every dependency of the hot routes: a plain function
    would be run on the thread pool, a hand-off per request."""
    return request.app.state.served


ServedDep = Annotated[Served, Depends(served)]


def key_check(keys: tuple[str, ...]) -> Callable[..., Awaitable[None]]:
    """The API-key dependency: a key from ``ALTAVIZ_API_KEYS`` in ``X-API-Key``; with no keys
    at all, none passes. It closes over the keys (no request to resolve on the hot routes)."""

    async def authorised(key: Annotated[str | None, Security(API_KEY)]) -> None:
        if not key or not any(secrets.compare_digest(key, k) for k in keys):
            raise HTTPException(401, "missing or unknown API key (header X-API-Key)")

    return authorised


def unit_id(compressor_id: str, config: AppConfig) -> str:
    """A well-formed compressor ID of this fleet, or a 400 that says what is wrong."""
    try:
        return check_id(compressor_id, config)
    except CompressorIdError as exc:
        raise HTTPException(400, str(exc)) from exc


async def actor(key: Annotated[str | None, Security(API_KEY)], request: Request) -> Actor:
    """Who is asking: the name and role of their key (the key check has passed)."""
    principals = request.app.state.served.principals
    for known, (name, role) in principals.items():
        if key and secrets.compare_digest(key, known):
            return Actor(name, Role(role))
    raise HTTPException(401, "missing or unknown API key (header X-API-Key)")


ActorDep = Annotated[Actor, Depends(actor)]
