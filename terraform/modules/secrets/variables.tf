variable "project_id" {
  description = "Project of the secrets."
  type        = string
}

variable "replica_locations" {
  description = "Regions that hold the secrets' replicas (data residency)."
  type        = list(string)
}

variable "kms_key_names" {
  description = "Cloud KMS key per replica location for CMEK; empty keeps Google-managed encryption."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels on every secret."
  type        = map(string)
  default     = {}
}
