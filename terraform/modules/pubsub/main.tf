# Topics of the streaming and regulatory lanes. Every topic that receives dead letters has a pull
# subscription that never expires: Pub/Sub drops messages published to a topic with no subscription, and a
# dead letter must stay until someone has looked at it (`mdp stream dead-letters list`, `mdp dlq list`).

locals {
  dead_letter_retention = "604800s" # 7 days, the Pub/Sub maximum for a subscription
  # Stream topics also keep acknowledged messages for a day so a subscription can be seeked back after a bad load.
  stream_topic_retention = "86400s"

  # Dead-letter topics: one per stream (the bridge's poison messages and the subscription's failed writes) and
  # one for regulatory events (push deliveries the reporter could not handle).
  dead_letter_topics = merge(
    { for stream, names in var.streams : "stream-${stream}" => names.dead_letter_topic },
    { regulatory = "mdp-regulatory-events-dead-letter" },
  )
}

resource "google_pubsub_topic" "stream" {
  #checkov:skip=CKV_GCP_83:CMEK is opt-in through var.kms_key_name; Google-managed encryption applies otherwise.
  for_each = var.streams

  project                    = var.project_id
  name                       = each.value.topic
  labels                     = merge(var.labels, { stream = each.key })
  kms_key_name               = var.kms_key_name
  message_retention_duration = local.stream_topic_retention

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

resource "google_pubsub_topic" "regulatory" {
  #checkov:skip=CKV_GCP_83:CMEK is opt-in through var.kms_key_name; Google-managed encryption applies otherwise.
  project = var.project_id
  name    = "mdp-regulatory-events"
  labels  = merge(var.labels, { lane = "regulatory" })
  # Kept a week, so a subscription can be seeked back to replay events after an outage of the reporter.
  kms_key_name               = var.kms_key_name
  message_retention_duration = "604800s"

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:CMEK is opt-in through var.kms_key_name; Google-managed encryption applies otherwise.
  for_each = local.dead_letter_topics

  project      = var.project_id
  name         = each.value
  labels       = merge(var.labels, { purpose = "dead-letter" })
  kms_key_name = var.kms_key_name

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.dead_letter_topics

  project                    = var.project_id
  name                       = each.value
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = merge(var.labels, { purpose = "dead-letter" })
  message_retention_duration = local.dead_letter_retention
  retain_acked_messages      = true
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub writes each stream message straight into raw.<stream>_stream, under the spec's `subscription` name
# (where no BigQuery subscription exists, `mdp stream-load` pulls a subscription of that name instead): the
# payload in `data`, metadata beside it (use_topic_schema = false, write_metadata = true). Rows it cannot write
# go to the stream's dead-letter topic.
resource "google_pubsub_subscription" "stream_to_bigquery" {
  for_each = var.streams

  project = var.project_id
  name    = each.value.subscription
  topic   = google_pubsub_topic.stream[each.key].id
  labels  = merge(var.labels, { stream = each.key })

  bigquery_config {
    table                 = var.stream_table_ids[each.key]
    use_topic_schema      = false
    write_metadata        = true
    service_account_email = var.stream_writer_service_account
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter["stream-${each.key}"].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }
}

# Forwarding to a dead-letter topic is done by the Pub/Sub service agent: it publishes to the dead-letter topic
# and acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.pubsub_service_agent}"
}

resource "google_pubsub_subscription_iam_member" "stream_dead_letter_subscriber" {
  for_each = var.streams

  project      = var.project_id
  subscription = google_pubsub_subscription.stream_to_bigquery[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.pubsub_service_agent}"
}
