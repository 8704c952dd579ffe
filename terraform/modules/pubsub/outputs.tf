output "stream_topic_ids" {
  description = "Topic id (projects/<p>/topics/<name>) per stream: where the bridge publishes."
  value       = { for stream, topic in google_pubsub_topic.stream : stream => topic.id }
}

output "stream_dead_letter_topic_ids" {
  description = "Dead-letter topic id per stream: where the bridge sends poison messages."
  value       = { for stream, names in var.streams : stream => google_pubsub_topic.dead_letter["stream-${stream}"].id }
}

output "regulatory_topic_id" {
  description = "Topic of reportable events; the reporter's push subscription reads it."
  value       = google_pubsub_topic.regulatory.id
}

output "regulatory_dead_letter_topic_id" {
  description = "Dead-letter topic of the reporter's push subscription."
  value       = google_pubsub_topic.dead_letter["regulatory"].id
}

output "dead_letter_subscription_ids" {
  description = "Pull subscription per dead-letter topic, read by `mdp dlq list`."
  value       = { for key, subscription in google_pubsub_subscription.dead_letter : key => subscription.id }
}

output "regulatory_dead_letter_topic_name" {
  description = "Name of the regulatory dead-letter topic, for the alert on it."
  value       = google_pubsub_topic.dead_letter["regulatory"].name
}
