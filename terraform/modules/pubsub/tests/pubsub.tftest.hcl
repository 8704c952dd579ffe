# Plan-level tests of modules/pubsub with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`).
#
# A mock gives every instance of a resource type the same generated values, so the stream topics and the
# dead-letter topics get distinct ids below: a subscription wired to the wrong kind of topic then fails.

mock_provider "google" {}

override_resource {
  target = google_pubsub_topic.stream
  values = { id = "projects/markets-int-12345/topics/MOCK-STREAM-TOPIC" }
}

override_resource {
  target = google_pubsub_topic.dead_letter
  values = { id = "projects/markets-int-12345/topics/MOCK-DEAD-LETTER-TOPIC" }
}

variables {
  project_id = "markets-int-12345"
  streams = {
    rfq    = { topic = "mdp-rfq-events", dead_letter_topic = "mdp-rfq-events-dead-letter", subscription = "mdp-rfq-events-warehouse" }
    quotes = { topic = "mdp-quotes-events", dead_letter_topic = "mdp-quotes-events-dead-letter", subscription = "mdp-quotes-events-warehouse" }
  }
  stream_table_ids = {
    rfq    = "markets-int-12345.raw.rfq_stream"
    quotes = "markets-int-12345.raw.quotes_stream"
  }
  stream_writer_service_account = "mdp-stream-loader@markets-int-12345.iam.gserviceaccount.com"
  pubsub_service_agent          = "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
  persistence_regions           = ["europe-west1", "europe-west4"]
  primitive_roles               = ["roles/owner", "roles/editor", "roles/viewer"]
}

run "stream_subscriptions_write_bigquery" {
  command = plan

  assert {
    condition     = { for stream, topic in google_pubsub_topic.stream : stream => topic.name } == { for stream, names in var.streams : stream => names.topic }
    error_message = "Each stream must get the topic its spec names."
  }

  assert {
    condition     = { for stream, subscription in google_pubsub_subscription.stream_to_bigquery : stream => subscription.name } == { for stream, names in var.streams : stream => names.subscription }
    error_message = "Each stream must get one subscription, named as its spec's pubsub.subscription."
  }

  assert {
    condition = alltrue([
      for stream, subscription in google_pubsub_subscription.stream_to_bigquery :
      subscription.topic == google_pubsub_topic.stream[stream].id
    ])
    error_message = "A stream's subscription must read the stream's topic."
  }

  assert {
    condition = alltrue([
      for stream, subscription in google_pubsub_subscription.stream_to_bigquery :
      length(subscription.bigquery_config) == 1 && length(subscription.push_config) == 0
    ])
    error_message = "Every stream subscription must be a BigQuery subscription."
  }

  assert {
    condition = alltrue([
      for stream, subscription in google_pubsub_subscription.stream_to_bigquery :
      subscription.bigquery_config[0].table == var.stream_table_ids[stream] &&
      subscription.bigquery_config[0].use_topic_schema == false &&
      subscription.bigquery_config[0].write_metadata == true &&
      subscription.bigquery_config[0].service_account_email == var.stream_writer_service_account
    ])
    error_message = "A BigQuery subscription writes raw.<stream>_stream with write_metadata, without the topic schema, as the stream loader."
  }

  assert {
    condition = alltrue([
      for subscription in values(google_pubsub_subscription.stream_to_bigquery) :
      one(subscription.expiration_policy).ttl == ""
    ])
    error_message = "Stream subscriptions must never expire."
  }
}

