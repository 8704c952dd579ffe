# Plan-level tests of modules/monitoring with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`). tests/orchestrator/test_monitoring_alerts.py checks the names the alerts
# watch against the code that emits them, and the runbook links against docs/support_runbook.md.

mock_provider "google" {}

variables {
  project_id  = "markets-int-12345"
  environment = "int"
  streams = {
    rfq    = { topic = "mdp-rfq-events", dead_letter_topic = "mdp-rfq-events-dead-letter", subscription = "mdp-rfq-events-warehouse" }
    quotes = { topic = "mdp-quotes-events", dead_letter_topic = "mdp-quotes-events-dead-letter", subscription = "mdp-quotes-events-warehouse" }
  }
  regulatory_dead_letter_topic = "mdp-regulatory-events-dead-letter"
  regulatory_push_subscription = "mdp-regulatory-events-to-reporter"
  on_call_emails               = ["markets-data-oncall-int@bank.example", "markets-surveillance-support@bank.example"]
}

run "every_stream_gets_its_alerts" {
  command = plan

  assert {
    condition = alltrue([for lane in [google_monitoring_alert_policy.stream_dead_letters, google_monitoring_alert_policy.stream_delivery_lag, google_monitoring_alert_policy.bridge] :
    toset(keys(lane)) == toset(keys(var.streams))])
    error_message = "Each stream must get a dead-letter, a delivery-lag and a bridge alert."
  }

  assert {
    condition = alltrue([for stream, policy in google_monitoring_alert_policy.stream_dead_letters :
      strcontains(policy.conditions[0].condition_threshold[0].filter, "resource.labels.topic_id = \"${var.streams[stream].dead_letter_topic}\"")
      && strcontains(policy.conditions[1].condition_threshold[0].filter, "resource.labels.subscription_id = \"${var.streams[stream].dead_letter_topic}\"")
    ])
    error_message = "A stream's dead-letter alert must watch its own dead-letter topic and subscription (named like the topic)."
  }

  assert {
    condition = alltrue([for stream, policy in google_monitoring_alert_policy.stream_delivery_lag :
      strcontains(policy.conditions[0].condition_threshold[0].filter, "resource.labels.subscription_id = \"${var.streams[stream].subscription}\"")
      && policy.conditions[0].condition_threshold[0].threshold_value == 600
    ])
    error_message = "The delivery-lag alert must watch the stream's BigQuery subscription, at 600 s by default."
  }

  assert {
    condition = alltrue([for stream, policy in google_monitoring_alert_policy.bridge :
      policy.conditions[0].condition_prometheus_query_language[0].query == "absent(mdp_bridge_in_flight_bytes{stream=\"${stream}\"})"
      && policy.conditions[1].condition_prometheus_query_language[0].query == "max by (stream) (mdp_bridge_paused{stream=\"${stream}\"}) == 1"
      && policy.conditions[1].condition_prometheus_query_language[0].duration == "600s"
      && policy.conditions[2].condition_prometheus_query_language[0].query == "sum by (stream) (mdp_bridge_kafka_backlog_messages{stream=\"${stream}\"}) > 1000000"
      && policy.conditions[3].condition_prometheus_query_language[0].query == "max by (stream) (max_over_time(mdp_bridge_stalled_partitions{stream=\"${stream}\"}[15m])) > 0"
      && policy.conditions[3].condition_prometheus_query_language[0].duration == "1800s"
    ])
    error_message = "The bridge alert must fire when no replica of the stream reports, when it stays paused 10 minutes, when Kafka's backlog stays high, and when its partitions keep stalling for 30 minutes."
  }
}

