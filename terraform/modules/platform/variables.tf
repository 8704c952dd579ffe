variable "environment" {
  description = "int or prod; becomes MDP_ENV of the workloads and a label on every resource."
  type        = string

  validation {
    condition     = contains(["int", "prod"], var.environment)
    error_message = "environment must be int or prod."
  }
}

variable "project_id" {
  description = "Project of the environment (config/environments/<env>.yaml `project`)."
  type        = string
}

variable "location" {
  description = "Multi-region of buckets and datasets (config/environments/<env>.yaml `location`)."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Secret Manager replicas and Pub/Sub storage."
  type        = string
}

variable "secondary_region" {
  description = "Second region inside the same jurisdiction, for Secret Manager replicas and Pub/Sub storage."
  type        = string
}

variable "firestore_location" {
  description = "Firestore location (eur3: the EU multi-region)."
  type        = string
}

variable "bucket_names" {
  description = "Bucket name per role: config/environments/<env>.yaml `buckets`."
  type        = map(string)
}

variable "watch_subscription" {
  description = "Subscription of landing-bucket notifications that `mdp watch` reads: config/environments/<env>.yaml `watch.subscription`."
  type        = string
}

variable "streams" {
  description = "The `pubsub` section of each stream spec in source_specs/streaming/, by stream name."
  type = map(object({
    topic             = string
    dead_letter_topic = string
    subscription      = string
  }))
}

variable "on_call_emails" {
  description = "Addresses the environment's alerts are sent to (terraform/modules/monitoring)."
  type        = list(string)
}

variable "reporter_image" {
  description = "Reporter image by digest, promoted from int to prod unchanged (docs/environment_promotion.md)."
  type        = string
}

variable "regulator_api_url" {
  description = "Base URL of the regulator's submission API (its test endpoint in int)."
  type        = string
}

variable "reporter_min_instances" {
  description = "Cloud Run instances kept warm for the regulatory deadline."
  type        = number
}

variable "archive_retention_locked" {
  description = "Lock the archive bucket's 7-year retention policy (irreversible; see terraform/README.md)."
  type        = bool
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK on buckets, datasets, topics and Firestore; null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "labels" {
  description = "Extra labels on every resource that takes labels."
  type        = map(string)
  default     = {}
}
