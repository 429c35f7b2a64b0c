variable "name" {
  description = "Base name of the monitoring resources."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the monitoring resources."
  type        = string
}

variable "resource_group_id" {
  description = "Resource ID of that resource group (scope of the failed-run alert)."
  type        = string
}

variable "location" {
  description = "Azure region of the monitoring resources."
  type        = string
}

variable "retention_days" {
  description = "Days the workspace and the custom table keep records."
  type        = number
}

variable "table" {
  description = "Custom table of pipeline run records (name ends in _CL)."
  type        = string
}

variable "alert_emails" {
  description = "Receiver name to e-mail address for failed-run alerts; empty disables them."
  type        = map(string)
}

variable "tags" {
  description = "Tags of every taggable monitoring resource."
  type        = map(string)
}
