variable "project_id" {
  description = "Project of the datasets."
  type        = string
}

variable "location" {
  description = "BigQuery location of every dataset (EU in int and prod, as in config/environments/<env>.yaml)."
  type        = string
}

variable "kms_key_name" {
  description = "Cloud KMS key for CMEK on every dataset; null keeps Google-managed encryption."
  type        = string
  default     = null
}

variable "raw_partition_expiration_days" {
  description = "Default partition expiration of the raw dataset: raw is a landing zone, curation keeps history."
  type        = number
  default     = 30
}

variable "streams" {
  description = "Stream names; each gets raw.<stream>_stream, written by its Pub/Sub BigQuery subscription."
  type        = set(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to delete control and stream tables from Terraform (true everywhere but throwaway projects)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on every dataset and table."
  type        = map(string)
  default     = {}
}
