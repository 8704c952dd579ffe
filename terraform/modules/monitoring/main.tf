# Alerts of the three lanes, each pointing at its section of docs/support_runbook.md, sent to
# the environment's on-call addresses. They watch what the lanes already emit: Pub/Sub's own metrics for dead
# letters and delivery lag, the bridges' Prometheus metrics (collected by Managed Service for Prometheus through
# the PodMonitoring in orchestrator/k8s/base), the alert lines the orchestrator's jobs log (files, sources, the
# batch cycle, the vendor extract, the streaming build) and the reporter's dead-letter log line.

locals {
  prefix = "mdp ${var.environment}"

  # Names of what the lanes emit; tests/orchestrator/test_monitoring_alerts.py checks them against the code.
  regulatory_dead_letter_log_alert = "REGULATORY_SUBMISSION_DEAD_LETTERED"
  bridge_gauge_always_set          = "mdp_bridge_in_flight_bytes"
  bridge_paused_gauge              = "mdp_bridge_paused"
  bridge_backlog_gauge             = "mdp_bridge_kafka_backlog_messages"
  bridge_stalled_gauge             = "mdp_bridge_stalled_partitions"

  channels = [for channel in google_monitoring_notification_channel.on_call : channel.id]
  # format(filter, resource id, metric): Pub/Sub's own metrics of one topic or subscription.
  topic_metric        = "resource.type = \"pubsub_topic\" AND resource.labels.topic_id = \"%s\" AND metric.type = \"pubsub.googleapis.com/topic/%s\""
  subscription_metric = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"%s\" AND metric.type = \"pubsub.googleapis.com/subscription/%s\""
  # format(filter, log-based metric): what the orchestrator's jobs on GKE log.
  job_log_metric = "resource.type = \"k8s_container\" AND metric.type = \"logging.googleapis.com/user/%s\""

  runbook = {
    stream_dead_letters     = "${var.runbook_url}#alert-stream-dead-letters"
    streaming_lag           = "${var.runbook_url}#alert-streaming-lag"
    regulatory_dead_letters = "${var.runbook_url}#alert-regulatory-dead-letters"
    reporter_down           = "${var.runbook_url}#alert-reporter-down"
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
# long (Pub/Sub refuses or is slow: publishes wait at the in-flight bound), Kafka's backlog stays high (the
# replicas cannot keep up: scale out, up to the partition count), or partitions keep going unread. A stalled
# partition fails its replica's liveness probe, and the restart resets the gauge: so the condition looks for a
# stall in every 15-minute window, which only stalls that come back after restarts keep up.
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

  conditions {
    display_name = "partitions of ${each.key} left unread again after restarts, for ${var.bridge_stalled_for}"
    condition_prometheus_query_language {
      query    = "max by (stream) (max_over_time(${local.bridge_stalled_gauge}{stream=\"${each.key}\"}[15m])) > 0"
      duration = var.bridge_stalled_for
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: bridge of stream ${each.key} is down or stalled"
    content   = <<-EOT
      Kafka -> Pub/Sub for stream `${each.key}` is behind: no `mdp-bridge-${each.key}` replica reports,
      consumption is paused at its in-flight bound (see `last_publish_error` on `/healthz`), the Kafka backlog
      stays over ${var.bridge_backlog_messages} messages (add replicas, up to the partition count), or replicas
      keep leaving partitions unread though their liveness probes restart them (`stalled_partitions` on `/healthz`).
      Runbook: ${local.runbook.streaming_lag}

          mdp --env ${var.environment} bridge backlog ${each.key}
    EOT
  }
}

# The orchestrator's jobs on GKE log one JSON line per alert (orchestrator/alerts.py), its `alert` field naming it
# and `source` or `stream` its subject. One log-based metric counts them all; each policy below counts one alert,
# with one incident per source or stream.
resource "google_logging_metric" "job_alerts" {
  project     = var.project_id
  name        = "mdp/job_alerts"
  description = "Alert lines the orchestrator's jobs log (orchestrator/alerts.py), by alert and subject."
  filter      = "resource.type=\"k8s_container\" AND jsonPayload.alert:*"
  label_extractors = {
    alert        = "EXTRACT(jsonPayload.alert)"
    source       = "EXTRACT(jsonPayload.source)"
    stream       = "EXTRACT(jsonPayload.stream)"
    gap_severity = "EXTRACT(jsonPayload.gap_severity)"
  }

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "alert"
      value_type  = "STRING"
      description = "The alert (orchestrator.alerts.Alert)."
    }
    labels {
      key         = "source"
      value_type  = "STRING"
      description = "Source spec name, for the batch lane's alerts."
    }
    labels {
      key         = "stream"
      value_type  = "STRING"
      description = "Stream spec name, for the streaming lane's alerts."
    }
    labels {
      key         = "gap_severity"
      value_type  = "STRING"
      description = "LOW, MEDIUM, HIGH or CRITICAL, for confirmed sequence gaps."
    }
  }
}

