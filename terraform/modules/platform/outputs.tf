output "bucket_names" {
  description = "Bucket per role; must equal `buckets` in config/environments/<env>.yaml."
  value       = module.buckets.names
}

output "service_accounts" {
  description = "Service account email per workload."
  value       = module.iam.emails
}

output "kubernetes_service_accounts" {
  description = "Google account per Kubernetes service account; orchestrator/k8s/overlays/<env> annotates the same."
  value       = module.iam.kubernetes_service_accounts
}

output "stream_topic_ids" {
  description = "Topic per stream, for the stream specs and the bridge."
  value       = module.pubsub.stream_topic_ids
}

output "watch_subscription" {
  description = "Subscription `mdp watch` reads (MDP_WATCH_SUBSCRIPTION)."
  value       = module.notifications.watch_subscription_name
}

output "reporter_uri" {
  description = "Internal URL of the regulatory reporter."
  value       = module.reporter.service_uri
}

output "reporter_push_audience" {
  description = "Audience of the push OIDC tokens."
  value       = module.reporter.audience
}

output "image_repository" {
  description = "Docker repository of the environment's images (<region>-docker.pkg.dev/<project>/mdp)."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}
