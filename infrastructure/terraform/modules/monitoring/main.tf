locals {
  stream = "Custom-${var.table}"

  # One row per pipeline run: the fields of altaviz.monitoring.record.RunRecord (plus
  # TimeGenerated and Reasons, which the Logs Ingestion sink adds). Both the table and the
  # rule's stream declaration are built from this list, so they cannot disagree.
  columns = [
    { name = "TimeGenerated", type = "datetime" },
    { name = "run_id", type = "string" },
    { name = "status", type = "string" },
    { name = "engine", type = "string" },
    { name = "started_at", type = "datetime" },
    { name = "ended_at", type = "datetime" },
    { name = "duration_s", type = "real" },
    { name = "stage_durations", type = "dynamic" },
    { name = "rows_bronze", type = "long" },
    { name = "rows_dead_letter", type = "long" },
    { name = "rows_silver", type = "long" },
    { name = "rows_gold_hourly", type = "long" },
    { name = "rows_gold_daily", type = "long" },
    { name = "rejected", type = "long" },
    { name = "rejection_rate", type = "real" },
    { name = "quality_passed", type = "boolean" },
    { name = "blocked_dates", type = "dynamic" },
    { name = "alerts_opened", type = "long" },
    { name = "alerts_resolved", type = "long" },
    { name = "models_run", type = "dynamic" },
    { name = "model_version", type = "string" },
    { name = "predictions", type = "long" },
    { name = "anomalies", type = "long" },
    { name = "units_at_risk", type = "long" },
    { name = "data_freshness_minutes", type = "real" },
    { name = "error", type = "string" },
    { name = "warnings", type = "dynamic" },
    { name = "Reasons", type = "dynamic" },
  ]
}

resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-${var.name}"
  resource_group_name = var.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_days
  tags                = var.tags
}

# azurerm cannot create custom tables; the ARM tables API can.
resource "azapi_resource" "runs_table" {
  type      = "Microsoft.OperationalInsights/workspaces/tables@2022-10-01"
  name      = var.table
  parent_id = azurerm_log_analytics_workspace.main.id

  body = {
    properties = {
      plan                 = "Analytics"
      retentionInDays      = var.retention_days
      totalRetentionInDays = var.retention_days
      schema = {
        name    = var.table
        columns = local.columns
      }
    }
  }
}

resource "azurerm_monitor_data_collection_endpoint" "main" {
  name                          = "dce-${var.name}"
  resource_group_name           = var.resource_group_name
  location                      = var.location
  kind                          = "Linux"
  public_network_access_enabled = true # the Logs Ingestion API is called from Fabric Spark
  tags                          = var.tags
}

resource "azurerm_monitor_data_collection_rule" "runs" {
  name                        = "dcr-${var.name}-pipeline-runs"
  resource_group_name         = var.resource_group_name
  location                    = var.location
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.main.id
  tags                        = var.tags

  stream_declaration {
    stream_name = local.stream
    dynamic "column" {
      for_each = local.columns
      content {
        name = column.value.name
        type = column.value.type
      }
    }
  }

  destinations {
    log_analytics {
      name                  = "runs"
      workspace_resource_id = azurerm_log_analytics_workspace.main.id
    }
  }

  data_flow {
    streams       = [local.stream]
    destinations  = ["runs"]
    output_stream = local.stream
    transform_kql = "source"
  }

  depends_on = [azapi_resource.runs_table]
}

resource "azurerm_monitor_action_group" "failed_runs" {
  count = length(var.alert_emails) > 0 ? 1 : 0

  name                = "ag-${var.name}-failed-runs"
  resource_group_name = var.resource_group_name
  short_name          = "altavizfail"
  tags                = var.tags

  dynamic "email_receiver" {
    for_each = var.alert_emails
    content {
      name                    = email_receiver.key
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "failed_runs" {
  count = length(var.alert_emails) > 0 ? 1 : 0

  name                 = "alert-${var.name}-failed-runs"
  resource_group_name  = var.resource_group_name
  location             = var.location
  description          = "An Altaviz pipeline run failed."
  severity             = 1
  scopes               = [azurerm_log_analytics_workspace.main.id]
  evaluation_frequency = "PT15M"
  window_duration      = "PT15M"
  tags                 = var.tags

  criteria {
    query                   = "${var.table} | where status == \"failed\""
    time_aggregation_method = "Count"
    operator                = "GreaterThan"
    threshold               = 0
  }

  action {
    action_groups = [azurerm_monitor_action_group.failed_runs[0].id]
  }

  depends_on = [azapi_resource.runs_table]
}
