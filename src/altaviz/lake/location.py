"""Where the lakehouse lives: a local folder laid out like OneLake, or OneLake itself.

Locally a table is ``<root>/<lakehouse>/Tables/<table>``. When ``FABRIC_WORKSPACE_ID`` is set
the same table is ``abfss://<workspace>@onelake.dfs.fabric.microsoft.com/<lakehouse>/Tables/<table>``,
where ``<lakehouse>`` is the lakehouse GUID from ``FABRIC_<LAYER>_LAKEHOUSE_ID`` or, without
one, ``<name>.Lakehouse``.

>>> from altaviz.config import load_config
>>> from altaviz.settings import Settings
>>> loc = lake_location(load_config().lakehouse, Settings(_env_file=None), root="/data/lake")
>>> loc.table_uri("bronze", "sensor_readings")
'/data/lake/lh_bronze_raw/Tables/sensor_readings'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from altaviz.config.schema import LakehouseConfig
from altaviz.settings import Settings

ONELAKE_HOST = "onelake.dfs.fabric.microsoft.com"
STORAGE_SCOPE = "https://storage.azure.com/.default"


@dataclass(frozen=True)
class LakeLocation:
    """Resolves (layer, table) to a URI, with the storage options delta-rs needs there."""

    lakehouses: Mapping[str, str]  # layer -> folder name or OneLake item
    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    onelake: bool = False

    def table_uri(self, layer: str, table: str) -> str:
        if self.onelake:
            return f"{self.root}/{self.lakehouses[layer]}/Tables/{table}"
        return str(Path(self.root) / self.lakehouses[layer] / "Tables" / table)


def lake_location(
    config: LakehouseConfig,
    settings: Settings,
    root: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LakeLocation:
    """The lakehouse location for these settings; ``root`` overrides the local root.

    OneLake is used when ``FABRIC_WORKSPACE_ID`` is set and no explicit local ``root`` is given.
    """
    names = config.lakehouses.model_dump()
    if settings.fabric_workspace_id and root is None:
        ids = {
            "bronze": settings.fabric_bronze_lakehouse_id,
            "silver": settings.fabric_silver_lakehouse_id,
            "gold": settings.fabric_gold_lakehouse_id,
            "ml": settings.fabric_ml_lakehouse_id,
        }
        items = {layer: ids[layer] or f"{name}.Lakehouse" for layer, name in names.items()}
        return LakeLocation(
            lakehouses=items,
            root=f"abfss://{settings.fabric_workspace_id}@{ONELAKE_HOST}",
            storage_options=onelake_storage_options(environ if environ is not None else os.environ),
            onelake=True,
        )
    local = Path(root or settings.altaviz_lakehouse_root or config.root)
    # Absolute, as delta-rs reports file paths: the engine compares them with its own.
    return LakeLocation(lakehouses=names, root=str(local.absolute()))


def onelake_storage_options(environ: Mapping[str, str]) -> dict[str, str]:
    """delta-rs (object_store) options for OneLake, with the credential the environment offers.

    A service principal (``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``, ``AZURE_TENANT_ID``) is
    passed through; otherwise a token from ``azure-identity``'s default credential chain
    (managed identity, workload identity, Azure CLI, ...) when that package is installed;
    otherwise the Azure CLI login.
    """
    options = {"use_fabric_endpoint": "true"}
    if all(environ.get(k) for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID")):
        options |= {
            "azure_client_id": environ["AZURE_CLIENT_ID"],
            "azure_client_secret": environ["AZURE_CLIENT_SECRET"],
            "azure_tenant_id": environ["AZURE_TENANT_ID"],
        }
        return options
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        return options | {"use_azure_cli": "true"}
    token = DefaultAzureCredential().get_token(STORAGE_SCOPE).token
    return options | {"bearer_token": token}
