output "workspace_id" {
  description = "Log Analytics workspace (customer) ID."
  value       = azurerm_log_analytics_workspace.main.workspace_id
}

output "workspace_resource_id" {
  description = "Resource ID of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.main.id
}

output "ingestion_endpoint" {
  description = "Logs Ingestion endpoint of the data-collection endpoint."
  value       = azurerm_monitor_data_collection_endpoint.main.logs_ingestion_endpoint
}

output "rule_id" {
  description = "Resource ID of the data-collection rule (scope of the publisher role)."
  value       = azurerm_monitor_data_collection_rule.runs.id
}

output "rule_immutable_id" {
  description = "Immutable ID (dcr-...) of the data-collection rule."
  value       = azurerm_monitor_data_collection_rule.runs.immutable_id
}

output "stream" {
  description = "Stream the pipeline posts run records to."
  value       = local.stream
}
