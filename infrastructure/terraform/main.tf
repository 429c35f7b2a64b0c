data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "main" {
  name     = "rg-${local.base_name}"
  location = var.location
  tags     = local.tags
}

# The identity the pipeline runs as: it reads the hub, writes dead letters, reads secrets,
# publishes run records and keeps stream checkpoints - and nothing else.
resource "azurerm_user_assigned_identity" "pipeline" {
  name                = "id-${local.base_name}-pipeline"
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}

module "eventhubs" {
  source = "./modules/eventhubs"

  name                 = "evhns-${local.base_name}"
  resource_group_name  = azurerm_resource_group.main.name
  location             = azurerm_resource_group.main.location
  sku                  = var.eventhub_sku
  capacity             = var.eventhub_capacity
  max_throughput_units = var.eventhub_max_throughput_units
  hub                  = var.telemetry_hub
  tags                 = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name                = local.base_name
  resource_group_name = azurerm_resource_group.main.name
  resource_group_id   = azurerm_resource_group.main.id
  location            = azurerm_resource_group.main.location
  retention_days      = var.log_retention_days
  table               = var.monitoring_table
  alert_emails        = var.failed_run_alert_emails
  tags                = local.tags
}

module "fabric" {
  source = "./modules/fabric"

  workspace_name    = "Altaviz ${title(var.environment)}"
  capacity_id       = var.fabric_capacity_id
  lakehouses        = var.lakehouses
  jobs              = var.pipeline_jobs
  schedule_window   = var.schedule_window
  wheel_path        = var.altaviz_wheel
  publish_artifacts = var.publish_artifacts
  job_entry_point   = "${path.root}/../fabric/altaviz_job.py"
  key_vault_uri     = azurerm_key_vault.main.vault_uri
  secrets = {
    EVENTHUB_CONNECTION_STRING = local.secrets.listen
  }
  # Non-secret settings the job needs; every value here is also a root output.
  settings = {
    EVENTHUB_NAMESPACE         = module.eventhubs.namespace_name
    EVENTHUB_NAME              = module.eventhubs.hub_name
    EVENTHUB_CONSUMER_GROUP    = module.eventhubs.consumer_groups["etl"]
    LOG_ANALYTICS_WORKSPACE_ID = module.monitoring.workspace_id
    AZURE_MONITOR_ENDPOINT     = module.monitoring.ingestion_endpoint
    AZURE_MONITOR_RULE_ID      = module.monitoring.rule_immutable_id
    AZURE_MONITOR_STREAM       = module.monitoring.stream
  }
}
