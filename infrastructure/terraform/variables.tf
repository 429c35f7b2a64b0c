# ----------------------------------------------------------------------------- deployment

variable "subscription_id" {
  description = "Azure subscription that holds every Azure resource of this deployment."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID."
  }
}

variable "environment" {
  description = "Deployment stage; part of every resource name (dev, test or prod)."
  type        = string
  validation {
    condition     = contains(["dev", "test", "prod"], var.environment)
    error_message = "environment must be one of dev, test, prod."
  }
}

variable "location" {
  description = "Azure region of the resource group and every Azure resource in it."
  type        = string
  default     = "southcentralus"
  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as southcentralus."
  }
}

variable "name_prefix" {
  description = "Short lower-case prefix of resource names (3-10 letters or digits)."
  type        = string
  default     = "altaviz"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,9}$", var.name_prefix))
    error_message = "name_prefix must be 3-10 lower-case letters or digits, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags merged into the standard ones on every taggable resource."
  type        = map(string)
  default     = {}
}

variable "allowed_ip_ranges" {
  description = "Public CIDR ranges (the deployer's, CI's) allowed through the Key Vault and storage firewalls."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for cidr in var.allowed_ip_ranges : can(cidrhost(cidr, 0))])
    error_message = "allowed_ip_ranges must hold CIDR ranges such as 203.0.113.0/24."
  }
}

# ----------------------------------------------------------------------------- Event Hubs

variable "eventhub_sku" {
  description = "Event Hubs namespace tier; Standard or higher exposes the Kafka endpoint."
  type        = string
  default     = "Standard"
  validation {
    condition     = contains(["Standard", "Premium"], var.eventhub_sku)
    error_message = "eventhub_sku must be Standard or Premium (Basic has no Kafka endpoint)."
  }
}

variable "eventhub_capacity" {
  description = "Throughput units (Standard) or processing units (Premium) of the namespace."
  type        = number
  default     = 1
  validation {
    condition     = var.eventhub_capacity >= 1 && var.eventhub_capacity <= 40
    error_message = "eventhub_capacity must be between 1 and 40."
  }
}

variable "eventhub_max_throughput_units" {
  description = "Upper bound for auto-inflate on Standard (0 disables auto-inflate)."
  type        = number
  default     = 4
  validation {
    condition     = var.eventhub_max_throughput_units >= 0 && var.eventhub_max_throughput_units <= 40
    error_message = "eventhub_max_throughput_units must be between 0 and 40."
  }
}

variable "telemetry_hub" {
  description = "The telemetry hub; must equal eventhub in src/altaviz/config/platform.yaml."
  type = object({
    name            = string
    partitions      = number
    retention_days  = number
    consumer_groups = map(string)
    dead_letter     = string
    schemas         = string
  })
  default = {
    name           = "compressor-telemetry"
    partitions     = 16
    retention_days = 7
    consumer_groups = {
      etl = "altaviz-etl"
      ml  = "altaviz-ml"
    }
    dead_letter = "compressor-telemetry-dead-letter"
    schemas     = "compressor-telemetry-schemas"
  }
  validation {
    condition     = var.telemetry_hub.partitions >= 1 && var.telemetry_hub.partitions <= 32
    error_message = "telemetry_hub.partitions must be between 1 and 32."
  }
  validation {
    condition     = var.telemetry_hub.retention_days >= 1 && var.telemetry_hub.retention_days <= 7
    error_message = "telemetry_hub.retention_days must be between 1 and 7 on Standard."
  }
  validation {
    condition     = alltrue([for k in keys(var.telemetry_hub.consumer_groups) : contains(["etl", "ml"], k)])
    error_message = "telemetry_hub.consumer_groups keys must be etl and ml."
  }
}

# ------------------------------------------------------------------------ secrets, storage

variable "key_vault_admin_object_ids" {
  description = "Entra object IDs (people or groups) allowed to manage Key Vault secrets, besides the deployer."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for id in var.key_vault_admin_object_ids : can(regex("^[0-9a-fA-F-]{36}$", id))])
    error_message = "key_vault_admin_object_ids must hold object GUIDs."
  }
}

