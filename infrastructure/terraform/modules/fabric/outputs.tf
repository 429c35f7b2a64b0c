output "workspace_id" {
  description = "Fabric workspace ID."
  value       = fabric_workspace.main.id
}

output "workspace_identity_id" {
  description = "Service principal ID of the workspace identity."
  value       = fabric_workspace.main.identity.service_principal_id
}

output "lakehouse_ids" {
  description = "Lakehouse IDs by layer."
  value       = { for layer, lakehouse in fabric_lakehouse.layer : layer => lakehouse.id }
}

output "environment_id" {
  description = "ID of the Spark environment carrying the wheel."
  value       = fabric_environment.altaviz.id
}

output "job_ids" {
  description = "Spark job definition IDs by job."
  value       = { for job, definition in fabric_spark_job_definition.job : job => definition.id }
}

output "landing_uri" {
  description = "OneLake folder the landing files are written to."
  value       = local.landing_uri
}
