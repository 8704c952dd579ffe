variable "project_id" {
  description = "Project of the environment; the alert policies watch its metrics and logs."
  type        = string
}

variable "environment" {
  description = "int or prod; named in every alert so on-call sees which environment fired."
  type        = string
}

variable "streams" {
  description = "The `pubsub` section of each stream spec in source_specs/streaming/, by stream name."
  type = map(object({
    topic             = string
    dead_letter_topic = string
    subscription      = string
  }))
}

variable "regulatory_dead_letter_topic" {
  description = "Dead-letter topic of the reporter's push subscription (events Pub/Sub could not deliver to it)."
  type        = string
}

variable "regulatory_push_subscription" {
  description = "Name of the push subscription that feeds the reporter; events waiting on it mean the reporter is behind."
  type        = string
}

variable "reporter_backlog_seconds" {
  description = "Age of the oldest event waiting for the reporter that raises an alert (a third of the 15-minute regulatory deadline)."
  type        = number
  default     = 300
}

variable "on_call_emails" {
  description = "Addresses every alert of this environment is sent to."
  type        = list(string)

  validation {
    condition     = length(var.on_call_emails) > 0 && alltrue([for address in var.on_call_emails : can(regex("^[^@ ]+@[^@ ]+$", address))])
    error_message = "on_call_emails needs at least one address, each of the form name@domain."
  }
}

variable "stream_delivery_lag_seconds" {
  description = "Age of the oldest undelivered message of a stream's BigQuery subscription that raises an alert."
  type        = number
  default     = 600
}

variable "bridge_paused_for" {
  description = "How long a stream's bridge may stay paused by backpressure (Pub/Sub down or slow) before an alert."
  type        = string
  default     = "600s"
}

variable "bridge_backlog_messages" {
  description = "Messages of a stream waiting in Kafka, over all partitions, that raise an alert after 10 minutes (the default is about 5 minutes of the RFQ stream's average 3,500/s)."
  type        = number
  default     = 1000000
}

variable "bridge_stalled_for" {
  description = "How long a stream's partitions may keep going unread (a stall in every 15 minutes, restarts notwithstanding) before an alert."
  type        = string
  default     = "1800s"
}

variable "stream_gap_alert_severities" {
  description = "Severities of confirmed sequence gaps that raise an alert (LOW 1 event missing, MEDIUM 2-9, HIGH 10-99, CRITICAL 100+), lowest first."
  type        = list(string)
  default     = ["HIGH", "CRITICAL"]

  validation {
    condition     = length(var.stream_gap_alert_severities) > 0 && alltrue([for severity in var.stream_gap_alert_severities : contains(["LOW", "MEDIUM", "HIGH", "CRITICAL"], severity)])
    error_message = "stream_gap_alert_severities needs at least one of LOW, MEDIUM, HIGH, CRITICAL."
  }
}

variable "runbook_url" {
  description = "Where docs/support_runbook.md is read; each alert links its section."
  type        = string
  default     = "docs/support_runbook.md"
}
