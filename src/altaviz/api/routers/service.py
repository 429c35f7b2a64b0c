"""``/health``: liveness and what is served (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter

from altaviz import __version__
from altaviz.api.deps import ServedDep
from altaviz.api.models import Health

router = APIRouter(tags=["service"])


@router.get("/health")
def health(served: ServedDep) -> Health:
    """Liveness and what the API is serving (no key needed)."""
    snap = served.store.get()
    latest = snap.latest["hour"].max() if snap.latest.height else None
    return Health(
        status="ok",
        version=__version__,
        data_as_of=latest,  # type: ignore[arg-type]
        units=snap.units.height,
        loaded_at=snap.loaded_at,
    )
