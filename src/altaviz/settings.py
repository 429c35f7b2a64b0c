"""Environment-driven settings: the variables of the product specification plus Altaviz's own.

Every optional service is off until its variable is set. Secrets are ``SecretStr`` so they
never print. A ``.env`` file in the working directory is read too (never commit one).

>>> from altaviz.settings import Settings
>>> Settings(eventhub_name="telemetry").eventhub_name
'telemetry'
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from altaviz.core.errors import ConfigurationError

MIN_KEY_LENGTH = 16
"""Shorter API keys are refused: a key is a password that never expires."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", frozen=True
    )

    # Altaviz
    altaviz_config_dir: Path | None = None
    """Folder whose fleet.yaml / thresholds.yaml / lakehouse.yaml replace the packaged ones."""
    altaviz_lakehouse_root: str | None = None
    """Local lakehouse root; default from lakehouse.yaml (./lakehouse)."""
    altaviz_data_dir: Path = Path("data")
    """Where the simulator writes when no --output is given."""

    # Azure Fabric / OneLake
    fabric_workspace_id: str | None = None
    fabric_bronze_lakehouse_id: str | None = None
    fabric_silver_lakehouse_id: str | None = None
    fabric_gold_lakehouse_id: str | None = None
    fabric_ml_lakehouse_id: str | None = None

    # Azure Event Hubs (Kafka endpoint)
    eventhub_connection_string: SecretStr | None = None
    eventhub_namespace: str | None = None
    eventhub_name: str = "compressor-telemetry"
    eventhub_consumer_group: str = "$Default"

    # Any Kafka cluster (altaviz simulate --output kafka, altaviz pipeline --mode stream)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    """Brokers to use when the target is plain Kafka; the local broker by default."""
    altaviz_kafka_home: Path = Path(".altaviz/kafka")
    """Data, configuration and log of the local broker (``altaviz dev kafka``)."""

    # Monitoring
    log_analytics_workspace_id: str | None = None
    """Azure Monitor: the Log Analytics workspace the run records land in. With it, the Logs
    Ingestion API needs the data-collection endpoint, rule and stream below."""
    azure_monitor_endpoint: str | None = None
    """Data-collection endpoint, e.g. https://<dce>.<region>.ingest.monitor.azure.com."""
    azure_monitor_rule_id: str | None = None
    """Immutable ID of the data-collection rule (dcr-...)."""
    azure_monitor_stream: str | None = None
    """Stream of the rule; default ``Custom-<table>`` with the table of platform.yaml."""
    teams_webhook_url: SecretStr | None = None

    # ML
    mlflow_tracking_uri: str | None = None
    """The MLflow store; default: a SQLite store inside the lakehouse (``_models/``), so a
    lakehouse's models travel with it and never serve another fleet."""

    # AI agent: unset means the deterministic offline diagnostician.
    diagnostics_model: str | None = None
    diagnostics_base_url: str | None = None
    """An OpenAI-compatible server for ``DIAGNOSTICS_MODEL`` (a local model)."""

    # HTTP API
    altaviz_api_keys: SecretStr | None = None
    """Comma-separated API keys accepted in the X-API-Key header: ``name:role:key`` (role
    viewer, engineer or admin) or a bare key (an engineer)."""
    altaviz_session_secret: SecretStr | None = None
    """Signs the web app's session cookies; default: derived from the API keys (changing a
    key then signs everyone out). Set it when keys rotate often."""
    altaviz_cors_origins: list[str] = []
    """Origins allowed to call the API from a browser (JSON list)."""

    def api_keys(self) -> list[str]:
        """The accepted API keys (none when ``ALTAVIZ_API_KEYS`` is unset)."""
        return list(self.api_principals())

    def api_principals(self) -> dict[str, tuple[str, str]]:
        """Each accepted key with its holder's name and role (``check_keys`` judges them).

        >>> keys = "ops:viewer:0123456789abcdef0123,fedcba9876543210fedc"
        >>> Settings(altaviz_api_keys=keys).api_principals()["0123456789abcdef0123"]
        ('ops', 'viewer')
        """
        raw = self.altaviz_api_keys.get_secret_value() if self.altaviz_api_keys else ""
        found: dict[str, tuple[str, str]] = {}
        for n, entry in enumerate(e.strip() for e in raw.split(",")):
            if not entry:
                continue
            name, _, rest = entry.partition(":")
            role, _, key = rest.partition(":")
            if key and role in ("viewer", "engineer", "admin"):
                found[key] = (name, role)
            else:
                found[entry] = (f"key-{n + 1}", "engineer")
        return found

    # Notifications by e-mail (routes in notifications.yaml)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "altaviz@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False

    # Serving database (PostgreSQL)
    database_url: SecretStr | None = None
    etl_organization_id: str | None = None


def check_keys(principals: dict[str, tuple[str, str]]) -> None:
    """Refuse a key too short to be safe, naming its holder, never the key."""
    for key, (name, _role) in principals.items():
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigurationError(
                f"ALTAVIZ_API_KEYS: the key of {name} has {len(key)} characters; use at least "
                f"{MIN_KEY_LENGTH} (e.g. `openssl rand -hex 16`)"
            )


def masked(value: object) -> str | None:
    """A setting as it may be printed: secrets as asterisks, and the password of a URI's
    credentials hidden too (``postgresql://user:***@host/db``).

    >>> masked("postgresql://etl:s3cret@db:5432/altaviz"), masked(SecretStr("k")), masked(None)
    ('postgresql://etl:***@db:5432/altaviz', '**********', None)
    """
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return "**********"
    text = str(value)
    return re.sub(r"(?<=://)([^:/@\s]+):([^@/\s]+)@", r"\1:***@", text)


@cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
