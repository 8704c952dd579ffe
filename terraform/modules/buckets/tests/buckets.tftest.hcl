# Plan-level tests of modules/buckets with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`). They pin what terraform/README.md promises of every bucket.

mock_provider "google" {}

variables {
  project_id = "markets-int-12345"
  location   = "EU"
  names = {
    landing  = "markets-int-12345-landing"
    staging  = "markets-int-12345-staging"
    failed   = "markets-int-12345-failed"
    archive  = "markets-int-12345-archive"
    extracts = "markets-int-12345-extracts"
  }
}

run "every_bucket_is_private" {
  command = plan

  assert {
    condition = merge(
      { for role, bucket in google_storage_bucket.versioned : role => bucket.name },
      { archive = google_storage_bucket.archive.name },
    ) == var.names
    error_message = "Expected exactly one bucket per role, named as in var.names."
  }

  assert {
    condition = alltrue([
      for bucket in concat(values(google_storage_bucket.versioned), [google_storage_bucket.archive]) :
      bucket.uniform_bucket_level_access == true && bucket.public_access_prevention == "enforced"
    ])
    error_message = "Every bucket must have uniform bucket-level access and public access prevention enforced."
  }

  assert {
    condition = alltrue([
      for bucket in concat(values(google_storage_bucket.versioned), [google_storage_bucket.archive]) :
      bucket.force_destroy == false && bucket.location == "EU"
    ])
    error_message = "No bucket may be force-destroyed, and every bucket is in var.location."
  }

  assert {
    condition = alltrue([
      for bucket in concat(values(google_storage_bucket.versioned), [google_storage_bucket.archive]) :
      length(bucket.encryption) == 0
    ])
    error_message = "Without kms_key_name no bucket has an encryption block (Google-managed encryption)."
  }
}

run "lifecycle_per_role" {
  command = plan

  # Age of the plain Delete rule (the one on live objects) per role.
  assert {
    condition = {
      for role, bucket in google_storage_bucket.versioned : role => one([
        for rule in bucket.lifecycle_rule : one(rule.condition).age
        if one(rule.action).type == "Delete" && one(rule.condition).days_since_noncurrent_time == null
      ])
      } == {
      landing  = 90
      failed   = 90
      staging  = 30
      extracts = 400
    }
    error_message = "Objects must be deleted after 90 days in landing and failed, 30 in staging, 400 in extracts."
  }

  assert {
    condition = alltrue([
      for bucket in values(google_storage_bucket.versioned) : one(bucket.versioning).enabled == true && length([
        for rule in bucket.lifecycle_rule : rule
        if one(rule.action).type == "Delete" && one(rule.condition).days_since_noncurrent_time == 7 && one(rule.condition).with_state == "ARCHIVED"
      ]) == 1
    ])
    error_message = "landing, staging, failed and extracts are versioned, with noncurrent versions deleted after 7 days."
  }

  assert {
    condition = alltrue([
      for bucket in concat(values(google_storage_bucket.versioned), [google_storage_bucket.archive]) : length([
        for rule in bucket.lifecycle_rule : rule
        if one(rule.action).type == "AbortIncompleteMultipartUpload" && one(rule.condition).age == 1
      ]) == 1
    ])
    error_message = "Every bucket aborts incomplete multipart uploads after a day."
  }
}

run "archive_keeps_seven_years" {
  command = plan

  assert {
    condition     = tonumber(one(google_storage_bucket.archive.retention_policy).retention_period) == 2557 * 86400
    error_message = "The archive's retention period must be 2,557 days (7 years), in seconds."
  }

  assert {
    condition     = one(google_storage_bucket.archive.retention_policy).is_locked == false
    error_message = "The retention policy is unlocked unless archive_retention_locked is true."
  }

  # Nothing may delete an archived object before its retention period ends.
  assert {
    condition = alltrue([
      for rule in google_storage_bucket.archive.lifecycle_rule :
      one(rule.condition).age * 86400 >= tonumber(one(google_storage_bucket.archive.retention_policy).retention_period)
      if one(rule.action).type == "Delete"
    ])
    error_message = "The archive's Delete rule must not act before the retention period ends."
  }

  assert {
    condition     = one(google_storage_bucket.archive.versioning).enabled == false
    error_message = "Cloud Storage forbids versioning on a bucket with a retention policy."
  }

  assert {
    condition = {
      for rule in google_storage_bucket.archive.lifecycle_rule : one(rule.action).storage_class => one(rule.condition).age
      if one(rule.action).type == "SetStorageClass"
    } == { NEARLINE = 30, COLDLINE = 90, ARCHIVE = 365 }
    error_message = "Archived files move to NEARLINE after 30 days, COLDLINE after 90, ARCHIVE after 365."
  }
}

run "archive_locked" {
  command = plan

  variables {
    archive_retention_locked = true
  }

  assert {
    condition     = one(google_storage_bucket.archive.retention_policy).is_locked == true
    error_message = "archive_retention_locked = true must lock the archive's retention policy (prod)."
  }
}

run "cmek_on_every_bucket" {
  command = plan

  variables {
    kms_key_name = "projects/markets-int-12345/locations/eu/keyRings/mdp/cryptoKeys/mdp"
  }

  assert {
    condition = alltrue([
      for bucket in concat(values(google_storage_bucket.versioned), [google_storage_bucket.archive]) :
      one(bucket.encryption).default_kms_key_name == var.kms_key_name
    ])
    error_message = "With kms_key_name every bucket must use it as its default key."
  }
}

run "names_need_every_role" {
  command = plan

  variables {
    names = {
      landing = "markets-int-12345-landing"
      staging = "markets-int-12345-staging"
    }
  }

  expect_failures = [var.names]
}