run "the_jobs_alert_lines_raise_one_policy_each" {
  command = plan

  assert {
    condition = (google_logging_metric.job_alerts.filter == "resource.type=\"k8s_container\" AND jsonPayload.alert:*"
      && google_logging_metric.job_alerts.label_extractors.alert == "EXTRACT(jsonPayload.alert)"
    && google_logging_metric.job_alerts.label_extractors.source == "EXTRACT(jsonPayload.source)")
    error_message = "One log-based metric must count every alert line of the jobs on GKE, by alert and subject."
  }

  assert {
    condition = alltrue([for alert, policy in google_monitoring_alert_policy.job_alerts :
    strcontains(policy.conditions[0].condition_threshold[0].filter, "metric.labels.alert = \"${alert}\"")])
    error_message = "Each policy must count its own alert's lines."
  }

  assert {
    condition = (google_monitoring_alert_policy.job_alerts["FILE_VALIDATION_FAILED"].conditions[0].condition_threshold[0].aggregations[0].group_by_fields == tolist(["metric.label.source"])
      && google_monitoring_alert_policy.job_alerts["STREAM_EVENTS_REJECTED"].conditions[0].condition_threshold[0].aggregations[0].group_by_fields == tolist(["metric.label.stream"])
    && length(google_monitoring_alert_policy.job_alerts["BATCH_CYCLE_FAILED"].conditions[0].condition_threshold[0].aggregations[0].group_by_fields) == 0)
    error_message = "A source's or stream's alert must open one incident per source or stream."
  }

  assert {
    condition = alltrue([for alert in ["BATCH_CYCLE_FAILED", "VENDOR_EXTRACT_FAILED", "STREAM_BUILD_FAILED", "STREAM_CHECK_FAILED"] :
      google_monitoring_alert_policy.job_alerts[alert].conditions[0].condition_threshold[0].threshold_value == 1
    && google_monitoring_alert_policy.job_alerts[alert].conditions[0].condition_threshold[0].aggregations[0].alignment_period == "3600s"])
    error_message = "A failed job must alert once its CronJob's retry has failed too: more than one failure within an hour."
  }

  assert {
    condition = (endswith(google_monitoring_alert_policy.job_alerts["STREAM_SEQUENCE_GAPS_CONFIRMED"].conditions[0].condition_threshold[0].filter, "AND metric.labels.gap_severity = one_of(\"HIGH\", \"CRITICAL\")")
    && !strcontains(google_monitoring_alert_policy.job_alerts["STREAM_EVENTS_REJECTED"].conditions[0].condition_threshold[0].filter, "gap_severity"))
    error_message = "Only HIGH and CRITICAL gaps must raise the gap alert by default."
  }

  assert {
    condition     = google_monitoring_alert_policy.job_alerts["SOURCE_MISSING"].documentation[0].subject == "mdp int: a source is missing past its deadline (source $${metric.label.source})"
    error_message = "A source's alert must name the source in its subject."
  }
}

run "gap_alerts_take_the_severities_on_call_asks_for" {
  command = plan

  variables {
    stream_gap_alert_severities = ["MEDIUM", "HIGH", "CRITICAL"]
  }

  assert {
    condition = (endswith(google_monitoring_alert_policy.job_alerts["STREAM_SEQUENCE_GAPS_CONFIRMED"].conditions[0].condition_threshold[0].filter, "one_of(\"MEDIUM\", \"HIGH\", \"CRITICAL\")")
    && strcontains(google_monitoring_alert_policy.job_alerts["STREAM_SEQUENCE_GAPS_CONFIRMED"].documentation[0].content, "stream gaps --severity MEDIUM --confirmed-only"))
    error_message = "The gap alert must watch the severities asked for and list gaps from the lowest of them."
  }
}

run "an_unknown_gap_severity_is_refused" {
  command = plan

  variables {
    stream_gap_alert_severities = ["SEVERE"]
  }

  expect_failures = [var.stream_gap_alert_severities]
}

run "regulatory_dead_letters_alert_on_the_reporters_log_line_and_topic" {
  command = plan

  assert {
    condition     = google_logging_metric.regulatory_dead_letters.filter == "jsonPayload.alert=\"REGULATORY_SUBMISSION_DEAD_LETTERED\""
    error_message = "The log-based metric must count the reporter's dead-letter log lines."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.regulatory_dead_letters.conditions[1].condition_threshold[0].filter, "resource.labels.topic_id = \"mdp-regulatory-events-dead-letter\"")
    error_message = "The regulatory alert must also watch the push subscription's dead-letter topic."
  }

  assert {
    condition = (strcontains(google_monitoring_alert_policy.reporter_behind.conditions[0].condition_threshold[0].filter, "resource.labels.subscription_id = \"mdp-regulatory-events-to-reporter\"")
    && google_monitoring_alert_policy.reporter_behind.conditions[0].condition_threshold[0].threshold_value == 300)
    error_message = "The reporter alert must watch the age of the oldest event on its push subscription, 5 minutes by default."
  }
}

run "every_alert_reaches_on_call_and_names_its_runbook_section" {
  command = plan

  assert {
    condition     = toset([for channel in google_monitoring_notification_channel.on_call : channel.labels.email_address]) == toset(var.on_call_emails)
    error_message = "Each on-call address must get an email channel."
  }

  assert {
    condition = alltrue([for policy in concat(
      values(google_monitoring_alert_policy.stream_dead_letters), values(google_monitoring_alert_policy.stream_delivery_lag),
      values(google_monitoring_alert_policy.bridge), values(google_monitoring_alert_policy.job_alerts),
      [google_monitoring_alert_policy.regulatory_dead_letters, google_monitoring_alert_policy.reporter_behind],
      ) : length(policy.notification_channels) == length(var.on_call_emails)
      && strcontains(policy.documentation[0].content, "docs/support_runbook.md#alert-")
    && startswith(policy.display_name, "mdp int: ")])
    error_message = "Every alert must notify every on-call channel, link its runbook section and name the environment."
  }
}

run "an_environment_without_on_call_is_refused" {
  command = plan

  variables {
    on_call_emails = []
  }

  expect_failures = [var.on_call_emails]
}
