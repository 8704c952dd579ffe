# Plan-level tests of modules/platform with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`). The whole environment is planned; the assertions cover what this module
# creates itself (APIs, audit logs, image repository) and its outputs. Each module below has its own tests.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }

  # IAM members are validated by the provider, so the accounts need well-formed generated values.
  mock_resource "google_service_account" {
    defaults = {
      email  = "mdp-mock@markets-int-12345.iam.gserviceaccount.com"
      member = "serviceAccount:mdp-mock@markets-int-12345.iam.gserviceaccount.com"
      name   = "projects/markets-int-12345/serviceAccounts/mdp-mock@markets-int-12345.iam.gserviceaccount.com"
      id     = "projects/markets-int-12345/serviceAccounts/mdp-mock@markets-int-12345.iam.gserviceaccount.com"
    }
  }
}

variables {
  environment        = "int"
  project_id         = "markets-int-12345"
  location           = "EU"
  region             = "europe-west1"
  secondary_region   = "europe-west4"
  firestore_location = "eur3"
  bucket_names = {
    landing  = "markets-int-12345-landing"
    staging  = "markets-int-12345-staging"
    failed   = "markets-int-12345-failed"
    archive  = "markets-int-12345-archive"
    extracts = "markets-int-12345-extracts"
  }
  watch_subscription = "markets-int-landing-events-watch"
  on_call_emails     = ["markets-data-oncall-int@bank.example"]
  streams = {
    rfq = { topic = "mdp-rfq-events", dead_letter_topic = "mdp-rfq-events-dead-letter", subscription = "mdp-rfq-events-warehouse" }
  }
  reporter_image           = "europe-west1-docker.pkg.dev/markets-int-12345/mdp/mdp-reporter@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  regulator_api_url        = "https://regulator-sandbox.example.invalid/v1"
  reporter_min_instances   = 0
  archive_retention_locked = false
}

run "environment" {
  command = plan

  assert {
    condition = toset(keys(google_project_service.this)) == toset([
      "artifactregistry.googleapis.com", "bigquery.googleapis.com", "cloudresourcemanager.googleapis.com", "firestore.googleapis.com",
      "iam.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com", "pubsub.googleapis.com", "run.googleapis.com", "secretmanager.googleapis.com", "storage.googleapis.com",
    ])
    error_message = "Unexpected set of enabled APIs."
  }

  assert {
    condition     = alltrue([for service in values(google_project_service.this) : service.disable_on_destroy == false])
    error_message = "Destroying the environment must not disable APIs other systems in the project may use."
  }

  # The buckets skip legacy access logs (CKV_GCP_62) because of these audit logs.
  assert {
    condition = (
      google_project_iam_audit_config.all_services.service == "allServices" &&
      toset([for config in google_project_iam_audit_config.all_services.audit_log_config : config.log_type]) == toset(["ADMIN_READ", "DATA_READ", "DATA_WRITE"]) &&
      alltrue([for config in google_project_iam_audit_config.all_services.audit_log_config : length(coalesce(config.exempted_members, [])) == 0])
    )
    error_message = "Data access must be logged (ADMIN_READ, DATA_READ, DATA_WRITE) for all services, with no exempted members."
  }

  assert {
    condition = (
      google_artifact_registry_repository.images.format == "DOCKER" &&
      google_artifact_registry_repository.images.location == var.region &&
      google_artifact_registry_repository.images.docker_config[0].immutable_tags == true
    )
    error_message = "The image repository is a Docker repository in var.region with immutable tags."
  }

  assert {
    condition     = output.image_repository == "europe-west1-docker.pkg.dev/markets-int-12345/mdp"
    error_message = "image_repository must be <region>-docker.pkg.dev/<project>/mdp."
  }

  assert {
    condition     = output.bucket_names == var.bucket_names && output.watch_subscription == var.watch_subscription
    error_message = "The buckets and the watch subscription must be named as the settings profile says."
  }

  assert {
    condition     = output.reporter_push_audience == "mdp-reporter:markets-int-12345:pubsub-push"
    error_message = "The push audience is mdp-reporter:<project>:pubsub-push."
  }

  assert {
    condition     = toset(keys(output.service_accounts)) == toset(["orchestrator", "bridge", "watcher", "stream-loader", "reporter"]) && toset(keys(output.kubernetes_service_accounts)) == toset(["mdp-orchestrator", "mdp-bridge", "mdp-watcher"])
    error_message = "Unexpected workload accounts or Kubernetes service accounts."
  }
}

run "environment_is_int_or_prod" {
  command = plan

  variables {
    environment = "staging"
  }

  expect_failures = [var.environment]
}