locals {
  # One policy per alert the jobs log. `per`: one incident per source or stream (or none). The policy fires when
  # more than `above` lines arrive within `window`: a state the hourly cycle logs each hour (a missing source)
  # stays open over a 2-hour window; a failure alerts once the CronJob's retry has failed too (above 1 in an hour).
  job_alerts = {
    FILE_VALIDATION_FAILED = {
      title   = "a file failed validation"
      per     = "source"
      window  = "60s"
      above   = 0
      runbook = "alert-validation-failed-a-whole-file-was-rejected"
      text    = "A file of source $${metric.label.source} was rejected as a whole and moved to the failed bucket with its reasons."
      command = "files list --state failed"
    }
    FILE_UNMATCHED = {
      title   = "a landed file matches no source spec"
      per     = ""
      window  = "60s"
      above   = 0
      runbook = "alert-source-missing-or-late"
      text    = "A file in the landing bucket matches no source spec's landing pattern: a new or renamed feed."
      command = "files list --state unmatched"
    }
    SOURCE_MISSING = {
      title   = "a source is missing past its deadline"
      per     = "source"
      window  = "7200s"
      above   = 0
      runbook = "alert-source-missing-or-late"
      text    = "Source $${metric.label.source} has fewer files than expected past its deadline (MISSING or PARTIAL); each hourly cycle says so until they arrive."
      command = "alerts"
    }
    VOLUME_ANOMALY = {
      title   = "a source's daily row count is anomalous"
      per     = "source"
      window  = "7200s"
      above   = 0
      runbook = "alert-volume-anomaly"
      text    = "Source $${metric.label.source} delivered all its files (or its deadline passed), but far fewer or more rows than its history or its spec's typical range."
      command = "anomalies --days 2"
    }
    FILE_RECONCILIATION_BREAK = {
      title   = "a loaded file's rows do not reconcile"
      per     = "source"
      window  = "7200s"
      above   = 0
      runbook = "alert-file-reconciliation-break"
      text    = "A file of source $${metric.label.source} does not reconcile: its raw rows, or its quarantined rows, differ from what the validator counted, or raw rows have no loaded file. Each hourly cycle says so until it is repaired."
      command = "files reconcile --breaks"
    }
    BATCH_CYCLE_FAILED = {
      title   = "the hourly cycle failed"
      per     = ""
      window  = "3600s"
      above   = 1
      runbook = "alert-dbt-model-failed"
      text    = "`mdp run` (CronJob mdp-run) failed, and so did its retry: its log line names the failing step (dbt, warehouse, bucket). Files stay in landing; nothing is lost."
      command = "status --json"
    }
    VENDOR_EXTRACT_FAILED = {
      title   = "the vendor extract was not delivered"
      per     = ""
      window  = "3600s"
      above   = 1
      runbook = "alert-vendor-extract-not-delivered"
      text    = "`mdp extract` or `mdp deliver` (CronJob mdp-extract-deliver) failed more than once: the vendor is missing today's extract."
      command = "deliveries list"
    }
    STREAM_EVENTS_REJECTED = {
      title   = "stream events rejected by their spec"
      per     = "stream"
      window  = "60s"
      above   = 0
      runbook = "alert-rejected-stream-events"
      text    = "The hourly streaming build rejected events of stream $${metric.label.stream} that break its spec; they are kept out of curation, each with its reason."
      command = "stream rejects --hours 24"
    }
    STREAM_SEQUENCE_GAPS_CONFIRMED = {
      title   = "sequence gaps confirmed"
      per     = "stream"
      window  = "60s"
      above   = 0
      runbook = "alert-sequence-gaps"
      text    = "The hourly streaming build confirmed ${join(" or ", var.stream_gap_alert_severities)} sequence gaps in stream $${metric.label.stream}: events are missing. Ask the producer to replay the ranges to Kafka."
      command = "stream gaps --severity ${var.stream_gap_alert_severities[0]} --confirmed-only"
    }
    STREAM_BUILD_FAILED = {
      title   = "the streaming build failed"
      per     = ""
      window  = "3600s"
      above   = 1
      runbook = "alert-streaming-build-failed"
      text    = "`mdp stream build` (CronJob mdp-stream-build) failed, and so did its retry: curated streams, gaps and lag stand still. Its log line names the failing model or test, or the catch-up command."
      command = "stream build"
    }
    STREAM_CHECK_FAILED = {
      title   = "the daily streaming check failed"
      per     = ""
      window  = "3600s"
      above   = 1
      runbook = "alert-sequence-gaps"
      text    = "`mdp stream check` (CronJob mdp-stream-check) failed, and so did its retry: a data test of the streaming models fails over the whole tables, most often a copy replayed beyond the duplicate horizon. Its log line names the failing tests."
      command = "stream check"
    }
    NAMESPACE_CHECK_FAILED = {
      title   = "the trade-id namespace check failed"
      per     = ""
      window  = "3600s"
      above   = 0
      runbook = "alert-namespace-check-failed"
      text    = "`mdp namespace-check` (first step of CronJob mdp-extract-deliver) found the trade-id namespace changed, or stored trade ids that differ from their keys' ids. The day's vendor extract is held until it passes."
      command = "namespace-check"
    }
    REGULATORY_SUBMISSIONS_MISSED = {
      title   = "regulatory events missed their deadline"
      per     = ""
      window  = "1200s"
      above   = 0
      runbook = "alert-regulatory-submission-late-or-missed"
      text    = "Regulatory events of the last day passed their deadline unsubmitted; `mdp reporter reconcile` (CronJob mdp-regulatory-reconcile, every 10 minutes) says so until they are submitted. Its log line names the first of them."
      command = "reconciliation"
    }
    REGULATORY_RECONCILE_FAILED = {
      title   = "the regulatory reconciliation failed"
      per     = ""
      window  = "1800s"
      above   = 1
      runbook = "alert-regulatory-submission-late-or-missed"
      text    = "`mdp reporter reconcile` (CronJob mdp-regulatory-reconcile) failed more than once: missed deadlines are not being checked. Its log line names the failing model or test."
      command = "reporter reconcile"
    }
  }
  # Only the severities asked for raise the gap alert.
  job_alert_filters = {
    STREAM_SEQUENCE_GAPS_CONFIRMED = " AND metric.labels.gap_severity = one_of(${join(", ", [for severity in var.stream_gap_alert_severities : "\"${severity}\""])})"
  }
}

