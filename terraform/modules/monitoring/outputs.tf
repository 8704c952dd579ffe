output "alert_policy_names" {
  description = "Display name of every alert policy, by key (stream alerts are keyed `<kind>/<stream>`)."
  value = merge(
    { for stream, policy in google_monitoring_alert_policy.stream_dead_letters : "stream-dead-letters/${stream}" => policy.display_name },
    { for stream, policy in google_monitoring_alert_policy.stream_delivery_lag : "stream-delivery-lag/${stream}" => policy.display_name },
    { for stream, policy in google_monitoring_alert_policy.bridge : "bridge/${stream}" => policy.display_name },
    { for alert, policy in google_monitoring_alert_policy.job_alerts : "job-alert/${alert}" => policy.display_name },
    { "regulatory-dead-letters" = google_monitoring_alert_policy.regulatory_dead_letters.display_name },
    { "reporter-behind" = google_monitoring_alert_policy.reporter_behind.display_name },
  )
}

output "notification_channel_ids" {
  description = "The on-call email channels every alert notifies."
  value       = [for channel in google_monitoring_notification_channel.on_call : channel.id]
}
