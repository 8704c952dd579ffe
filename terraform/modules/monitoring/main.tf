# Alerts of the streaming and regulatory lanes, each pointing at its section of docs/support_runbook.md, sent to
# the environment's on-call addresses. They watch what the lanes already emit: Pub/Sub's own metrics for dead
# letters and delivery lag, the bridges' Prometheus metrics (collected by Managed Service for Prometheus through
# the PodMonitoring in orchestrator/k8s/base), the hourly streaming build's log lines (events it rejected, gaps it
# confirmed, its failure) and the reporter's dead-letter log line.

locals {
  prefix = "mdp ${var.environment}"

  # Names of what the lanes emit; tests/orchestrator/test_monitoring_alerts.py checks them against the code.
  regulatory_dead_letter_log_alert = "REGULATORY_SUBMISSION_DEAD_LETTERED"
  stream_rejected_log_alert        = "STREAM_EVENTS_REJECTED"
  stream_gaps_log_alert            = "STREAM_SEQUENCE_GAPS_CONFIRMED"
  stream_build_failed_log_alert    = "STREAM_BUILD_FAILED"
  bridge_gauge_always_set          = "mdp_bridge_in_flight_bytes"
  bridge_paused_gauge              = "mdp_bridge_paused"
  bridge_backlog_gauge             = "mdp_bridge_kafka_backlog_messages"

  channels = [for channel in google_monitoring_notification_channel.on_call : channel.id]
  # format(filter, resource id, metric): Pub/Sub's own metrics of one topic or subscription.
  topic_metric        = "resource.type = \"pubsub_topic\" AND resource.labels.topic_id = \"%s\" AND metric.type = \"pubsub.googleapis.com/topic/%s\""
  subscription_metric = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"%s\" AND metric.type = \"pubsub.googleapis.com/subscription/%s\""
  # format(filter, log-based metric): what the orchestrator's jobs on GKE log.
  job_log_metric = "resource.type = \"k8s_container\" AND metric.type = \"logging.googleapis.com/user/%s\""

  runbook = {
    stream_dead_letters     = "${var.runbook_url}#alert-stream-dead-letters"
    streaming_lag           = "${var.runbook_url}#alert-streaming-lag"
    streaming_build         = "${var.runbook_url}#alert-streaming-build-failed"
    sequence_gaps           = "${var.runbook_url}#alert-sequence-gaps"
    rejected_stream_events  = "${var.runbook_url}#alert-rejected-stream-events"
    regulatory_dead_letters = "${var.runbook_url}#alert-regulatory-dead-letters"
  }
}

