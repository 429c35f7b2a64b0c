"""``/login`` and ``/logout``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from altaviz.web.auth import (
    CheckedDep,
    KeyForm,
    NextForm,
    SignInRequired,
    end_session,
    find_key,
    person,
    safe_next,
    start_session,
)
from altaviz.web.site import render

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (or straight on, for someone signed in already)."""
    try:
        person(request)
    except SignInRequired:
        return render(request, "login.html", None, next=safe_next(next), error=None)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, key: KeyForm, next: NextForm = "/") -> Response:
    """Sign in with a key from ALTAVIZ_API_KEYS: the session carries its holder's name and
    role."""
    holder = find_key(request.app.state.served.principals, key.strip())
    if holder is None:
        return render(
            request, "login.html", None, status=401, next=safe_next(next), error="unknown key"
        )
    return start_session(request, holder[0], holder[1], next)


@router.post("/logout")
def logout(request: Request, who: CheckedDep) -> Response:
    """End the session (the form carries the CSRF token: no page can sign anyone out)."""
    return end_session(request)
