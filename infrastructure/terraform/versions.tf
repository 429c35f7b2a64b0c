terraform {
  required_version = ">= 1.9.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.42"
    }
    azapi = {
      source  = "azure/azapi"
      version = "~> 2.0"
    }
    fabric = {
      source  = "microsoft/fabric"
      version = "~> 1.3"
    }
  }

  # Partial configuration: the state account comes from `-backend-config=backend.hcl`
  # (see backend.hcl.example), so no environment's storage names live in the code.
  backend "azurerm" {}
}
