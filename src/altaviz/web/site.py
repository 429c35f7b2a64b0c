"""What every page shares: the templates, the derived data kept between requests, the
rendering helper and the live-update stamp."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from altaviz import __version__
from altaviz.api.deps import Served
from altaviz.lake import catalog as lake
from altaviz.web.session import Signer

LIVE_TABLES = (lake.CASES, lake.CASE_EVENTS, lake.PIPELINE_RUNS)
"""Tables outside the API's snapshot whose change refreshes an open page."""
NONE = "\u2013"  # an en dash: no value
PAGE_HEADERS = {
    # Only this site's own scripts run (no inline script, no CDN); uPlot sizes its canvas
    # with inline styles, hence style-src 'unsafe-inline'.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Memo:
    """Values derived from the lakehouse, each recomputed only when its stamp moves (the
    tables it comes from changed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[Hashable, Any]] = {}

    def get(self, key: Hashable, stamp: Hashable, compute: Callable[[], Any]) -> Any:
        held = self._values.get(key)
        if held is not None and held[0] == stamp:
            return held[1]
        with self._lock:
            held = self._values.get(key)
            if held is None or held[0] != stamp:
                held = (stamp, compute())
                self._values[key] = held
                if len(self._values) > 256:  # emissions periods and the like: keep it small
                    self._values.pop(next(iter(self._values)))
        return held[1]


@dataclass
class Web:
    """The web app's state, on ``app.state.web``."""

    signer: Signer
    templates: Jinja2Templates
    live_seconds: float = 15.0
    memo: Memo = field(default_factory=Memo)


def templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("altaviz.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {
        "number": _number,
        "moment": _moment,
        "hours": _hours,
        "evidence": _evidence,
        "ago": _ago,
    }
    env.globals["version"] = __version__
    return Jinja2Templates(env=env)


def render(
    request: Request, name: str, person: Any, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page rendered for ``person`` (None on the sign-in page)."""
    web: Web = request.app.state.web
    return web.templates.TemplateResponse(
        request,
        name,
        {
            "person": person,
            "path": request.url.path,
            "live_seconds": web.live_seconds,
            **context,
        },
        status_code=status,
        headers=PAGE_HEADERS,
    )


def stamp(served: Served) -> str:
    """Changes whenever anything a page shows may have changed: the snapshot's tables, the
    cases and their events, the pipeline's runs."""
    engine = served.engine
    snapshot = served.store.get()
    versions = [snapshot.versions] + [engine.version(t) for t in LIVE_TABLES]
    return hashlib.sha256(repr(versions).encode()).hexdigest()[:16]


def options(frame: pl.DataFrame, column: str) -> list[str]:
    """The distinct values of a column, sorted, for a filter's choices."""
    if not frame.height or column not in frame.columns:
        return []
    return sorted(v for v in frame[column].unique().to_list() if v is not None)


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return NONE
    return f"{value:,.{digits}f}"


def _moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else NONE


def _evidence(text: str | None) -> str:
    """A case's evidence (JSON) as one readable line.

    >>> _evidence('{"deviations": {"vibration_mms": 0.44}, "models": {"rul_hours": 12.0}}')
    'vibration_mms +44% against its healthy median; rul_hours 12'
    """
    if not text:
        return NONE
    try:
        found = json.loads(text)
    except ValueError:
        return text
    parts = [
        f"{sensor} {share:+.0%} against its healthy median"
        for sensor, share in (found.get("deviations") or {}).items()
    ]
    parts += [
        f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in (found.get("models") or {}).items()
    ]
    return "; ".join(parts) or NONE


def _ago(minutes: float) -> str:
    """How long ago, in the unit people would say it.

    >>> _ago(12.4), _ago(150), _ago(4000)
    ('12 min ago', '2.5 h ago', '2.8 d ago')
    """
    if minutes < 90:
        return f"{max(minutes, 0):.0f} min ago"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h ago"
    return f"{minutes / 1440:.1f} d ago"


def _hours(value: float | None) -> str:
    """Hours to failure as people say it."""
    if value is None:
        return NONE
    if value < 1:
        return "imminent"
    if value < 48:
        return f"{value:.0f} h"
    return f"{value / 24:.1f} d"
