locals {
  onelake = "onelake.dfs.fabric.microsoft.com"
  # The job entry point lives in the ML lakehouse's Files; landing files in bronze's.
  entry_point_path = "Files/altaviz/altaviz_job.py"
  entry_point_uri  = "abfss://${fabric_workspace.main.id}@${local.onelake}/${fabric_lakehouse.layer["ml"].id}/${local.entry_point_path}"
  landing_uri      = "abfss://${fabric_workspace.main.id}@${local.onelake}/${fabric_lakehouse.layer["bronze"].id}/Files/landing"
  # The same folder as the job's driver sees it: Fabric mounts the default lakehouse there.
  landing_mount = "/lakehouse/default/Files/landing"

  fabric_settings = {
    FABRIC_WORKSPACE_ID        = fabric_workspace.main.id
    FABRIC_BRONZE_LAKEHOUSE_ID = fabric_lakehouse.layer["bronze"].id
    FABRIC_SILVER_LAKEHOUSE_ID = fabric_lakehouse.layer["silver"].id
    FABRIC_GOLD_LAKEHOUSE_ID   = fabric_lakehouse.layer["gold"].id
    FABRIC_ML_LAKEHOUSE_ID     = fabric_lakehouse.layer["ml"].id
  }

  # altaviz_job.py [--key-vault URI] [--secret VAR=name]... [--env VAR=value]... -- CLI args
  job_preamble = concat(
    ["--key-vault", var.key_vault_uri],
    flatten([for env, secret in var.secrets : ["--secret", "${env}=${secret}"]]),
    flatten([for env, value in merge(var.settings, local.fabric_settings) : ["--env", "${env}=${value}"]]),
  )
}

resource "fabric_workspace" "main" {
  display_name = var.workspace_name
  description  = "Altaviz compressor fleet integrity lakehouse and pipeline."
  capacity_id  = var.capacity_id

  identity = {
    type = "SystemAssigned"
  }
}

resource "fabric_lakehouse" "layer" {
  for_each = { for layer, name in var.lakehouses : layer => name }

  display_name = each.value
  description  = "Altaviz ${each.key} layer."
  workspace_id = fabric_workspace.main.id
}

resource "fabric_environment" "altaviz" {
  display_name = "altaviz"
  description  = "Spark environment carrying the Altaviz wheel."
  workspace_id = fabric_workspace.main.id
}

# The provider cannot upload files: the wheel goes into the environment's libraries (then
# the environment is published) and the entry point into OneLake, through the Fabric and
# OneLake REST APIs. Re-runs whenever either file changes.
resource "terraform_data" "artifacts" {
  count = var.publish_artifacts ? 1 : 0

  triggers_replace = [
    filesha256(var.wheel_path),
    filesha256(var.job_entry_point),
    fabric_environment.altaviz.id,
  ]

  provisioner "local-exec" {
    command = "bash ${path.module}/../../scripts/publish_fabric_artifacts.sh"
    environment = {
      WORKSPACE_ID     = fabric_workspace.main.id
      ENVIRONMENT_ID   = fabric_environment.altaviz.id
      LAKEHOUSE_ID     = fabric_lakehouse.layer["ml"].id
      WHEEL            = var.wheel_path
      ENTRY_POINT      = var.job_entry_point
      ENTRY_POINT_PATH = local.entry_point_path
    }
  }
}

resource "fabric_spark_job_definition" "job" {
  for_each = var.jobs

  display_name = "altaviz-${each.key}"
  description  = "altaviz ${join(" ", each.value.args)} every ${each.value.every_minutes} min."
  workspace_id = fabric_workspace.main.id
  format       = "SparkJobDefinitionV1"

  definition = {
    "SparkJobDefinitionV1.json" = {
      source = "${path.module}/../../templates/spark_job_definition.json.tmpl"
      tokens = {
        ExecutableFile         = local.entry_point_uri
        DefaultLakehouseID     = fabric_lakehouse.layer["bronze"].id
        AdditionalLakehouseIDs = join(",", [for layer in ["silver", "gold", "ml"] : "\"${fabric_lakehouse.layer[layer].id}\""])
        EnvironmentID          = fabric_environment.altaviz.id
        CommandLineArguments   = join(" ", concat(local.job_preamble, ["--"], each.value.args, ["--engine", "spark", "--source", local.landing_mount]))
      }
    }
  }

  depends_on = [terraform_data.artifacts]
}

resource "fabric_item_job_scheduler" "job" {
  for_each = var.jobs

  workspace_id = fabric_workspace.main.id
  item_id      = fabric_spark_job_definition.job[each.key].id
  job_type     = "sparkjob"
  enabled      = true

  configuration = {
    type            = "Cron"
    interval        = each.value.every_minutes
    start_date_time = var.schedule_window.start
    end_date_time   = var.schedule_window.end
  }
}
