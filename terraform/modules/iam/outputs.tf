output "emails" {
  description = "Service account email per workload: orchestrator, bridge, watcher, stream-loader, reporter."
  value       = { for name, account in google_service_account.workload : name => account.email }
}

output "kubernetes_service_accounts" {
  description = "Kubernetes service account per GKE workload and the Google account it is bound to (for the k8s overlays)."
  value       = { for name, workload in local.gke_workloads : workload.ksa => google_service_account.workload[name].email }
}

output "stream_loader_email" {
  description = "The stream-loader account, available only once it may write its tables: Pub/Sub checks that when a BigQuery subscription is created."
  value       = google_service_account.workload["stream-loader"].email
  depends_on  = [google_bigquery_table_iam_member.stream_loader, google_service_account_iam_member.pubsub_acts_as_stream_loader]
}
