variable "project_id" {
  description = "Project of the database."
  type        = string
}

variable "location_id" {
  description = "Firestore location (eur3 is the EU multi-region)."
  type        = string
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK; null keeps Google-managed encryption. Only settable when the database is created."
  type        = string
  default     = null
}
