variable "project_id" {
  description = "Project of the service."
  type        = string
}

variable "region" {
  description = "Cloud Run region."
  type        = string
}

variable "environment" {
  description = "MDP_ENV of the service: int or prod."
  type        = string
}

variable "image" {
  description = "Reporter image by digest (<registry>/<repo>/mdp-reporter@sha256:...), built from docker/reporter.Dockerfile."
  type        = string
}

variable "service_account" {
  description = "Email of the reporter's runtime service account (modules/iam)."
  type        = string
}

variable "regulatory_topic_id" {
  description = "Topic of reportable events (modules/pubsub)."
  type        = string
}

variable "dead_letter_topic_id" {
  description = "Dead-letter topic of the push subscription (modules/pubsub)."
  type        = string
}

variable "pubsub_service_agent" {
  description = "The project's Pub/Sub service agent; it mints the push subscription's OIDC tokens and forwards dead letters."
  type        = string
}

variable "regulator_api_key_secret_id" {
  description = "Secret Manager secret id of the regulator API key (modules/secrets); mounted as MDP_REGULATOR_API_KEY."
  type        = string
}

variable "regulator_api_url" {
  description = "Base URL of the regulator's submission API."
  type        = string
}

variable "push_path" {
  description = "Path of the reporter's Pub/Sub push endpoint."
  type        = string
  default     = "/push"
}

variable "min_instances" {
  description = "Instances kept warm: the 15-minute deadline leaves no room for a cold start after an idle night."
  type        = number
  default     = 1
}

variable "max_instances" {
  description = "Upper bound on instances, which bounds the request rate the regulator sees."
  type        = number
  default     = 10
}

variable "cpus" {
  description = "vCPUs of one instance, and so its server processes (MDP_REPORTER_WORKERS): 200 events/s measured with 2."
  type        = number
  default     = 2
}

variable "concurrency" {
  description = "Requests one instance serves at once; the reporter mostly waits on Firestore and the regulator."
  type        = number
  default     = 40
}

variable "deletion_protection" {
  description = "Refuse to delete the service from Terraform."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on the service and the subscription."
  type        = map(string)
  default     = {}
}
