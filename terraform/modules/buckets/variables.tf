variable "project_id" {
  description = "Project that owns the buckets."
  type        = string
}

variable "names" {
  description = "Bucket name per role, as in config/environments/<env>.yaml `buckets` (the settings the workloads read)."
  type        = map(string)

  validation {
    condition     = toset(keys(var.names)) == toset(["landing", "staging", "failed", "archive", "extracts"])
    error_message = "names must have exactly the roles landing, staging, failed, archive and extracts."
  }
}

variable "location" {
  description = "Bucket location (multi-region such as EU, or a region)."
  type        = string
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK (projects/.../cryptoKeys/...); null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "landing_retention_days" {
  description = "Days after which landing and failed objects are deleted (the hourly sweep has long processed them)."
  type        = number
  default     = 90
}

variable "archive_retention_days" {
  description = "Days archived files are kept and cannot be deleted or overwritten (7 years of record keeping)."
  type        = number
  default     = 2557
}

variable "archive_retention_locked" {
  description = "Lock the archive retention policy. Irreversible: the period can then only grow, and the bucket cannot be deleted while it holds objects."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels on every bucket."
  type        = map(string)
  default     = {}
}
