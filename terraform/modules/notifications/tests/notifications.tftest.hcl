# Plan-level tests of modules/notifications with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`).
#
# A mock gives every topic the same generated id, so the landing topic and its dead-letter topic get distinct
# ids below: a subscription wired to the wrong one then fails.

mock_provider "google" {
  mock_data "google_storage_project_service_account" {
    defaults = {
      email_address = "service-123456789012@gs-project-accounts.iam.gserviceaccount.com"
    }
  }
}

override_resource {
  target = google_pubsub_topic.landing
  values = { id = "projects/markets-int-12345/topics/MOCK-LANDING-TOPIC" }
}

override_resource {
  target = google_pubsub_topic.dead_letter
  values = { id = "projects/markets-int-12345/topics/MOCK-DEAD-LETTER-TOPIC" }
}

variables {
  project_id           = "markets-int-12345"
  subscription_name    = "markets-int-landing-events-watch"
  topic_name           = "markets-int-landing-events"
  landing_bucket       = "markets-int-12345-landing"
  pubsub_service_agent = "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
  persistence_regions  = ["europe-west1", "europe-west4"]
  primitive_roles      = ["roles/owner", "roles/editor", "roles/viewer"]
}

run "landing_notifications" {
  command = plan

  assert {
    condition = (
      google_storage_notification.landing_finalize.bucket == var.landing_bucket &&
      google_storage_notification.landing_finalize.topic == google_pubsub_topic.landing.id &&
      google_storage_notification.landing_finalize.event_types == toset(["OBJECT_FINALIZE"]) &&
      google_storage_notification.landing_finalize.payload_format == "JSON_API_V1"
    )
    error_message = "OBJECT_FINALIZE of the landing bucket must be announced on the landing topic as JSON_API_V1."
  }

  assert {
    condition     = google_pubsub_topic_iam_member.gcs_publishes.member == "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com" && google_pubsub_topic_iam_member.gcs_publishes.role == "roles/pubsub.publisher"
    error_message = "The Cloud Storage service agent must publish to the landing topic."
  }
}

run "watch_subscription" {
  command = plan

  assert {
    condition     = google_pubsub_subscription.watch.name == var.subscription_name && google_pubsub_subscription.watch.topic == google_pubsub_topic.landing.id
    error_message = "The watch subscription is named as the settings profile says and reads the landing topic."
  }

  assert {
    condition     = google_pubsub_subscription.watch.ack_deadline_seconds == 600 && google_pubsub_subscription.watch.message_retention_duration == "604800s"
    error_message = "The watch subscription has a 600 s ack deadline and keeps messages 7 days."
  }

  assert {
    condition     = google_pubsub_subscription.watch.dead_letter_policy[0].dead_letter_topic == google_pubsub_topic.dead_letter.id && google_pubsub_subscription.watch.dead_letter_policy[0].max_delivery_attempts == 5
    error_message = "The watch subscription dead-letters to <topic>-dead-letter after 5 attempts."
  }

  assert {
    condition = (
      google_pubsub_subscription.dead_letter.topic == google_pubsub_topic.dead_letter.id &&
      one(google_pubsub_subscription.dead_letter.expiration_policy).ttl == "" &&
      one(google_pubsub_subscription.watch.expiration_policy).ttl == ""
    )
    error_message = "The dead-letter topic needs a subscription, and neither subscription may expire."
  }

  assert {
    condition = alltrue([
      for topic in [google_pubsub_topic.landing, google_pubsub_topic.dead_letter] :
      one(topic.message_storage_policy).allowed_persistence_regions == toset(var.persistence_regions)
    ])
    error_message = "Both topics must store messages only in var.persistence_regions."
  }
}

run "grants" {
  command = plan

  assert {
    condition = (
      google_pubsub_topic_iam_member.dead_letter_publisher.member == "serviceAccount:${var.pubsub_service_agent}" &&
      google_pubsub_subscription_iam_member.dead_letter_subscriber.member == "serviceAccount:${var.pubsub_service_agent}" &&
      google_pubsub_subscription_iam_member.dead_letter_subscriber.subscription == var.subscription_name
    )
    error_message = "The Pub/Sub service agent must be able to forward the watch subscription's dead letters."
  }

  assert {
    condition = alltrue([
      for member in [google_pubsub_topic_iam_member.gcs_publishes, google_pubsub_topic_iam_member.dead_letter_publisher, google_pubsub_subscription_iam_member.dead_letter_subscriber] :
      !contains(var.primitive_roles, member.role) && !contains(["allUsers", "allAuthenticatedUsers"], member.member)
    ])
    error_message = "No grant may use a basic role (owner, editor, viewer) or a public member."
  }
}
