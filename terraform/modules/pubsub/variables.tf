variable "project_id" {
  description = "Project of the topics and subscriptions."
  type        = string
}

variable "streams" {
  description = "The `pubsub` section of each stream spec (source_specs/streaming/<name>.yaml) by stream name: topic, dead-letter topic, subscription."
  type = map(object({
    topic             = string
    dead_letter_topic = string
    subscription      = string
  }))
  default = {}
}

variable "stream_table_ids" {
  description = "raw.<stream>_stream per stream as project.dataset.table (modules/bigquery output stream_table_ids)."
  type        = map(string)
  default     = {}
}

variable "stream_writer_service_account" {
  description = "Service account the BigQuery subscriptions write as (the stream-loader workload of modules/iam)."
  type        = string
}

variable "pubsub_service_agent" {
  description = "The project's Pub/Sub service agent (service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com); it forwards dead letters."
  type        = string
}

variable "persistence_regions" {
  description = "Regions where Pub/Sub may store messages (data residency)."
  type        = list(string)
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK on every topic; null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message moves to its dead-letter topic (5 to 100)."
  type        = number
  default     = 10
}

variable "labels" {
  description = "Labels on every topic and subscription."
  type        = map(string)
  default     = {}
}
