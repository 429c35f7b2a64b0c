# What the pipeline needs to run, by the setting that consumes it (docs/deploy-azure-fabric.md).

output "resource_group_name" {
  description = "Resource group holding the Azure resources."
  value       = azurerm_resource_group.main.name
}

output "fabric_workspace_id" {
  description = "FABRIC_WORKSPACE_ID"
  value       = module.fabric.workspace_id
}

output "fabric_lakehouse_ids" {
  description = "FABRIC_BRONZE_LAKEHOUSE_ID, FABRIC_SILVER_LAKEHOUSE_ID, FABRIC_GOLD_LAKEHOUSE_ID, FABRIC_ML_LAKEHOUSE_ID (by layer)."
  value       = module.fabric.lakehouse_ids
}

output "fabric_environment_id" {
  description = "Fabric environment carrying the Altaviz wheel (attach notebooks to it)."
  value       = module.fabric.environment_id
}

output "fabric_job_ids" {
  description = "Spark job definition IDs by job (batch, ml)."
  value       = module.fabric.job_ids
}

output "fabric_landing_uri" {
  description = "altaviz pipeline --source: the OneLake folder landing files are written to."
  value       = module.fabric.landing_uri
}

output "eventhub_namespace" {
  description = "EVENTHUB_NAMESPACE (Kafka bootstrap <namespace>.servicebus.windows.net:9093)."
  value       = module.eventhubs.namespace_name
}

output "eventhub_name" {
  description = "EVENTHUB_NAME"
  value       = module.eventhubs.hub_name
}

output "eventhub_schemas_name" {
  description = "Schema-registry hub (compacted): the telemetry schemas producers write with."
  value       = module.eventhubs.schemas_hub_name
}

output "eventhub_dead_letter_name" {
  description = "Dead-letter hub of messages that fail the schema registry."
  value       = module.eventhubs.dead_letter_hub_name
}

output "eventhub_consumer_groups" {
  description = "EVENTHUB_CONSUMER_GROUP of each consumer (etl for ingestion, ml for scoring)."
  value       = module.eventhubs.consumer_groups
}

output "eventhub_listen_connection_string" {
  description = "EVENTHUB_CONNECTION_STRING of consumers (also in Key Vault)."
  value       = module.eventhubs.listen_connection_string
  sensitive   = true
}

output "eventhub_send_connection_string" {
  description = "EVENTHUB_CONNECTION_STRING of producers (also in Key Vault)."
  value       = module.eventhubs.send_connection_string
  sensitive   = true
}

output "key_vault_uri" {
  description = "Key Vault holding the connection strings (altaviz_job.py --key-vault)."
  value       = azurerm_key_vault.main.vault_uri
}

output "key_vault_secret_names" {
  description = "Secret names by use (listen: consumers, send: producers)."
  value       = local.secrets
}

output "log_analytics_workspace_id" {
  description = "LOG_ANALYTICS_WORKSPACE_ID"
  value       = module.monitoring.workspace_id
}

output "azure_monitor_endpoint" {
  description = "AZURE_MONITOR_ENDPOINT (Logs Ingestion endpoint)."
  value       = module.monitoring.ingestion_endpoint
}

output "azure_monitor_rule_id" {
  description = "AZURE_MONITOR_RULE_ID (immutable data-collection rule ID)."
  value       = module.monitoring.rule_immutable_id
}

output "azure_monitor_stream" {
  description = "AZURE_MONITOR_STREAM"
  value       = module.monitoring.stream
}

output "checkpoint_location" {
  description = "Checkpoint root of the Spark Structured Streaming consumer."
  value       = "abfss://${azurerm_storage_container.checkpoints.name}@${azurerm_storage_account.checkpoints.name}.dfs.core.windows.net/"
}

output "pipeline_identity_client_id" {
  description = "AZURE_CLIENT_ID of the pipeline's managed identity (where it runs as that identity)."
  value       = azurerm_user_assigned_identity.pipeline.client_id
}
