locals {
  # altaviz-prod, altavizprod: names with and without separators (storage and Key Vault
  # names allow no dashes and at most 24 characters).
  base_name    = "${var.name_prefix}-${var.environment}"
  compact_name = "${var.name_prefix}${var.environment}"

  tags = merge(
    {
      application = "altaviz"
      environment = var.environment
      managed_by  = "terraform"
    },
    var.tags,
  )

  # Azure built-in roles the pipeline identity holds, each on the narrowest scope.
  roles = {
    eventhub_receiver = "Azure Event Hubs Data Receiver"
    eventhub_sender   = "Azure Event Hubs Data Sender"
    secrets_user      = "Key Vault Secrets User"
    secrets_officer   = "Key Vault Secrets Officer"
    metrics_publisher = "Monitoring Metrics Publisher"
    blob_contributor  = "Storage Blob Data Contributor"
  }

  # Key Vault secret names (the job entry point maps them onto the spec's variables).
  secrets = {
    listen = "eventhub-listen-connection-string"
    send   = "eventhub-send-connection-string"
  }
}
