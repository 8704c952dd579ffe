# The regulatory reporter on Cloud Run and the push subscription that feeds it. Pub/Sub signs every push with an
# OIDC token of a dedicated invoker service account; Cloud Run checks the token (only that account may invoke
# the service) and the reporter checks it again (signature, audience, issuer, email) before it does anything.

locals {
  name = "mdp-reporter"
  # A fixed audience, declared on the service as a custom audience: the service URL is only known after the
  # service exists, and the service's own settings name the audience it accepts.
  audience = "${local.name}:${var.project_id}:pubsub-push"
}

resource "google_service_account" "invoker" {
  project      = var.project_id
  account_id   = "mdp-reporter-invoker"
  display_name = "MDP reporter push invoker"
  description  = "Identity in the OIDC token of Pub/Sub push requests to the regulatory reporter; may only invoke it."
}

resource "google_cloud_run_v2_service" "reporter" {
  project             = var.project_id
  name                = local.name
  location            = var.region
  description         = "Submits each reportable event to the regulator exactly once (mdp reporter serve)."
  labels              = var.labels
  deletion_protection = var.deletion_protection
  # Pub/Sub push from this project counts as internal traffic; nothing outside the project reaches the service.
  ingress          = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  custom_audiences = [local.audience]

  template {
    service_account                  = var.service_account
    max_instance_request_concurrency = var.concurrency
    # Longer than the worst retry sequence (1+2+4+8+16 s of backoff plus the calls), shorter than the ack deadline.
    timeout               = "120s"
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    labels                = var.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      name  = "reporter"
      image = var.image
      args  = ["reporter", "serve"]

      ports {
        name           = "http1"
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = tostring(var.cpus)
          memory = "1Gi"
        }
        # CPU stays allocated between requests: the reference cache refreshes every 5 minutes in the background.
        cpu_idle          = false
        startup_cpu_boost = true
      }

      env {
        name  = "MDP_ENV"
        value = var.environment
      }
      # One server process per vCPU: Python runs each process on one core.
      env {
        name  = "MDP_REPORTER_WORKERS"
        value = tostring(var.cpus)
      }
      env {
        name  = "MDP_REPORTER_AUDIENCE"
        value = local.audience
      }
      env {
        name  = "MDP_REPORTER_PUSH_SERVICE_ACCOUNT"
        value = google_service_account.invoker.email
      }
      env {
        name  = "MDP_REGULATOR_URL"
        value = var.regulator_api_url
      }
      env {
        name = "MDP_REGULATOR_API_KEY"
        value_source {
          secret_key_ref {
            secret  = var.regulator_api_key_secret_id
            version = "latest"
          }
        }
      }

      startup_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 2
        failure_threshold = 30
      }

      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds = 15
      }
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  project  = var.project_id
  location = google_cloud_run_v2_service.reporter.location
  name     = google_cloud_run_v2_service.reporter.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# Pub/Sub mints the OIDC tokens of the invoker account.
resource "google_service_account_iam_member" "pubsub_mints_invoker_tokens" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.pubsub_service_agent}"
}

resource "google_pubsub_subscription" "push" {
  project = var.project_id
  name    = "mdp-regulatory-events-to-reporter"
  topic   = var.regulatory_topic_id
  labels  = var.labels
  # The reporter answers only after the ledger holds the outcome, retries included (see timeout above).
  ack_deadline_seconds       = 180
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.reporter.uri}${var.push_path}"

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = local.audience
    }
  }

  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = 10
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "300s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker, google_service_account_iam_member.pubsub_mints_invoker_tokens]
}

# Dead-letter forwarding acknowledges on the source subscription as the Pub/Sub service agent.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.pubsub_service_agent}"
}
