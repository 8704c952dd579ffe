output "bucket_names" {
  description = "Bucket per role; must equal `buckets` in config/environments/prod.yaml."
  value       = module.platform.bucket_names
}

output "service_accounts" {
  description = "Service account email per workload."
  value       = module.platform.service_accounts
}

output "kubernetes_service_accounts" {
  description = "Google account per Kubernetes service account (orchestrator/k8s/overlays/prod)."
  value       = module.platform.kubernetes_service_accounts
}

output "stream_topic_ids" {
  description = "Topic per stream."
  value       = module.platform.stream_topic_ids
}

output "watch_subscription" {
  description = "Subscription `mdp watch` reads."
  value       = module.platform.watch_subscription
}

output "reporter_uri" {
  description = "Internal URL of the regulatory reporter."
  value       = module.platform.reporter_uri
}

output "image_repository" {
  description = "Docker repository the overlays and the reporter pull from."
  value       = module.platform.image_repository
}
