"""Where run records go: structured logs always; Azure Monitor and Microsoft Teams when their
environment variables are set.

Every sink fails soft: a sink that cannot deliver raises :class:`SinkError`, which the monitor
records as a warning on the run - a broken webhook never fails a pipeline run.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from altaviz.core.errors import ServiceError
from altaviz.core.results import RunStatus
from altaviz.monitoring.record import RunRecord

LOGS_INGESTION_API_VERSION = "2023-01-01"
MONITOR_SCOPE = "https://monitor.azure.com/.default"
TIMEOUT_S = 10.0

log = logging.getLogger("altaviz.monitoring")


class SinkError(ServiceError):
    """A sink could not deliver; the message says why in one line."""


class Sink(Protocol):
    name: str

    def send(self, record: RunRecord, reasons: list[str]) -> None:
        """Deliver ``record``; ``reasons`` says what made the run noteworthy (may be empty)."""
        ...


def post_json(url: str, payload: Any, headers: dict[str, str] | None = None) -> int:
    """POST ``payload`` as JSON; the HTTP status, or :class:`SinkError` in one line."""
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise SinkError(f"{_host(url)} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SinkError(f"{_host(url)} unreachable ({reason})") from exc


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


class LogSink:
    """The record as one structured JSON log line (logger ``altaviz.monitoring``)."""

    name = "log"

    def send(self, record: RunRecord, reasons: list[str]) -> None:
        level = logging.ERROR if record.status == RunStatus.FAILED else logging.INFO
        log.log(level, json.dumps({"event": "pipeline_run", **record.model_dump(mode="json")}))


@dataclass
class TeamsSink:
    """An Adaptive Card to a Microsoft Teams incoming webhook, for noteworthy runs only
    (failed, quality breach, slow stage)."""

    webhook_url: str
    name: str = "teams"

    def send(self, record: RunRecord, reasons: list[str]) -> None:
        if not reasons:
            return
        post_json(self.webhook_url, adaptive_card(record, reasons))


def adaptive_card(record: RunRecord, reasons: list[str]) -> dict[str, Any]:
    """The Teams message: an Adaptive Card (schema 1.4) in a message attachment."""
    failed = record.status == RunStatus.FAILED
    facts = [
        ("Run", record.run_id),
        ("Status", record.status),
        ("Started", record.started_at.isoformat(timespec="seconds")),
        ("Duration", f"{record.duration_s:.1f} s"),
        (
            "Rows (bronze / silver / gold hourly)",
            f"{record.rows_bronze:,} / {record.rows_silver:,} / {record.rows_gold_hourly:,}",
        ),
        ("Rejected", f"{record.rejected:,}"),
        ("Alerts opened", f"{record.alerts_opened:,}"),
        ("Units at risk", f"{record.units_at_risk:,}"),
    ]
    if record.error:
        facts.append(("Error", record.error))
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "size": "Large",
                "weight": "Bolder",
                "color": "Attention" if failed else "Warning",
                "text": f"Altaviz pipeline {'failed' if failed else 'needs attention'}",
                "wrap": True,
            },
            *({"type": "TextBlock", "text": f"- {reason}", "wrap": True} for reason in reasons),
            {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts]},
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


@dataclass
class AzureMonitorSink:
    """Run records to a Log Analytics custom table through the Logs Ingestion API: a POST of
    a JSON array to ``{endpoint}/dataCollectionRules/{rule}/streams/{stream}``, authorised
    by an Entra ID bearer token for https://monitor.azure.com."""

    endpoint: str
    rule_id: str
    stream: str
    token: Callable[[], str]
    name: str = "azure_monitor"

    @property
    def url(self) -> str:
        return (
            f"{self.endpoint.rstrip('/')}/dataCollectionRules/{self.rule_id}/streams/"
            f"{self.stream}?api-version={LOGS_INGESTION_API_VERSION}"
        )

    def send(self, record: RunRecord, reasons: list[str]) -> None:
        row = {
            "TimeGenerated": record.ended_at.isoformat(),
            **record.model_dump(mode="json"),
            "Reasons": reasons,
        }
        post_json(self.url, [row], {"Authorization": f"Bearer {self.token()}"})


@dataclass
class PostgresSink:
    """The run record into the serving database's ``pipeline_runs`` (``DATABASE_URL``)."""

    url: str
    name: str = "postgres"

    def send(self, record: RunRecord, reasons: list[str]) -> None:
        import narwhals as nw
        import polars as pl

        from altaviz.lake.catalog import PIPELINE_RUNS
        from altaviz.serving.database import DatabaseError, connect, migrate, upsert

        frame = nw.from_native(pl.DataFrame(record.table_row()))
        try:
            with connect(self.url) as conn:
                migrate(conn)
                upsert(conn, PIPELINE_RUNS, frame, None)
        except DatabaseError as exc:
            raise SinkError(str(exc)) from exc


def azure_token() -> str:
    """A token for Azure Monitor from ``azure-identity``'s default chain (environment,
    managed identity, Azure CLI)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise SinkError(
            "Azure Monitor needs the azure-identity package (pip install azure-identity)"
        ) from exc
    try:
        return DefaultAzureCredential().get_token(MONITOR_SCOPE).token
    except Exception as exc:  # the SDK raises its own kinds; all mean no token
        raise SinkError(f"no Azure credential for Azure Monitor ({exc})") from exc