run "dead_letters" {
  command = plan

  assert {
    condition = alltrue([
      for stream, subscription in google_pubsub_subscription.stream_to_bigquery :
      length(subscription.dead_letter_policy) == 1 &&
      subscription.dead_letter_policy[0].dead_letter_topic == google_pubsub_topic.dead_letter["stream-${stream}"].id &&
      subscription.dead_letter_policy[0].max_delivery_attempts == 10
    ])
    error_message = "Every stream subscription must dead-letter to its stream's dead-letter topic after 10 attempts."
  }

  assert {
    condition = alltrue([
      for subscription in values(google_pubsub_subscription.stream_to_bigquery) :
      one(subscription.retry_policy).minimum_backoff == "10s" && one(subscription.retry_policy).maximum_backoff == "600s"
    ])
    error_message = "Stream subscriptions retry with exponential backoff from 10 s to 600 s."
  }

  assert {
    condition = { for key, topic in google_pubsub_topic.dead_letter : key => topic.name } == {
      "stream-rfq"    = "mdp-rfq-events-dead-letter"
      "stream-quotes" = "mdp-quotes-events-dead-letter"
      regulatory      = "mdp-regulatory-events-dead-letter"
    }
    error_message = "Expected one dead-letter topic per stream, named as its spec says, and one for regulatory events."
  }

  # Pub/Sub drops messages published to a topic without a subscription.
  assert {
    condition = alltrue([
      for key, topic in google_pubsub_topic.dead_letter :
      google_pubsub_subscription.dead_letter[key].topic == topic.id &&
      one(google_pubsub_subscription.dead_letter[key].expiration_policy).ttl == "" &&
      google_pubsub_subscription.dead_letter[key].message_retention_duration == "604800s" &&
      google_pubsub_subscription.dead_letter[key].retain_acked_messages == true
    ])
    error_message = "Every dead-letter topic needs a pull subscription that never expires and keeps messages 7 days."
  }

  assert {
    condition = alltrue([
      for key, topic in google_pubsub_topic.dead_letter :
      google_pubsub_topic_iam_member.dead_letter_publisher[key].topic == topic.name &&
      google_pubsub_topic_iam_member.dead_letter_publisher[key].role == "roles/pubsub.publisher" &&
      google_pubsub_topic_iam_member.dead_letter_publisher[key].member == "serviceAccount:${var.pubsub_service_agent}"
    ])
    error_message = "The Pub/Sub service agent must publish to every dead-letter topic."
  }

  assert {
    condition = alltrue([
      for stream, subscription in google_pubsub_subscription.stream_to_bigquery :
      google_pubsub_subscription_iam_member.stream_dead_letter_subscriber[stream].subscription == subscription.name &&
      google_pubsub_subscription_iam_member.stream_dead_letter_subscriber[stream].role == "roles/pubsub.subscriber" &&
      google_pubsub_subscription_iam_member.stream_dead_letter_subscriber[stream].member == "serviceAccount:${var.pubsub_service_agent}"
    ])
    error_message = "The Pub/Sub service agent must subscribe to every stream subscription, or it cannot forward dead letters."
  }
}

run "topics_stay_in_region" {
  command = plan

  assert {
    condition = alltrue([
      for topic in concat(values(google_pubsub_topic.stream), values(google_pubsub_topic.dead_letter), [google_pubsub_topic.regulatory]) :
      one(topic.message_storage_policy).allowed_persistence_regions == toset(var.persistence_regions)
    ])
    error_message = "Every topic must store messages only in var.persistence_regions."
  }

  assert {
    condition = alltrue([
      for topic in values(google_pubsub_topic.stream) : topic.message_retention_duration == "86400s"
    ]) && google_pubsub_topic.regulatory.message_retention_duration == "604800s"
    error_message = "Stream topics keep messages a day, the regulatory topic a week."
  }
}

run "no_primitive_roles" {
  command = plan

  assert {
    condition = alltrue([
      for member in concat(values(google_pubsub_topic_iam_member.dead_letter_publisher), values(google_pubsub_subscription_iam_member.stream_dead_letter_subscriber)) :
      !contains(var.primitive_roles, member.role) && !contains(["allUsers", "allAuthenticatedUsers"], member.member)
    ])
    error_message = "No grant may use a basic role (owner, editor, viewer) or a public member."
  }
}
