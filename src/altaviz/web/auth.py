"""Who is looking: sign-in with a key, the session cookie, and the CSRF check of every form.

People are configured like the API's keys (``ALTAVIZ_API_KEYS`` = ``name:role:key``): they
sign in with their key, and the session carries their name and role. Their role is checked
again on every request against the keys configured now, so removing a key locks its holder
out at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from altaviz.web.session import COOKIE, SESSION_SECONDS, Signer
from altaviz.worklist import Actor, Role


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


class CsrfRefused(Exception):
    """A form or call without the session's CSRF token (or from another origin)."""


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    csrf: str

    @property
    def actor(self) -> Actor:
        return Actor(self.name, Role(self.role))

    @property
    def may_triage(self) -> bool:
        return self.actor.may_triage


def signer(request: Request) -> Signer:
    return request.app.state.web.signer


def person(request: Request) -> Person:
    """The signed-in person, or :class:`SignInRequired`."""
    sign = signer(request)
    session = sign.read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    principals = request.app.state.served.principals
    if (session.name, session.role) not in set(principals.values()):
        raise SignInRequired  # the key behind the session was removed or its role changed
    return Person(session.name, session.role, sign.csrf(session))


PersonDep = Annotated[Person, Depends(person)]


async def checked(request: Request, who: PersonDep) -> Person:
    """The signed-in person of a mutating request whose CSRF token and origin are right."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise CsrfRefused
    token = request.headers.get("x-csrf-token")
    if token is None:
        form = await request.form()
        token = str(form.get("csrf") or "")
    if not secrets.compare_digest(token, who.csrf):
        raise CsrfRefused
    return who


CheckedDep = Annotated[Person, Depends(checked)]


def find_key(principals: dict[str, tuple[str, str]], key: str) -> tuple[str, str] | None:
    """The (name, role) of ``key``, compared in constant time."""
    found = None
    for known, holder in principals.items():
        if secrets.compare_digest(key.encode(), known.encode()):
            found = holder
    return found


def start_session(request: Request, name: str, role: str, to: str) -> Response:
    """Redirect to ``to`` with a fresh session cookie (HttpOnly, SameSite=Strict; Secure
    on HTTPS and on localhost, which browsers treat as secure)."""
    response = RedirectResponse(safe_next(to), status_code=303)
    response.set_cookie(
        COOKIE,
        signer(request).issue(name, role),
        max_age=int(SESSION_SECONDS),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    return response


def end_session(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, host or protocol-relative URL) is followed.

    >>> safe_next("//evil.example/x"), safe_next("/ui/worklist?severity=critical")
    ('/', '/ui/worklist?severity=critical')
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def sign_in_redirect(request: Request) -> Response:
    """Where an unsigned request goes: the form, remembering the page asked for; an htmx
    request is told to load it as a whole page."""
    target = "/login?next=" + quote(
        request.url.path + ("?" + request.url.query if request.url.query else "")
    )
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.url.hostname in ("localhost", "127.0.0.1")


KeyForm = Annotated[str, Form(max_length=512)]
NextForm = Annotated[str, Form(max_length=2048)]
