# Event-driven pickup: every object finalized in the landing bucket is announced on a topic, and `mdp watch`
# pulls the announcements and validates that object within a minute. The hourly sweep (`mdp run`) still
# processes anything whose announcement was missed, so this path is an accelerator, not the source of truth.

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_pubsub_topic" "landing" {
  #checkov:skip=CKV_GCP_83:CMEK is opt-in through var.kms_key_name; Google-managed encryption applies otherwise.
  project      = var.project_id
  name         = var.topic_name
  labels       = merge(var.labels, { lane = "batch" })
  kms_key_name = var.kms_key_name

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:CMEK is opt-in through var.kms_key_name; Google-managed encryption applies otherwise.
  project      = var.project_id
  name         = "${var.topic_name}-dead-letter"
  labels       = merge(var.labels, { lane = "batch", purpose = "dead-letter" })
  kms_key_name = var.kms_key_name

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

# Cloud Storage publishes the notifications as its own service agent.
resource "google_pubsub_topic_iam_member" "gcs_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.landing.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_notification" "landing_finalize" {
  bucket         = var.landing_bucket
  topic          = google_pubsub_topic.landing.id
  payload_format = "JSON_API_V1"
  event_types    = ["OBJECT_FINALIZE"]
  custom_attributes = {
    mdp-bucket-role = "landing"
  }

  depends_on = [google_pubsub_topic_iam_member.gcs_publishes]
}

resource "google_pubsub_subscription" "watch" {
  project = var.project_id
  name    = var.subscription_name
  topic   = google_pubsub_topic.landing.id
  labels  = merge(var.labels, { lane = "batch" })
  # Validating one file takes seconds to a few minutes; `mdp watch` raises the deadline to 600 s while it works.
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 5
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.topic_name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = merge(var.labels, { lane = "batch", purpose = "dead-letter" })
  message_retention_duration = "604800s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.pubsub_service_agent}"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.watch.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.pubsub_service_agent}"
}
