output "dataset_ids" {
  description = "Dataset id per dataset name."
  value       = { for name, dataset in google_bigquery_dataset.this : name => dataset.dataset_id }
}

output "stream_table_ids" {
  description = "Fully qualified id (project.dataset.table) of raw.<stream>_stream per stream, as a BigQuery subscription wants it."
  value       = { for stream, table in google_bigquery_table.stream : stream => "${table.project}.${table.dataset_id}.${table.table_id}" }
}

output "stream_tables" {
  description = "Dataset and table id of raw.<stream>_stream per stream, for table-level IAM."
  value       = { for stream, table in google_bigquery_table.stream : stream => { dataset_id = table.dataset_id, table_id = table.table_id } }
}
