variable "project_id" {
  description = "Project of the bucket and the topic."
  type        = string
}

variable "subscription_name" {
  description = "Subscription `mdp watch` reads: config/environments/<env>.yaml `watch.subscription`."
  type        = string
}

variable "topic_name" {
  description = "Topic of the landing-bucket notifications; its dead-letter topic is \"<topic_name>-dead-letter\"."
  type        = string
}

variable "landing_bucket" {
  description = "Name of the landing bucket (modules/buckets output names.landing)."
  type        = string
}

variable "pubsub_service_agent" {
  description = "The project's Pub/Sub service agent; it forwards dead letters."
  type        = string
}

variable "persistence_regions" {
  description = "Regions where Pub/Sub may store messages (data residency)."
  type        = list(string)
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK on the topics; null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the topics and subscriptions."
  type        = map(string)
  default     = {}
}
