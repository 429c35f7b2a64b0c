"""Signed session cookies and CSRF tokens for the web app.

A person signs in once with their key (``ALTAVIZ_API_KEYS``: ``name:role:key``); the browser
then holds a cookie naming them, their role and when it expires, signed with HMAC-SHA256. No
session lives on the server, so every worker and every restart accepts it. The signing secret
is ``ALTAVIZ_SESSION_SECRET`` or, without it, one derived from the keys themselves: revoking
or changing a key then ends every session signed before.

Every form and mutating call carries a CSRF token bound to the session (the double-submit
pattern, signed), on top of the cookie's ``SameSite=Strict``.

>>> signer = Signer(b"secret")
>>> cookie = signer.issue("alice", "engineer", now=0.0)
>>> signer.read(cookie, now=60.0).name
'alice'
>>> signer.read(cookie + "x", now=60.0) is None
True
>>> signer.read(cookie, now=SESSION_SECONDS + 1.0) is None
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

COOKIE = "altaviz_session"
SESSION_SECONDS = 12 * 3600.0
"""A working shift: a session signed in the morning ends by the night."""


@dataclass(frozen=True)
class Session:
    name: str
    role: str
    expires: float
    sid: str  # random per sign-in; the CSRF token is bound to it


class Signer:
    """Issues and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def for_keys(cls, secret: str | None, keys: Iterable[str]) -> Signer:
        """The signer of a server: its configured secret, else one derived from its keys."""
        if secret:
            return cls(secret.encode())
        material = "\n".join(sorted(keys)).encode()
        return cls(hashlib.sha256(b"altaviz-session\n" + material).digest())

    def issue(self, name: str, role: str, now: float | None = None) -> str:
        """A cookie value for a person who has just signed in."""
        now = time.time() if now is None else now
        body = {"n": name, "r": role, "e": now + SESSION_SECONDS, "s": secrets.token_hex(16)}
        payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload)}"

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None when it is missing, forged or expired."""
        if not cookie or "." not in cookie or len(cookie) > 4096:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = Session(str(body["n"]), str(body["r"]), float(body["e"]), str(body["s"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        return session if session.expires > now else None

    def csrf(self, session: Session) -> str:
        """The CSRF token of a session: forms and scripts send it back."""
        return self._mac("csrf:" + session.sid)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token or "", self.csrf(session))

    def _mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()
