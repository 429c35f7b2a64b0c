"""``altaviz db``: the PostgreSQL serving database."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from altaviz.cli.errors import Group, fail
from altaviz.cli.options import (
    LakehouseOption,
    open_lakehouse,
    parse_date,
)
from altaviz.cli.render import out
from altaviz.settings import get_settings

group = Group(help="The PostgreSQL serving database (DATABASE_URL).")


@group.command("schema")
def db_schema() -> None:
    """Print the serving schema (infrastructure/sql/schema.sql is this output)."""
    from altaviz.serving.schema import schema_sql

    sys.stdout.write(schema_sql())


@group.command("migrate")
def db_migrate() -> None:
    """Create or update the serving schema in DATABASE_URL (idempotent)."""
    from altaviz.serving.database import connect, migrate

    url = get_settings().database_url
    if url is None:
        fail("DATABASE_URL is not set (postgresql://user@host:5432/dbname)")
    with connect(url.get_secret_value()) as conn:
        migrate(conn)
    out.print("serving schema is up to date")


@group.command("export")
def db_export(
    lakehouse: LakehouseOption = None,
    since: Annotated[str | None, typer.Option(help="First date \\[default: all].")] = None,
) -> None:
    """Export the lakehouse's gold and ML tables (all dates, or from --since) to DATABASE_URL."""
    from altaviz.pipeline.reports import gold_dates
    from altaviz.serving.database import connect, export, migrate

    url = get_settings().database_url
    if url is None:
        fail("DATABASE_URL is not set (postgresql://user@host:5432/dbname)")
    first = parse_date(since, "--since")
    engine = open_lakehouse(lakehouse)
    dates = gold_dates(engine, first)
    with connect(url.get_secret_value()) as conn:
        migrate(conn)
        sent = export(engine, conn, dates)
    for table, rows in sent.items():
        out.print(f"{table}: {rows:,} rows")
