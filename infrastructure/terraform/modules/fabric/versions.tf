terraform {
  required_providers {
    fabric = {
      source = "microsoft/fabric"
    }
  }
}
