# One service account per workload, each with predefined roles granted on the resources it touches (bucket,
# dataset, table, topic, subscription, secret). Only two grants are project-wide, because BigQuery and Firestore
# have no narrower scope for them: roles/bigquery.jobUser (run query and load jobs) and roles/datastore.user
# (Firestore data). No basic roles (owner, editor, viewer) anywhere.
#
# The GKE workloads (orchestrator, bridge, watcher) run as Kubernetes service accounts bound to these accounts
# through Workload Identity; the names must match orchestrator/k8s/base/serviceaccounts.yaml.

locals {
  workloads = {
    orchestrator = {
      display = "MDP orchestrator"
      purpose = "Hourly cycle (mdp run), daily extract and delivery, runbook commands (GKE CronJobs)."
      ksa     = "mdp-orchestrator"
    }
    bridge = {
      display = "MDP Kafka to Pub/Sub bridge"
      purpose = "mdp bridge run: publishes Kafka messages to the stream topics (GKE Deployment)."
      ksa     = "mdp-bridge"
    }
    watcher = {
      display = "MDP landing watcher"
      purpose = "mdp watch: validates each object announced by the landing-bucket notifications (GKE Deployment)."
      ksa     = "mdp-watcher"
    }
    stream-loader = {
      display = "MDP stream loader"
      purpose = "Identity the Pub/Sub BigQuery subscriptions write raw.<stream>_stream with."
      ksa     = null
    }
    reporter = {
      display = "MDP regulatory reporter"
      purpose = "Runtime identity of the Cloud Run regulatory reporter."
      ksa     = null
    }
  }

  gke_workloads = { for name, workload in local.workloads : name => workload if workload.ksa != null }

  # Bucket roles per workload: objectAdmin where files are moved or replaced, objectCreator + objectViewer where
  # they are only added and read (the archive's retention policy forbids deletes anyway).
  bucket_grants = {
    "orchestrator/landing"  = { workload = "orchestrator", bucket = "landing", role = "roles/storage.objectAdmin" }
    "orchestrator/staging"  = { workload = "orchestrator", bucket = "staging", role = "roles/storage.objectAdmin" }
    "orchestrator/failed"   = { workload = "orchestrator", bucket = "failed", role = "roles/storage.objectAdmin" }
    "orchestrator/extracts" = { workload = "orchestrator", bucket = "extracts", role = "roles/storage.objectAdmin" }
    "orchestrator/archive+" = { workload = "orchestrator", bucket = "archive", role = "roles/storage.objectCreator" }
    "orchestrator/archive"  = { workload = "orchestrator", bucket = "archive", role = "roles/storage.objectViewer" }
    "watcher/landing"       = { workload = "watcher", bucket = "landing", role = "roles/storage.objectAdmin" }
    "watcher/staging"       = { workload = "watcher", bucket = "staging", role = "roles/storage.objectAdmin" }
    "watcher/failed"        = { workload = "watcher", bucket = "failed", role = "roles/storage.objectAdmin" }
    "watcher/archive+"      = { workload = "watcher", bucket = "archive", role = "roles/storage.objectCreator" }
    "watcher/archive"       = { workload = "watcher", bucket = "archive", role = "roles/storage.objectViewer" }
  }

  # Dataset roles: dbt (orchestrator) builds every layer; the watcher loads raw and records control rows; the
  # reporter mirrors its ledger into control and reads reference data from dimensions.
  dataset_grants = merge(
    { for dataset in keys(var.dataset_ids) : "orchestrator/${dataset}" => { workload = "orchestrator", dataset = dataset, role = "roles/bigquery.dataEditor" } },
    {
      "watcher/raw"         = { workload = "watcher", dataset = "raw", role = "roles/bigquery.dataEditor" }
      "watcher/control"     = { workload = "watcher", dataset = "control", role = "roles/bigquery.dataEditor" }
      "reporter/control"    = { workload = "reporter", dataset = "control", role = "roles/bigquery.dataEditor" }
      "reporter/dimensions" = { workload = "reporter", dataset = "dimensions", role = "roles/bigquery.dataViewer" }
      "reporter/consumer"   = { workload = "reporter", dataset = "consumer", role = "roles/bigquery.dataViewer" }
    },
  )

  project_grants = {
    "orchestrator/jobs" = { workload = "orchestrator", role = "roles/bigquery.jobUser" }
    "watcher/jobs"      = { workload = "watcher", role = "roles/bigquery.jobUser" }
    "reporter/jobs"     = { workload = "reporter", role = "roles/bigquery.jobUser" }
    "reporter/ledger"   = { workload = "reporter", role = "roles/datastore.user" }
    # `mdp dlq` and `mdp reporter status` read the ledger.
    "orchestrator/ledger" = { workload = "orchestrator", role = "roles/datastore.viewer" }
  }

  topic_grants = merge(
    { for stream, topic in var.stream_topic_ids : "bridge/${stream}" => { workload = "bridge", topic = topic, role = "roles/pubsub.publisher" } },
    { for stream, topic in var.stream_dead_letter_topic_ids : "bridge/${stream}-dead-letter" => { workload = "bridge", topic = topic, role = "roles/pubsub.publisher" } },
    # The bridge checks at start that its topics exist (publisher alone cannot read a topic).
    { for stream, topic in var.stream_topic_ids : "bridge/${stream}:view" => { workload = "bridge", topic = topic, role = "roles/pubsub.viewer" } },
    {
      "reporter/dead-letter" = { workload = "reporter", topic = var.regulatory_dead_letter_topic_id, role = "roles/pubsub.publisher" }
      # `mdp dlq replay` republishes a dead-lettered event through the same idempotent path.
      "orchestrator/regulatory" = { workload = "orchestrator", topic = var.regulatory_topic_id, role = "roles/pubsub.publisher" }
    },
  )

  subscription_grants = merge(
    {
      "watcher/landing" = { workload = "watcher", subscription = var.watch_subscription_id, role = "roles/pubsub.subscriber" }
      # `mdp watch` tells "subscription not found" from "no permission" at start.
      "watcher/landing:view" = { workload = "watcher", subscription = var.watch_subscription_id, role = "roles/pubsub.viewer" }
    },
    { for key, subscription in var.dead_letter_subscription_ids : "orchestrator/${key}" => { workload = "orchestrator", subscription = subscription, role = "roles/pubsub.subscriber" } },
  )

  secret_grants = {
    "reporter/regulator-api-key"   = { workload = "reporter", secret = "regulator-api-key" }
    "orchestrator/vendor-sftp-key" = { workload = "orchestrator", secret = "vendor-sftp-key" }
  }
}