variable "secrets_expire_on" {
  description = "Expiry of the connection-string secrets (RFC 3339, e.g. 2027-12-31T00:00:00Z); rotate before it."
  type        = string
  validation {
    condition     = can(formatdate("YYYY", var.secrets_expire_on))
    error_message = "secrets_expire_on must be an RFC 3339 timestamp such as 2027-12-31T00:00:00Z."
  }
}

variable "checkpoint_replication" {
  description = "Replication of the streaming-checkpoint storage account."
  type        = string
  default     = "GZRS"
  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.checkpoint_replication)
    error_message = "checkpoint_replication must be LRS, ZRS, GRS, GZRS, RAGRS or RAGZRS."
  }
}

# ----------------------------------------------------------------------------- monitoring

variable "log_retention_days" {
  description = "Days Log Analytics keeps pipeline run records."
  type        = number
  default     = 90
  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be between 30 and 730."
  }
}

variable "monitoring_table" {
  description = "Log Analytics custom table of run records; must equal monitoring.table in platform.yaml."
  type        = string
  default     = "AltavizPipelineRuns_CL"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,40}_CL$", var.monitoring_table))
    error_message = "monitoring_table must be a custom table name ending in _CL."
  }
}

variable "failed_run_alert_emails" {
  description = "Addresses e-mailed when a pipeline run fails; empty means no action group and no alert."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for address in values(var.failed_run_alert_emails) : can(regex("^[^@\\s]+@[^@\\s]+$", address))])
    error_message = "failed_run_alert_emails must map receiver names to e-mail addresses."
  }
}

# --------------------------------------------------------------------------------- Fabric

variable "fabric_capacity_id" {
  description = "ID (GUID) of the Fabric capacity the workspace runs on."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.fabric_capacity_id))
    error_message = "fabric_capacity_id must be a capacity GUID."
  }
}

variable "lakehouses" {
  description = "Lakehouse names per layer; must equal lakehouses in src/altaviz/config/lakehouse.yaml."
  type = object({
    bronze = string
    silver = string
    gold   = string
    ml     = string
  })
  default = {
    bronze = "lh_bronze_raw"
    silver = "lh_silver_cleaned"
    gold   = "lh_gold_curated"
    ml     = "lh_ml_serving"
  }
}

variable "pipeline_jobs" {
  description = "Spark job definitions and their cadence; must equal schedule in platform.yaml."
  type = map(object({
    every_minutes = number
    args          = list(string)
  }))
  default = {
    batch = { every_minutes = 15, args = ["pipeline", "--skip-ml", "--json"] }
    ml    = { every_minutes = 240, args = ["pipeline", "--json"] }
  }
  validation {
    condition     = alltrue([for job in values(var.pipeline_jobs) : job.every_minutes >= 1 && job.every_minutes <= 1440])
    error_message = "pipeline_jobs[*].every_minutes must be between 1 and 1440."
  }
}

variable "schedule_window" {
  description = "UTC start and end of the job schedules (YYYY-MM-DDTHH:mm:ssZ)."
  type = object({
    start = string
    end   = string
  })
  validation {
    condition = alltrue([
      can(regex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$", var.schedule_window.start)),
      can(regex("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$", var.schedule_window.end)),
    ])
    error_message = "schedule_window.start and .end must be UTC times such as 2027-01-01T00:00:00Z."
  }
}

variable "altaviz_wheel" {
  description = "Path of the Altaviz wheel (uv build) published into the Fabric environment."
  type        = string
  validation {
    condition     = endswith(var.altaviz_wheel, ".whl")
    error_message = "altaviz_wheel must be the path of a .whl file."
  }
}

variable "publish_artifacts" {
  description = "Upload the wheel and the job entry point to Fabric during apply (needs the Azure CLI and curl)."
  type        = bool
  default     = true
}
