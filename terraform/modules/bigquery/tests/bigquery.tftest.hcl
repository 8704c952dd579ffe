# Plan-level tests of modules/bigquery with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`).

mock_provider "google" {}

variables {
  project_id = "markets-int-12345"
  location   = "EU"
  streams    = ["rfq", "quotes"]
}

run "datasets" {
  command = plan

  assert {
    condition     = toset(keys(google_bigquery_dataset.this)) == toset(["raw", "staging", "curation", "consumer", "dimensions", "snapshots", "control", "main"])
    error_message = "Expected the datasets raw, staging, curation, consumer, dimensions, snapshots, control and main."
  }

  assert {
    condition     = google_bigquery_dataset.this["raw"].default_partition_expiration_ms == 30 * 24 * 60 * 60 * 1000
    error_message = "raw must expire partitions after 30 days by default."
  }

  assert {
    condition = alltrue([
      for name, dataset in google_bigquery_dataset.this : dataset.default_partition_expiration_ms == null if name != "raw"
    ])
    error_message = "Only raw expires partitions; curation and the other layers keep history."
  }

  assert {
    condition = alltrue([
      for dataset in values(google_bigquery_dataset.this) :
      dataset.location == "EU" && dataset.delete_contents_on_destroy == false && length(dataset.access) == 0
    ])
    error_message = "Every dataset is in var.location, keeps its tables on destroy and has no access block (grants are IAM members)."
  }
}

run "control_tables" {
  command = plan

  assert {
    condition     = toset(keys(google_bigquery_table.control)) == toset(keys(jsondecode(file("control_tables.json"))))
    error_message = "Expected one control table per entry of control_tables.json."
  }

  assert {
    condition = alltrue([
      for name, table in google_bigquery_table.control :
      jsondecode(table.schema) == jsondecode(file("control_tables.json"))[name] && table.dataset_id == "control"
    ])
    error_message = "Each control table lives in control and has the columns of control_tables.json."
  }

  assert {
    condition = alltrue([
      for table in values(google_bigquery_table.control) :
      table.deletion_protection == true && table.time_partitioning[0].type == "DAY"
    ])
    error_message = "Every control table is partitioned by day and protected from deletion."
  }

  assert {
    condition     = google_bigquery_table.control["ingested_files"].time_partitioning[0].field == "processed_at" && google_bigquery_table.control["rule_results"].time_partitioning[0].field == null
    error_message = "ingested_files is partitioned by processed_at; rule_results (no timestamp column) by ingestion time."
  }
}

run "stream_tables" {
  command = plan

  assert {
    condition = {
      for stream, table in google_bigquery_table.stream : stream => "${table.dataset_id}.${table.table_id}"
    } == { rfq = "raw.rfq_stream", quotes = "raw.quotes_stream" }
    error_message = "Each stream must get raw.<stream>_stream."
  }

  assert {
    condition = alltrue([
      for table in values(google_bigquery_table.stream) :
      [for column in jsondecode(table.schema) : column.name] == ["subscription_name", "message_id", "publish_time", "data", "attributes", "_ingested_at"]
    ])
    error_message = "A stream table has the columns a BigQuery subscription with write_metadata writes, plus _ingested_at."
  }

  assert {
    condition = alltrue([
      for table in values(google_bigquery_table.stream) :
      table.time_partitioning[0].type == "DAY" && table.time_partitioning[0].field == "_ingested_at" && table.clustering == tolist(["message_id"]) && table.deletion_protection == true
    ])
    error_message = "Stream tables are partitioned by _ingested_at (the day a row reached the warehouse), clustered by message_id and protected from deletion."
  }

  assert {
    condition     = output.stream_table_ids == { rfq = "markets-int-12345.raw.rfq_stream", quotes = "markets-int-12345.raw.quotes_stream" }
    error_message = "stream_table_ids must be project.dataset.table, as a BigQuery subscription wants it."
  }
}

run "cmek_on_every_dataset" {
  command = plan

  variables {
    kms_key_name = "projects/markets-int-12345/locations/eu/keyRings/mdp/cryptoKeys/mdp"
  }

  assert {
    condition = alltrue([
      for dataset in values(google_bigquery_dataset.this) : one(dataset.default_encryption_configuration).kms_key_name == var.kms_key_name
    ])
    error_message = "With kms_key_name every dataset must use it as its default key."
  }
}
