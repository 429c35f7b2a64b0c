resource "azurerm_eventhub_namespace" "main" {
  name                          = var.name
  resource_group_name           = var.resource_group_name
  location                      = var.location
  sku                           = var.sku
  capacity                      = var.capacity
  auto_inflate_enabled          = var.sku == "Standard" && var.max_throughput_units > 0
  maximum_throughput_units      = var.sku == "Standard" && var.max_throughput_units > 0 ? var.max_throughput_units : null
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true # the compressors' gateways send over the internet (TLS, SAS)
  local_authentication_enabled  = true # the Kafka endpoint's SASL PLAIN login uses SAS keys
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

locals {
  hubs = {
    telemetry   = var.hub.name
    dead_letter = var.hub.dead_letter
  }
}

resource "azurerm_eventhub" "hub" {
  for_each = local.hubs

  name              = each.value
  namespace_id      = azurerm_eventhub_namespace.main.id
  partition_count   = var.hub.partitions
  message_retention = var.hub.retention_days
}

# The schema registry: every telemetry schema a producer writes with, keyed by fingerprint.
# Compacted, so the registry keeps each schema however old (one partition keeps it ordered).
resource "azurerm_eventhub" "schemas" {
  name         = var.hub.schemas
  namespace_id = azurerm_eventhub_namespace.main.id

  partition_count = 1
  retention_description {
    cleanup_policy                    = "Compact"
    tombstone_retention_time_in_hours = 168
  }
}

resource "azurerm_eventhub_consumer_group" "group" {
  for_each = var.hub.consumer_groups

  name                = each.value
  namespace_name      = azurerm_eventhub_namespace.main.name
  eventhub_name       = azurerm_eventhub.hub["telemetry"].name
  resource_group_name = var.resource_group_name
  user_metadata       = "altaviz ${each.key} consumer"
}

# Separate keys for the two directions: gateways can only send, the pipeline only listen.
resource "azurerm_eventhub_authorization_rule" "send" {
  name                = "altaviz-send"
  namespace_name      = azurerm_eventhub_namespace.main.name
  eventhub_name       = azurerm_eventhub.hub["telemetry"].name
  resource_group_name = var.resource_group_name
  send                = true
  listen              = false
  manage              = false
}

resource "azurerm_eventhub_authorization_rule" "listen" {
  name                = "altaviz-listen"
  namespace_name      = azurerm_eventhub_namespace.main.name
  eventhub_name       = azurerm_eventhub.hub["telemetry"].name
  resource_group_name = var.resource_group_name
  send                = false
  listen              = true
  manage              = false
}
