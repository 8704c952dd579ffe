output "secret_ids" {
  description = "Secret id (projects/<p>/secrets/<name>) per secret: regulator-api-key, vendor-sftp-key."
  value       = { for key, secret in google_secret_manager_secret.this : key => secret.id }
}
