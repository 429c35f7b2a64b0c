# Structured Streaming checkpoints (offsets and state) for the Spark consumer.
resource "azurerm_storage_account" "checkpoints" {
  #checkov:skip=CKV_AZURE_59:Reached from Fabric Spark over the public endpoint; network_rules deny all but allowed_ip_ranges and Azure services.
  #checkov:skip=CKV2_AZURE_33:No VNet in this deployment for a private endpoint; the firewall and Entra-only auth stand in.
  #checkov:skip=CKV2_AZURE_1:Holds stream offsets and state, no telemetry; Microsoft-managed keys plus infrastructure encryption.
  #checkov:skip=CKV_AZURE_33:The account has no queues; blob reads, writes and deletes are logged by the diagnostic setting below.
  name                              = "st${local.compact_name}ckpt"
  resource_group_name               = azurerm_resource_group.main.name
  location                          = azurerm_resource_group.main.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.checkpoint_replication
  is_hns_enabled                    = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  local_user_enabled                = false
  allow_nested_items_to_be_public   = false
  infrastructure_encryption_enabled = true
  public_network_access_enabled     = true # restricted by network_rules below
  tags                              = local.tags

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
    ip_rules       = [for cidr in var.allowed_ip_ranges : trimsuffix(cidr, "/32")]
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

resource "azurerm_storage_container" "checkpoints" {
  #checkov:skip=CKV2_AZURE_21:Blob read, write and delete logs go to Log Analytics through azurerm_monitor_diagnostic_setting.checkpoint_blobs.
  name                  = "checkpoints"
  storage_account_id    = azurerm_storage_account.checkpoints.id
  container_access_type = "private"
}

resource "azurerm_role_assignment" "pipeline_checkpoints" {
  scope                = azurerm_storage_container.checkpoints.id
  role_definition_name = local.roles.blob_contributor
  principal_id         = azurerm_user_assigned_identity.pipeline.principal_id
}

# Who read, wrote or deleted checkpoint blobs, kept with the run records.
resource "azurerm_monitor_diagnostic_setting" "checkpoint_blobs" {
  name                       = "blob-access-to-log-analytics"
  target_resource_id         = "${azurerm_storage_account.checkpoints.id}/blobServices/default"
  log_analytics_workspace_id = module.monitoring.workspace_resource_id

  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
}
