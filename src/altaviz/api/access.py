"""The access log: one structured line per request - method, route, status, who asked (the
key's name, never the key), latency - on the logger ``altaviz.api.access``.

A plain ASGI middleware (no per-request task or body buffering), so the hot routes keep
their latency.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

log = logging.getLogger("altaviz.api.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AccessLog:
    """Wraps an ASGI app; ``principals`` maps keys to (name, role). A browser's request is
    named by its web session (the web app's signer on ``app.state.web``, when there is one)."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        principals: dict[str, tuple[str, str]],
    ) -> None:
        self.app = app
        self.principals = principals

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = scope.get("route")
            line = {
                "event": "request",
                "method": scope["method"],
                "route": getattr(route, "path", None) or scope["path"][:100],
                "status": status,
                "who": self._name(scope, dict(scope.get("headers") or [])),
                "ms": round((time.perf_counter() - began) * 1000, 2),
            }
            log.info(json.dumps(line))

    def _name(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        key = headers.get(b"x-api-key")
        if key is not None:
            text = key.decode("latin-1")
            for known, (name, _role) in self.principals.items():
                if secrets.compare_digest(text.encode(), known.encode()):
                    return name
            return "unknown key"
        web = getattr(getattr(scope.get("app"), "state", None), "web", None)
        cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        if web is not None and "altaviz_session" in cookie:
            session = web.signer.read(cookie["altaviz_session"].value)
            return session.name if session else "expired session"
        return "-"