resource "google_monitoring_notification_channel" "on_call" {
  for_each = toset(var.on_call_emails)

  project      = var.project_id
  display_name = "${local.prefix} on-call: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

# A message reached a stream's dead-letter topic (the bridge's poison messages, or the BigQuery subscription's
# undeliverable ones); or dead letters have waited a day, of the 7 days the subscription keeps them.
resource "google_monitoring_alert_policy" "stream_dead_letters" {
  for_each = var.streams

  project               = var.project_id
  display_name          = "${local.prefix}: stream ${each.key} dead letters"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "streaming", stream = each.key }

  conditions {
    display_name = "messages published to ${each.value.dead_letter_topic}"
    condition_threshold {
      filter          = format(local.topic_metric, each.value.dead_letter_topic, "send_message_operation_count")
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  conditions {
    display_name = "dead letters of ${each.key} unhandled for a day"
    condition_threshold {
      filter          = format(local.subscription_metric, each.value.dead_letter_topic, "oldest_unacked_message_age")
      comparison      = "COMPARISON_GT"
      threshold_value = 86400
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: dead letters on stream ${each.key}"
    content   = <<-EOT
      Messages of stream `${each.key}` are on its dead-letter topic `${each.value.dead_letter_topic}`.
      Runbook: ${local.runbook.stream_dead_letters}

          mdp --env ${var.environment} stream dead-letters list ${each.key}
          mdp --env ${var.environment} stream dead-letters replay ${each.key} --dry-run
    EOT
  }
}

# The stream's BigQuery subscription falls behind: rows reach raw.<stream>_stream late, or not at all.
resource "google_monitoring_alert_policy" "stream_delivery_lag" {
  for_each = var.streams

  project               = var.project_id
  display_name          = "${local.prefix}: stream ${each.key} delivery to BigQuery behind"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "streaming", stream = each.key }

  conditions {
    display_name = "oldest undelivered message of ${each.value.subscription} over ${var.stream_delivery_lag_seconds}s"
    condition_threshold {
      filter          = format(local.subscription_metric, each.value.subscription, "oldest_unacked_message_age")
      comparison      = "COMPARISON_GT"
      threshold_value = var.stream_delivery_lag_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: stream ${each.key} is late into BigQuery"
    content   = <<-EOT
      The BigQuery subscription `${each.value.subscription}` has messages older than ${var.stream_delivery_lag_seconds} s:
      check the subscription's errors and its dead-letter topic. Runbook: ${local.runbook.streaming_lag}

          mdp --env ${var.environment} stream lag --hours 3
    EOT
  }
}

# The stream's bridge: no replica reports (all down, or none scheduled), consumption paused by backpressure for
# long (Pub/Sub refuses or is slow: publishes wait at the in-flight bound), or Kafka's backlog stays high (the
# replicas cannot keep up: scale out, up to the partition count).
resource "google_monitoring_alert_policy" "bridge" {
  for_each = var.streams

  project               = var.project_id
  display_name          = "${local.prefix}: stream ${each.key} bridge down or stalled"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "streaming", stream = each.key }

  conditions {
    display_name = "no bridge replica of ${each.key} reports metrics"
    condition_prometheus_query_language {
      query    = "absent(${local.bridge_gauge_always_set}{stream=\"${each.key}\"})"
      duration = "300s"
    }
  }

  conditions {
    display_name = "bridge of ${each.key} paused for ${var.bridge_paused_for}"
    condition_prometheus_query_language {
      query    = "max by (stream) (${local.bridge_paused_gauge}{stream=\"${each.key}\"}) == 1"
      duration = var.bridge_paused_for
    }
  }

  conditions {
    display_name = "over ${var.bridge_backlog_messages} messages of ${each.key} waiting in Kafka"
    condition_prometheus_query_language {
      query    = "sum by (stream) (${local.bridge_backlog_gauge}{stream=\"${each.key}\"}) > ${var.bridge_backlog_messages}"
      duration = "600s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: bridge of stream ${each.key} is down or stalled"
    content   = <<-EOT
      Kafka -> Pub/Sub for stream `${each.key}` is behind: no `mdp-bridge-${each.key}` replica reports,
      consumption is paused at its in-flight bound (see `last_publish_error` on `/healthz`), or the Kafka backlog
      stays over ${var.bridge_backlog_messages} messages (add replicas, up to the partition count).
      Runbook: ${local.runbook.streaming_lag}
    EOT
  }
}

# The hourly streaming build (`mdp stream build`, CronJob mdp-stream-build) logs one line per stream with events
# it rejected, one per stream and severity with gaps it confirmed (each gap once), and one when it fails.
resource "google_logging_metric" "stream_events_rejected" {
  project     = var.project_id
  name        = "mdp/stream_events_rejected"
  description = "Streaming builds that rejected events of a stream (their log line with alert=${local.stream_rejected_log_alert})."
  filter      = "resource.type=\"k8s_container\" AND jsonPayload.alert=\"${local.stream_rejected_log_alert}\""
  label_extractors = {
    stream = "EXTRACT(jsonPayload.stream)"
  }

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "stream"
      value_type  = "STRING"
      description = "Stream spec name."
    }
  }
}

resource "google_logging_metric" "stream_sequence_gaps" {
  project     = var.project_id
  name        = "mdp/stream_sequence_gaps_confirmed"
  description = "Streaming builds that confirmed sequence gaps of a stream and severity (their log line with alert=${local.stream_gaps_log_alert})."
  filter      = "resource.type=\"k8s_container\" AND jsonPayload.alert=\"${local.stream_gaps_log_alert}\""
  label_extractors = {
    stream       = "EXTRACT(jsonPayload.stream)"
    gap_severity = "EXTRACT(jsonPayload.gap_severity)"
  }

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "stream"
      value_type  = "STRING"
      description = "Stream spec name."
    }
    labels {
      key         = "gap_severity"
      value_type  = "STRING"
      description = "LOW, MEDIUM, HIGH or CRITICAL, by the number of events missing."
    }
  }
}

