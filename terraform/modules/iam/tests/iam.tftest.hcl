# Plan-level tests of modules/iam with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`).
#
# A mock gives every service account the same generated email, so these tests check each grant by its key
# (<workload>/<resource>), role and resource, not by the account's email.

mock_provider "google" {
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
  project_id = "markets-int-12345"
  bucket_names = {
    landing  = "markets-int-12345-landing"
    staging  = "markets-int-12345-staging"
    failed   = "markets-int-12345-failed"
    archive  = "markets-int-12345-archive"
    extracts = "markets-int-12345-extracts"
  }
  dataset_ids = {
    for name in ["raw", "staging", "curation", "consumer", "dimensions", "snapshots", "control", "main"] : name => name
  }
  stream_tables = {
    rfq    = { dataset_id = "raw", table_id = "rfq_stream" }
    quotes = { dataset_id = "raw", table_id = "quotes_stream" }
  }
  stream_topic_ids = {
    rfq    = "projects/markets-int-12345/topics/mdp-rfq-events"
    quotes = "projects/markets-int-12345/topics/mdp-quotes-events"
  }
  stream_dead_letter_topic_ids = {
    rfq    = "projects/markets-int-12345/topics/mdp-rfq-events-dead-letter"
    quotes = "projects/markets-int-12345/topics/mdp-quotes-events-dead-letter"
  }
  regulatory_topic_id             = "projects/markets-int-12345/topics/mdp-regulatory-events"
  regulatory_dead_letter_topic_id = "projects/markets-int-12345/topics/mdp-regulatory-events-dead-letter"
  dead_letter_subscription_ids = {
    "stream-rfq"    = "projects/markets-int-12345/subscriptions/mdp-rfq-events-dead-letter"
    "stream-quotes" = "projects/markets-int-12345/subscriptions/mdp-quotes-events-dead-letter"
    regulatory      = "projects/markets-int-12345/subscriptions/mdp-regulatory-events-dead-letter"
  }
  watch_subscription_id = "projects/markets-int-12345/subscriptions/markets-int-landing-events-watch"
  secret_ids = {
    regulator-api-key = "regulator-api-key"
    vendor-sftp-key   = "vendor-sftp-key"
  }
  pubsub_service_agent = "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
  primitive_roles      = ["roles/owner", "roles/editor", "roles/viewer"]
}

run "accounts" {
  command = plan

  assert {
    condition     = { for name, account in google_service_account.workload : name => account.account_id } == { orchestrator = "mdp-orchestrator", bridge = "mdp-bridge", watcher = "mdp-watcher", stream-loader = "mdp-stream-loader", reporter = "mdp-reporter" }
    error_message = "Expected one account per workload: mdp-orchestrator, mdp-bridge, mdp-watcher, mdp-stream-loader, mdp-reporter."
  }

  assert {
    condition = { for name, binding in google_service_account_iam_member.workload_identity : name => binding.member } == {
      orchestrator = "serviceAccount:markets-int-12345.svc.id.goog[mdp/mdp-orchestrator]"
      bridge       = "serviceAccount:markets-int-12345.svc.id.goog[mdp/mdp-bridge]"
      watcher      = "serviceAccount:markets-int-12345.svc.id.goog[mdp/mdp-watcher]"
    }
    error_message = "Only the GKE workloads get Workload Identity, as <project>.svc.id.goog[mdp/<ksa>]."
  }

  assert {
    condition     = alltrue([for binding in values(google_service_account_iam_member.workload_identity) : binding.role == "roles/iam.workloadIdentityUser"])
    error_message = "Workload Identity bindings use roles/iam.workloadIdentityUser."
  }
}

run "no_basic_or_public_grants" {
  command = plan

  assert {
    condition = alltrue([
      for member in concat(
        values(google_storage_bucket_iam_member.workload),
        values(google_bigquery_dataset_iam_member.workload),
        values(google_bigquery_table_iam_member.stream_loader),
        values(google_project_iam_member.workload),
        values(google_pubsub_topic_iam_member.workload),
        values(google_pubsub_subscription_iam_member.workload),
        values(google_secret_manager_secret_iam_member.workload),
        values(google_service_account_iam_member.workload_identity),
        [google_service_account_iam_member.pubsub_acts_as_stream_loader],
      ) : !contains(var.primitive_roles, member.role) && !contains(["allUsers", "allAuthenticatedUsers"], member.member)
    ])
    error_message = "No grant may use a basic role (owner, editor, viewer) or a public member (allUsers, allAuthenticatedUsers)."
  }

  assert {
    condition     = toset([for member in values(google_project_iam_member.workload) : member.role]) == toset(["roles/bigquery.jobUser", "roles/datastore.user", "roles/datastore.viewer"])
    error_message = "The only project-level roles are bigquery.jobUser, datastore.user and datastore.viewer; every other grant is on a resource."
  }
}

run "resource_grants" {
  command = plan

  # The archive is write-once: nobody may delete or overwrite an archived object.
  assert {
    condition = alltrue([
      for member in values(google_storage_bucket_iam_member.workload) :
      contains(["roles/storage.objectCreator", "roles/storage.objectViewer"], member.role) if member.bucket == var.bucket_names["archive"]
    ])
    error_message = "On the archive bucket only objectCreator and objectViewer may be granted."
  }

  # The stream loader writes its own tables and nothing else.
  assert {
    condition = (
      length([for key in keys(google_bigquery_dataset_iam_member.workload) : key if startswith(key, "stream-loader/")]) == 0 &&
      { for stream, member in google_bigquery_table_iam_member.stream_loader : stream => "${member.dataset_id}.${member.table_id}:${member.role}" } == {
        rfq    = "raw.rfq_stream:roles/bigquery.dataEditor"
        quotes = "raw.quotes_stream:roles/bigquery.dataEditor"
      }
    )
    error_message = "The stream loader may edit only raw.<stream>_stream, with no dataset-level grant."
  }

  assert {
    condition     = google_service_account_iam_member.pubsub_acts_as_stream_loader.member == "serviceAccount:${var.pubsub_service_agent}" && google_service_account_iam_member.pubsub_acts_as_stream_loader.role == "roles/iam.serviceAccountTokenCreator"
    error_message = "The Pub/Sub service agent must obtain the stream loader's tokens for the BigQuery subscriptions."
  }

  assert {
    condition = { for key, member in google_secret_manager_secret_iam_member.workload : key => "${member.secret_id}:${member.role}" } == {
      "reporter/regulator-api-key"   = "regulator-api-key:roles/secretmanager.secretAccessor"
      "orchestrator/vendor-sftp-key" = "vendor-sftp-key:roles/secretmanager.secretAccessor"
    }
    error_message = "Only the reporter reads the regulator API key and only the orchestrator the vendor SFTP key."
  }

  assert {
    condition = toset([
      for key, member in google_pubsub_topic_iam_member.workload : member.topic if startswith(key, "bridge/") && member.role == "roles/pubsub.publisher"
    ]) == toset(concat(values(var.stream_topic_ids), values(var.stream_dead_letter_topic_ids)))
    error_message = "The bridge publishes to every stream topic and every stream dead-letter topic."
  }

  assert {
    condition = toset([
      for key, member in google_pubsub_subscription_iam_member.workload : member.subscription if startswith(key, "orchestrator/") && member.role == "roles/pubsub.subscriber"
    ]) == toset(values(var.dead_letter_subscription_ids))
    error_message = "The orchestrator (mdp dlq) reads every dead-letter subscription."
  }
}
