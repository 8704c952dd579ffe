output "topic_id" {
  description = "Topic of landing-bucket object notifications."
  value       = google_pubsub_topic.landing.id
}

output "watch_subscription_id" {
  description = "Pull subscription `mdp watch` reads (projects/<p>/subscriptions/<name>)."
  value       = google_pubsub_subscription.watch.id
}

output "watch_subscription_name" {
  description = "Short name of the subscription `mdp watch` reads."
  value       = google_pubsub_subscription.watch.name
}