resource "google_logging_metric" "stream_build_failures" {
  project     = var.project_id
  name        = "mdp/stream_build_failures"
  description = "Failed streaming builds (their log line with alert=${local.stream_build_failed_log_alert})."
  filter      = "resource.type=\"k8s_container\" AND jsonPayload.alert=\"${local.stream_build_failed_log_alert}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

# Events that break their stream spec were kept out of curation: the stream's owner must fix and resend them.
resource "google_monitoring_alert_policy" "stream_rejected_events" {
  for_each = var.streams

  project               = var.project_id
  display_name          = "${local.prefix}: stream ${each.key} events rejected"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "streaming", stream = each.key }

  conditions {
    display_name = "the streaming build rejected events of ${each.key}"
    condition_threshold {
      filter          = "${format(local.job_log_metric, google_logging_metric.stream_events_rejected.name)} AND metric.labels.stream = \"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: events of stream ${each.key} rejected by their spec"
    content   = <<-EOT
      The hourly streaming build rejected events of stream `${each.key}` that break its spec; they are kept out of
      curation, each with its reason. Runbook: ${local.runbook.rejected_stream_events}

          mdp --env ${var.environment} stream rejects --source ${each.key} --hours 24
    EOT
  }
}

# Sequence numbers are missing after the grace period: events the producer sent never arrived (or were never sent).
resource "google_monitoring_alert_policy" "stream_sequence_gaps" {
  for_each = var.streams

  project               = var.project_id
  display_name          = "${local.prefix}: stream ${each.key} sequence gaps"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "streaming", stream = each.key }

  conditions {
    display_name = "the streaming build confirmed ${join(" or ", var.stream_gap_alert_severities)} gaps in ${each.key}"
    condition_threshold {
      filter = join(" AND ", [
        format(local.job_log_metric, google_logging_metric.stream_sequence_gaps.name),
        "metric.labels.stream = \"${each.key}\"",
        "metric.labels.gap_severity = one_of(${join(", ", [for severity in var.stream_gap_alert_severities : "\"${severity}\""])})",
      ])
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: sequence gaps confirmed in stream ${each.key}"
    content   = <<-EOT
      The hourly streaming build confirmed ${join(" or ", var.stream_gap_alert_severities)} sequence gaps in stream
      `${each.key}`: events are missing. Ask the producer to replay the ranges to Kafka. Runbook: ${local.runbook.sequence_gaps}

          mdp --env ${var.environment} stream gaps --severity ${var.stream_gap_alert_severities[0]} --confirmed-only
    EOT
  }
}

# The streaming build failed twice within an hour (the CronJob retries once): curation, gaps and lag stand still.
resource "google_monitoring_alert_policy" "stream_build_failed" {
  project               = var.project_id
  display_name          = "${local.prefix}: streaming build failed"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "streaming" }

  conditions {
    display_name = "mdp stream build failed twice within an hour"
    condition_threshold {
      filter          = format(local.job_log_metric, google_logging_metric.stream_build_failures.name)
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: the hourly streaming build fails"
    content   = <<-EOT
      `mdp stream build` (CronJob mdp-stream-build) failed, and so did its retry: the curated streams, sequence gaps
      and lag stand still until it succeeds. Its log line names the failing model or test, or the catch-up command.
      Runbook: ${local.runbook.streaming_build}

          mdp --env ${var.environment} stream build
    EOT
  }
}

resource "google_logging_metric" "regulatory_dead_letters" {
  project     = var.project_id
  name        = "mdp/regulatory_dead_letters"
  description = "Regulatory events the reporter dead-lettered (its log line with alert=${local.regulatory_dead_letter_log_alert})."
  filter      = "jsonPayload.alert=\"${local.regulatory_dead_letter_log_alert}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

# A regulatory event will miss its deadline unless someone acts: the reporter dead-lettered it, or Pub/Sub gave
# up pushing it to the reporter.
resource "google_monitoring_alert_policy" "regulatory_dead_letters" {
  project               = var.project_id
  display_name          = "${local.prefix}: regulatory dead letters"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "regulatory" }

  conditions {
    display_name = "the reporter dead-lettered an event"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.regulatory_dead_letters.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  conditions {
    display_name = "Pub/Sub could not push an event to the reporter"
    condition_threshold {
      filter          = format(local.topic_metric, var.regulatory_dead_letter_topic, "send_message_operation_count")
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: regulatory events dead-lettered"
    content   = <<-EOT
      A regulatory event was dead-lettered and will miss its deadline unless replayed.
      Runbook: ${local.runbook.regulatory_dead_letters}

          mdp --env ${var.environment} dlq list
    EOT
  }
}
