output "service_uri" {
  description = "URL of the reporter (reachable from inside the project only)."
  value       = google_cloud_run_v2_service.reporter.uri
}

output "invoker_service_account" {
  description = "Email in the OIDC token of every push request; the reporter accepts no other."
  value       = google_service_account.invoker.email
}

output "push_subscription_id" {
  description = "The push subscription that feeds the reporter."
  value       = google_pubsub_subscription.push.id
}

output "push_subscription_name" {
  description = "Name of the push subscription that feeds the reporter, for the alert on its backlog."
  value       = google_pubsub_subscription.push.name
}

output "audience" {
  description = "Audience of the push OIDC tokens (MDP_REPORTER_AUDIENCE)."
  value       = local.audience
}