resource "google_service_account" "workload" {
  for_each = local.workloads

  project      = var.project_id
  account_id   = "mdp-${each.key}"
  display_name = each.value.display
  description  = each.value.purpose
}

# Workload Identity: the Kubernetes service account <namespace>/<ksa> may act as the Google service account.
resource "google_service_account_iam_member" "workload_identity" {
  for_each = local.gke_workloads

  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.k8s_namespace}/${each.value.ksa}]"
}

# BigQuery subscriptions with a service_account_email: the Pub/Sub service agent obtains that account's tokens.
resource "google_service_account_iam_member" "pubsub_acts_as_stream_loader" {
  service_account_id = google_service_account.workload["stream-loader"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.pubsub_service_agent}"
}

resource "google_storage_bucket_iam_member" "workload" {
  for_each = local.bucket_grants

  bucket = var.bucket_names[each.value.bucket]
  role   = each.value.role
  member = google_service_account.workload[each.value.workload].member
}

resource "google_bigquery_dataset_iam_member" "workload" {
  for_each = local.dataset_grants

  project    = var.project_id
  dataset_id = var.dataset_ids[each.value.dataset]
  role       = each.value.role
  member     = google_service_account.workload[each.value.workload].member
}

# The stream loader may write only its tables, not the rest of raw.
resource "google_bigquery_table_iam_member" "stream_loader" {
  for_each = var.stream_tables

  project    = var.project_id
  dataset_id = each.value.dataset_id
  table_id   = each.value.table_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.workload["stream-loader"].member
}

resource "google_project_iam_member" "workload" {
  for_each = local.project_grants

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.workload[each.value.workload].member
}

resource "google_pubsub_topic_iam_member" "workload" {
  for_each = local.topic_grants

  project = var.project_id
  topic   = each.value.topic
  role    = each.value.role
  member  = google_service_account.workload[each.value.workload].member
}

resource "google_pubsub_subscription_iam_member" "workload" {
  for_each = local.subscription_grants

  project      = var.project_id
  subscription = each.value.subscription
  role         = each.value.role
  member       = google_service_account.workload[each.value.workload].member
}

resource "google_secret_manager_secret_iam_member" "workload" {
  for_each = local.secret_grants

  project   = var.project_id
  secret_id = var.secret_ids[each.value.secret]
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.workload[each.value.workload].member
}
