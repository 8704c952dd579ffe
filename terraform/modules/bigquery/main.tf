# Datasets are the dbt schemas of dbt_project/dbt_project.yml (generate_schema_name uses them as-is), plus raw
# (loaded by the validator and by the stream subscriptions) and main (the profiles' fallback schema).
# Access is granted per dataset by modules/iam; no dataset has an `access` block, so none is public.

locals {
  day_ms = 24 * 60 * 60 * 1000

  datasets = {
    raw        = "Landed rows as received: validated batch files (one table per source spec) and streams (<stream>_stream). Partitions expire; curation keeps history."
    staging    = "dbt staging views: renames and casts over raw."
    curation   = "dbt curation: deduplicated, versioned trades and stream events."
    consumer   = "dbt consumer: the vendor extract and other published tables."
    dimensions = "dbt dimensions (SCD2) and reference seeds."
    snapshots  = "dbt snapshots of reference feeds."
    control    = "Control tables: ingested files, validation and dbt runs, quarantined rows, deliveries, regulatory ledger mirror."
    main       = "Fallback schema of the dbt profiles; models set their own schemas, so it stays empty."
  }

  # Columns come from orchestrator/warehouse/control_tables.py through control_tables.json, which
  # scripts/tf_check.sh keeps equal to it. Partitioning and clustering follow how the tables are read:
  # by day, then by source or status.
  control_columns = jsondecode(file("${path.module}/control_tables.json"))
  control_layout = {
    ingested_files     = { partition_field = "processed_at", clustering = ["source", "outcome", "business_date"] }
    validation_runs    = { partition_field = "started_at", clustering = ["status"] }
    quarantined_rows   = { partition_field = "quarantined_at", clustering = ["source", "file_id"] }
    rule_results       = { partition_field = null, clustering = ["source", "rule", "severity"] }
    dbt_runs           = { partition_field = "started_at", clustering = ["status", "command"] }
    extract_deliveries = { partition_field = "started_at", clustering = ["business_date", "target", "status"] }
    # Mirrors of the Firestore ledger, read by event date and state in the reconciliation.
    regulatory_submissions = { partition_field = "event_at", clustering = ["state", "event_type", "event_id"] }
    regulatory_dead_letter = { partition_field = "dead_lettered_at", clustering = ["event_type", "event_id"] }
  }
  # A table without a layout above (or without a timestamp column, like rule_results) is partitioned by
  # ingestion time, so every control table is partitioned.
  default_layout = { partition_field = null, clustering = null }
}

resource "google_bigquery_dataset" "this" {
  #checkov:skip=CKV_GCP_81:CMEK is opt-in through var.kms_key_name (dynamic block below); Google-managed AES-256 encryption applies otherwise.
  for_each = local.datasets

  project       = var.project_id
  dataset_id    = each.key
  friendly_name = each.key
  description   = each.value
  location      = var.location
  labels        = merge(var.labels, { dataset = each.key })

  default_partition_expiration_ms = each.key == "raw" ? var.raw_partition_expiration_days * local.day_ms : null
  delete_contents_on_destroy      = false

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "control" {
  #checkov:skip=CKV_GCP_80:CMEK is opt-in through var.kms_key_name, inherited from the dataset's default encryption.
  for_each = local.control_columns

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this["control"].dataset_id
  table_id            = each.key
  description         = "Written by the orchestrator; columns as in orchestrator/warehouse/control_tables.py."
  labels              = var.labels
  deletion_protection = var.deletion_protection
  schema              = jsonencode(each.value)
  clustering          = lookup(local.control_layout, each.key, local.default_layout).clustering

  time_partitioning {
    type  = "DAY"
    field = lookup(local.control_layout, each.key, local.default_layout).partition_field
  }
}

# The table a BigQuery subscription writes with use_topic_schema = false and write_metadata = true: the payload
# in `data`, Pub/Sub attributes as JSON text, and the message metadata; columns as in the dbt source
# raw_streams (dbt_project/models/streaming). `mdp stream-load` writes the same shape.
resource "google_bigquery_table" "stream" {
  #checkov:skip=CKV_GCP_80:CMEK is opt-in through var.kms_key_name, inherited from the dataset's default encryption.
  for_each = var.streams

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this["raw"].dataset_id
  table_id            = "${each.key}_stream"
  description         = "Messages of stream ${each.key}, written by its Pub/Sub BigQuery subscription; deduplicated by dbt."
  labels              = merge(var.labels, { stream = each.key })
  deletion_protection = var.deletion_protection
  clustering          = ["message_id"]

  schema = jsonencode([
    { name = "subscription_name", type = "STRING", mode = "NULLABLE", description = "Subscription that wrote the row." },
    { name = "message_id", type = "STRING", mode = "NULLABLE", description = "Pub/Sub message id." },
    { name = "publish_time", type = "TIMESTAMP", mode = "NULLABLE", description = "When Pub/Sub accepted the message." },
    { name = "data", type = "STRING", mode = "NULLABLE", description = "Message payload (the JSON event)." },
    { name = "attributes", type = "STRING", mode = "NULLABLE", description = "Message attributes as a JSON object: source, Kafka topic, partition, offset, key, timestamp, schema version." },
    # Not a subscription column: BigQuery fills it when the row is written (`mdp stream-load` sets it itself);
    # the streaming models read it as the time the row reached the warehouse.
    { name = "_ingested_at", type = "TIMESTAMP", mode = "NULLABLE", defaultValueExpression = "CURRENT_TIMESTAMP()", description = "When the row reached the warehouse (UTC)." },
  ])

  # By the day a message reached the warehouse: the streaming models read the last hours of it (staging window),
  # and a backlog delivered late is kept its full 30 days (the raw dataset's default partition expiration).
  time_partitioning {
    type  = "DAY"
    field = "_ingested_at"
  }
}
