"""Packaged configuration: load, validate and cross-check the six YAML files.

>>> from altaviz.config import load_config
>>> cfg = load_config()
>>> cfg.lakehouse.lakehouses.bronze
'lh_bronze_raw'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from altaviz.config.schema import (
    FleetConfig,
    LakehouseConfig,
    ModelsConfig,
    PlatformConfig,
    ThresholdsConfig,
)
from altaviz.config.schema.notifications import NotificationsConfig
from altaviz.core.errors import ConfigurationError

__all__ = [
    "AppConfig",
    "ConfigError",
    "FleetConfig",
    "LakehouseConfig",
    "ModelsConfig",
    "PlatformConfig",
    "ThresholdsConfig",
    "load_config",
]

FILES = (
    "fleet.yaml",
    "thresholds.yaml",
    "lakehouse.yaml",
    "models.yaml",
    "platform.yaml",
    "notifications.yaml",
)
_M = TypeVar("_M", bound=BaseModel)


class ConfigError(ConfigurationError):
    """A configuration file is missing, unreadable or invalid; the message names file and key."""


@dataclass(frozen=True)
class AppConfig:
    fleet: FleetConfig
    thresholds: ThresholdsConfig
    lakehouse: LakehouseConfig
    models: ModelsConfig
    platform: PlatformConfig
    sources: dict[str, str]  # file name -> where it was read from
    notifications: NotificationsConfig = field(
        default_factory=lambda: NotificationsConfig(version=1)
    )


def packaged_config_dir() -> Path:
    """The folder holding the defaults shipped inside the package."""
    return Path(str(resources.files("altaviz.config")))


def load_config(config_dir: str | Path | None = None) -> AppConfig:
    """Load the configuration; a file in ``config_dir`` replaces the packaged one of that name.

    ``config_dir`` defaults to the ``ALTAVIZ_CONFIG_DIR`` setting. Raises
    :class:`ConfigError` naming the file and the key at fault.
    """
    if config_dir is None:
        from altaviz.settings import get_settings

        config_dir = get_settings().altaviz_config_dir
    return _load(str(config_dir) if config_dir else None)


@cache
def _load(config_dir: str | None) -> AppConfig:
    override = Path(config_dir) if config_dir else None
    if override is not None and not override.is_dir():
        raise ConfigError(f"{override}: configuration folder does not exist")
    sources = {
        name: (
            override / name
            if override and (override / name).exists()
            else packaged_config_dir() / name
        )
        for name in FILES
    }
    fleet = _parse(sources["fleet.yaml"], FleetConfig)
    thresholds = _parse(sources["thresholds.yaml"], ThresholdsConfig)
    lakehouse = _parse(sources["lakehouse.yaml"], LakehouseConfig)
    models = _parse(sources["models.yaml"], ModelsConfig)
    platform = _parse(sources["platform.yaml"], PlatformConfig)
    notifications = _parse(sources["notifications.yaml"], NotificationsConfig)
    unknown = sorted(set(thresholds.models) - {m.name for m in fleet.models})
    if unknown:
        raise ConfigError(
            f"{sources['thresholds.yaml']}: models: {', '.join(unknown)} "
            f"not defined in {sources['fleet.yaml'].name}"
        )
    return AppConfig(
        fleet,
        thresholds,
        lakehouse,
        models,
        platform,
        {k: str(v) for k, v in sources.items()},
        notifications,
    )


def _parse(path: Path, model: type[_M]) -> _M:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: invalid YAML ({problem})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {key}: {msg}{more}") from exc
