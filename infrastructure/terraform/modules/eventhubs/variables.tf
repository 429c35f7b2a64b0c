variable "name" {
  description = "Event Hubs namespace name (globally unique)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the namespace."
  type        = string
}

variable "location" {
  description = "Azure region of the namespace."
  type        = string
}

variable "sku" {
  description = "Namespace tier (Standard or Premium; both expose the Kafka endpoint)."
  type        = string
}

variable "capacity" {
  description = "Throughput or processing units."
  type        = number
}

variable "max_throughput_units" {
  description = "Auto-inflate ceiling on Standard; 0 turns auto-inflate off."
  type        = number
}

variable "hub" {
  description = "The telemetry hub: name, partitions, retention, consumer groups, dead-letter and schema hubs."
  type = object({
    name            = string
    partitions      = number
    retention_days  = number
    consumer_groups = map(string)
    dead_letter     = string
    schemas         = string
  })
}

variable "tags" {
  description = "Tags of the namespace."
  type        = map(string)
}
