"""The export stage: gold and ML tables into the PostgreSQL serving database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from altaviz.pipeline.context import PipelineError, RunContext
from altaviz.settings import Settings


def export_stage(
    run: RunContext, settings: Settings, dates: list[date], say: Callable[[str], None]
) -> dict[str, int]:
    """Upsert gold and ML tables for ``dates`` (and the reference tables) into PostgreSQL when
    ``DATABASE_URL`` is set, unless ``--skip-db``; rows sent per table."""
    if settings.database_url is None or run.request.skip_db:
        return {}
    from altaviz.serving.database import DatabaseError, connect, export, migrate

    with run.stage("export"):
        say("serving database")
        try:
            with connect(settings.database_url.get_secret_value()) as conn:
                migrate(conn)
                return export(run.engine, conn, dates)
        except DatabaseError as exc:
            raise PipelineError(str(exc)) from exc
