output "namespace_name" {
  description = "Namespace name; the Kafka bootstrap server is <name>.servicebus.windows.net:9093."
  value       = azurerm_eventhub_namespace.main.name
}

output "hub_name" {
  description = "Telemetry hub (Kafka topic) name."
  value       = azurerm_eventhub.hub["telemetry"].name
}

output "hub_id" {
  description = "Resource ID of the telemetry hub."
  value       = azurerm_eventhub.hub["telemetry"].id
}

output "dead_letter_hub_name" {
  description = "Dead-letter hub (Kafka topic) name."
  value       = azurerm_eventhub.hub["dead_letter"].name
}

output "dead_letter_hub_id" {
  description = "Resource ID of the dead-letter hub."
  value       = azurerm_eventhub.hub["dead_letter"].id
}

output "consumer_groups" {
  description = "Consumer group names by role (etl, ml)."
  value       = { for role, group in azurerm_eventhub_consumer_group.group : role => group.name }
}

output "listen_connection_string" {
  description = "Listen-only connection string of the telemetry hub (includes EntityPath)."
  value       = azurerm_eventhub_authorization_rule.listen.primary_connection_string
  sensitive   = true
}

output "send_connection_string" {
  description = "Send-only connection string of the telemetry hub (includes EntityPath)."
  value       = azurerm_eventhub_authorization_rule.send.primary_connection_string
  sensitive   = true
}

output "schemas_hub_name" {
  description = "Name of the schema-registry hub (compacted)."
  value       = azurerm_eventhub.schemas.name
}

output "schemas_hub_id" {
  description = "Resource ID of the schema-registry hub, for role assignments."
  value       = azurerm_eventhub.schemas.id
}
