# Least privilege for the pipeline identity: each role on the one resource it needs.

resource "azurerm_role_assignment" "pipeline_receives_telemetry" {
  scope                = module.eventhubs.hub_id
  role_definition_name = local.roles.eventhub_receiver
  principal_id         = azurerm_user_assigned_identity.pipeline.principal_id
}

resource "azurerm_role_assignment" "pipeline_sends_dead_letters" {
  scope                = module.eventhubs.dead_letter_hub_id
  role_definition_name = local.roles.eventhub_sender
  principal_id         = azurerm_user_assigned_identity.pipeline.principal_id
}

resource "azurerm_role_assignment" "pipeline_reads_schemas" {
  scope                = module.eventhubs.schemas_hub_id
  role_definition_name = local.roles.eventhub_receiver
  principal_id         = azurerm_user_assigned_identity.pipeline.principal_id
}

resource "azurerm_role_assignment" "pipeline_publishes_runs" {
  scope                = module.monitoring.rule_id
  role_definition_name = local.roles.metrics_publisher
  principal_id         = azurerm_user_assigned_identity.pipeline.principal_id
}
