variable "project_id" {
  description = "Project of the service accounts and of the GKE cluster's workload pool."
  type        = string
}

variable "k8s_namespace" {
  description = "Kubernetes namespace of the GKE workloads (orchestrator/k8s)."
  type        = string
  default     = "mdp"
}

variable "bucket_names" {
  description = "Bucket name per role (modules/buckets output names)."
  type        = map(string)
}

variable "dataset_ids" {
  description = "Dataset id per dataset name (modules/bigquery output dataset_ids)."
  type        = map(string)
}

variable "stream_tables" {
  description = "Dataset and table id of raw.<stream>_stream per stream (modules/bigquery output stream_tables)."
  type        = map(object({ dataset_id = string, table_id = string }))
  default     = {}
}

variable "stream_topic_ids" {
  description = "Stream topic per stream (modules/pubsub)."
  type        = map(string)
  default     = {}
}

variable "stream_dead_letter_topic_ids" {
  description = "Stream dead-letter topic per stream (modules/pubsub)."
  type        = map(string)
  default     = {}
}

variable "regulatory_topic_id" {
  description = "Topic of reportable events (modules/pubsub)."
  type        = string
}

variable "regulatory_dead_letter_topic_id" {
  description = "Dead-letter topic of regulatory events (modules/pubsub)."
  type        = string
}

variable "dead_letter_subscription_ids" {
  description = "Pull subscriptions of the dead-letter topics (modules/pubsub), read by `mdp dlq` on the orchestrator."
  type        = map(string)
  default     = {}
}

variable "watch_subscription_id" {
  description = "Subscription of landing-bucket notifications (modules/notifications)."
  type        = string
}

variable "secret_ids" {
  description = "Secret id per secret (modules/secrets): regulator-api-key, vendor-sftp-key."
  type        = map(string)
}

variable "pubsub_service_agent" {
  description = "The project's Pub/Sub service agent; BigQuery subscriptions write as the stream-loader account through it."
  type        = string
}
