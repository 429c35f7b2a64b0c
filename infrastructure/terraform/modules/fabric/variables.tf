variable "workspace_name" {
  description = "Display name of the Fabric workspace."
  type        = string
}

variable "capacity_id" {
  description = "Fabric capacity the workspace is assigned to."
  type        = string
}

variable "lakehouses" {
  description = "Lakehouse display names per layer (bronze, silver, gold, ml)."
  type = object({
    bronze = string
    silver = string
    gold   = string
    ml     = string
  })
}

variable "jobs" {
  description = "Spark job definitions: CLI arguments and run interval in minutes."
  type = map(object({
    every_minutes = number
    args          = list(string)
  }))
}

variable "schedule_window" {
  description = "UTC start and end of the schedules."
  type = object({
    start = string
    end   = string
  })
}

variable "wheel_path" {
  description = "Path of the Altaviz wheel to publish into the environment."
  type        = string
}

variable "job_entry_point" {
  description = "Path of the Python file the Spark job definitions execute."
  type        = string
}

variable "publish_artifacts" {
  description = "Upload the wheel and entry point during apply."
  type        = bool
}

variable "key_vault_uri" {
  description = "Key Vault the job reads its secrets from."
  type        = string
}

variable "secrets" {
  description = "Environment variable name to Key Vault secret name, resolved by the job at start."
  type        = map(string)
}

variable "settings" {
  description = "Non-secret environment variables passed to the job."
  type        = map(string)
}
