provider "azurerm" {
  subscription_id = var.subscription_id
  # The checkpoint account has shared keys disabled: data-plane calls use Entra ID.
  storage_use_azuread = true

  features {
    key_vault {
      # Purge protection is on; never let a destroy try to purge.
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}

provider "azapi" {
  subscription_id = var.subscription_id
}

# Credentials come from the environment (FABRIC_TENANT_ID, FABRIC_CLIENT_ID, OIDC or the
# Azure CLI), never from variables. Environments and job schedules are preview resources.
provider "fabric" {
  preview = true
}
