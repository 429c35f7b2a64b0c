resource "azurerm_key_vault" "main" {
  #checkov:skip=CKV_AZURE_189:Fabric Spark and the deployer reach the vault over its public endpoint; network_acls deny all but allowed_ip_ranges and trusted Azure services.
  #checkov:skip=CKV2_AZURE_32:No VNet in this deployment for a private endpoint; RBAC-only access and the firewall stand in.
  name                          = "kv-${local.compact_name}"
  resource_group_name           = azurerm_resource_group.main.name
  location                      = azurerm_resource_group.main.location
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true # restricted by network_acls below
  tags                          = local.tags

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.allowed_ip_ranges
  }
}

# The deployer (and named admins) write the secrets; the pipeline only reads them.
resource "azurerm_role_assignment" "secrets_officer" {
  for_each = toset(concat([data.azurerm_client_config.current.object_id], var.key_vault_admin_object_ids))

  scope                = azurerm_key_vault.main.id
  role_definition_name = local.roles.secrets_officer
  principal_id         = each.value
}

resource "azurerm_role_assignment" "pipeline_secrets_user" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = local.roles.secrets_user
  principal_id         = azurerm_user_assigned_identity.pipeline.principal_id
}

resource "azurerm_key_vault_secret" "eventhub_listen" {
  name            = local.secrets.listen
  value           = module.eventhubs.listen_connection_string
  key_vault_id    = azurerm_key_vault.main.id
  content_type    = "Event Hubs connection string (listen only, with EntityPath)"
  expiration_date = var.secrets_expire_on
  tags            = local.tags

  depends_on = [azurerm_role_assignment.secrets_officer]
}

resource "azurerm_key_vault_secret" "eventhub_send" {
  name            = local.secrets.send
  value           = module.eventhubs.send_connection_string
  key_vault_id    = azurerm_key_vault.main.id
  content_type    = "Event Hubs connection string (send only, with EntityPath)"
  expiration_date = var.secrets_expire_on
  tags            = local.tags

  depends_on = [azurerm_role_assignment.secrets_officer]
}
