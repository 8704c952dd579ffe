# The five buckets of the batch lane. Every bucket: uniform bucket-level access (IAM only, no object ACLs),
# public access prevention enforced, optional CMEK, a lifecycle per role, never destroyed while it holds data.
#
# Versioning is on for landing, staging, failed and extracts, where an object can be overwritten or deleted by
# mistake; noncurrent versions go after a week so versioning keeps nothing longer than the bucket's own
# lifecycle. The archive has a retention policy instead: Cloud Storage does not allow Object Versioning and a
# retention policy on the same bucket, and the retention policy is the stronger guarantee (no delete and no
# overwrite of any object until its period ends).

locals {
  noncurrent_version_days = 7

  # Days after which an object is deleted, per role.
  versioned = {
    # Files land at any time; the hourly sweep and `mdp watch` process them within the hour.
    landing = var.landing_retention_days
    # Staged Parquet is loaded into raw within its cycle; raw partitions expire after 30 days too.
    staging = 30
    failed  = var.landing_retention_days
    # An extract can always be regenerated from curation (`mdp extract --date D`); kept 13 months for audit.
    extracts = 400
  }
}

resource "google_storage_bucket" "versioned" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (DATA_READ and DATA_WRITE for all services, modules/platform); legacy usage logs would need another bucket that itself has nowhere to log.
  for_each = local.versioned

  project                     = var.project_id
  name                        = var.names[each.key]
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = merge(var.labels, { role = each.key })

  versioning {
    enabled = true
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  lifecycle_rule {
    condition {
      age = each.value
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = local.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Unfinished XML API multipart uploads would otherwise be billed indefinitely.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}

# Processed source files, kept 7 years write-once (var.archive_retention_locked decides whether the policy is
# locked; see terraform/README.md), in cheaper storage classes as they age because they are read only for
# audits and replays.
resource "google_storage_bucket" "archive" {
  #checkov:skip=CKV_GCP_62:Access is recorded by Cloud Audit Logs (DATA_READ and DATA_WRITE for all services, modules/platform); legacy usage logs would need another bucket that itself has nowhere to log.
  #checkov:skip=CKV_GCP_78:Cloud Storage forbids Object Versioning on a bucket with a retention policy; the 7-year retention policy already prevents every delete and overwrite.
  project                     = var.project_id
  name                        = var.names["archive"]
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = merge(var.labels, { role = "archive" })

  versioning {
    enabled = false
  }

  retention_policy {
    retention_period = var.archive_retention_days * 86400
    is_locked        = var.archive_retention_locked
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  lifecycle_rule {
    condition {
      age = var.archive_retention_days
    }
    action {
      type = "Delete"
    }
  }

  dynamic "lifecycle_rule" {
    for_each = { NEARLINE = 30, COLDLINE = 90, ARCHIVE = 365 }
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type          = "SetStorageClass"
        storage_class = lifecycle_rule.key
      }
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }
}
