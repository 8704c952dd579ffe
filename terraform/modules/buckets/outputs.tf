output "names" {
  description = "Bucket name per role: landing, staging, failed, archive, extracts."
  value = merge(
    { for role, bucket in google_storage_bucket.versioned : role => bucket.name },
    { archive = google_storage_bucket.archive.name },
  )
}