resource "google_monitoring_alert_policy" "job_alerts" {
  for_each = local.job_alerts

  project               = var.project_id
  display_name          = "${local.prefix}: ${each.value.title}"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { alert = lower(each.key) }

  conditions {
    display_name = "${each.key} logged more than ${each.value.above} times in ${each.value.window}"
    condition_threshold {
      filter          = "${format(local.job_log_metric, google_logging_metric.job_alerts.name)} AND metric.labels.alert = \"${each.key}\"${lookup(local.job_alert_filters, each.key, "")}"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.above
      duration        = "0s"
      aggregations {
        alignment_period     = each.value.window
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = each.value.per == "" ? [] : ["metric.label.${each.value.per}"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: ${each.value.title}${each.value.per == "" ? "" : " (${each.value.per} $${metric.label.${each.value.per}})"}"
    content   = <<-EOT
      ${each.value.text}
      Runbook: ${var.runbook_url}#${each.value.runbook}

          mdp --env ${var.environment} ${each.value.command}
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

# The reporter is down or cannot keep up: events wait on its push subscription, their 15-minute deadline running.
resource "google_monitoring_alert_policy" "reporter_behind" {
  project               = var.project_id
  display_name          = "${local.prefix}: regulatory reporter down or behind"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = { lane = "regulatory" }

  conditions {
    display_name = "oldest event waiting for the reporter over ${var.reporter_backlog_seconds}s"
    condition_threshold {
      filter          = format(local.subscription_metric, var.regulatory_push_subscription, "oldest_unacked_message_age")
      comparison      = "COMPARISON_GT"
      threshold_value = var.reporter_backlog_seconds
      duration        = "120s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${local.prefix}: regulatory reporter down or behind"
    content   = <<-EOT
      Events wait over ${var.reporter_backlog_seconds} s on `${var.regulatory_push_subscription}`: the reporter on Cloud
      Run is down, failing or too slow, and their regulatory deadline is running. Runbook: ${local.runbook.reporter_down}

          mdp --env ${var.environment} reporter status --json
    EOT
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
