# Everything one environment of the Markets Data Pipeline needs, composed from the modules beside this one.
# terraform/envs/int and terraform/envs/prod call it with their own values, so the two environments differ only
# in those values.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels               = merge(var.labels, { system = "markets-data-pipeline", environment = var.environment })
  pubsub_service_agent = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  regions              = [var.region, var.secondary_region]

  services = [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "this" {
  for_each = toset(local.services)

  project = var.project_id
  service = each.value
  # Other systems in the project may use the same APIs.
  disable_on_destroy = false
}

# Data access is logged for every service (who read or wrote which object, table or secret); this is what the
# buckets rely on instead of legacy usage logs.
resource "google_project_iam_audit_config" "all_services" {
  project = var.project_id
  service = "allServices"

  audit_log_config {
    log_type = "ADMIN_READ"
  }
  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

# Images of this environment. Release images are pushed to int's repository, and promotion copies the same
# digests into prod's (docs/environment_promotion.md), so each environment pulls only from its own project.
resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:CMEK is opt-in through var.kms_key_name; the images hold no data, only code.
  project       = var.project_id
  location      = var.region
  repository_id = "mdp"
  description   = "Images of the Markets Data Pipeline: mdp-orchestrator, mdp-bridge, mdp-reporter."
  format        = "DOCKER"
  labels        = local.labels
  kms_key_name  = var.kms_key_name

  docker_config {
    # A digest that passed int is the digest prod runs: tags never move.
    immutable_tags = true
  }

  cleanup_policies {
    id     = "keep-recent-releases"
    action = "KEEP"
    most_recent_versions {
      keep_count = 30
    }
  }

  depends_on = [google_project_service.this]
}

module "buckets" {
  source = "../buckets"

  project_id               = var.project_id
  names                    = var.bucket_names
  location                 = var.location
  kms_key_name             = var.kms_key_name
  archive_retention_locked = var.archive_retention_locked
  labels                   = local.labels

  depends_on = [google_project_service.this]
}

module "bigquery" {
  source = "../bigquery"

  project_id   = var.project_id
  location     = var.location
  kms_key_name = var.kms_key_name
  streams      = keys(var.streams)
  labels       = local.labels

  depends_on = [google_project_service.this]
}

module "pubsub" {
  source = "../pubsub"

  project_id                    = var.project_id
  streams                       = var.streams
  stream_table_ids              = module.bigquery.stream_table_ids
  stream_writer_service_account = module.iam.stream_loader_email
  pubsub_service_agent          = local.pubsub_service_agent
  persistence_regions           = local.regions
  kms_key_name                  = var.kms_key_name
  labels                        = local.labels

  depends_on = [google_project_service.this]
}

module "notifications" {
  source = "../notifications"

  project_id           = var.project_id
  subscription_name    = var.watch_subscription
  topic_name           = trimsuffix(var.watch_subscription, "-watch")
  landing_bucket       = module.buckets.names["landing"]
  pubsub_service_agent = local.pubsub_service_agent
  persistence_regions  = local.regions
  kms_key_name         = var.kms_key_name
  labels               = local.labels

  depends_on = [google_project_service.this]
}

module "firestore" {
  source = "../firestore"

  project_id   = var.project_id
  location_id  = var.firestore_location
  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.this]
}

module "secrets" {
  source = "../secrets"

  project_id        = var.project_id
  replica_locations = local.regions
  labels            = local.labels

  depends_on = [google_project_service.this]
}

module "iam" {
  source = "../iam"

  project_id                      = var.project_id
  bucket_names                    = module.buckets.names
  dataset_ids                     = module.bigquery.dataset_ids
  stream_tables                   = module.bigquery.stream_tables
  stream_topic_ids                = module.pubsub.stream_topic_ids
  stream_dead_letter_topic_ids    = module.pubsub.stream_dead_letter_topic_ids
  regulatory_topic_id             = module.pubsub.regulatory_topic_id
  regulatory_dead_letter_topic_id = module.pubsub.regulatory_dead_letter_topic_id
  dead_letter_subscription_ids    = module.pubsub.dead_letter_subscription_ids
  watch_subscription_id           = module.notifications.watch_subscription_id
  secret_ids                      = module.secrets.secret_ids
  pubsub_service_agent            = local.pubsub_service_agent

  depends_on = [google_project_service.this]
}

module "reporter" {
  source = "../reporter"

  project_id                  = var.project_id
  region                      = var.region
  environment                 = var.environment
  image                       = var.reporter_image
  service_account             = module.iam.emails["reporter"]
  regulatory_topic_id         = module.pubsub.regulatory_topic_id
  dead_letter_topic_id        = module.pubsub.regulatory_dead_letter_topic_id
  pubsub_service_agent        = local.pubsub_service_agent
  regulator_api_key_secret_id = module.secrets.secret_ids["regulator-api-key"]
  regulator_api_url           = var.regulator_api_url
  min_instances               = var.reporter_min_instances
  labels                      = local.labels

  # The reporter's account must already read the API key secret when the first revision starts.
  depends_on = [google_project_service.this, module.iam]
}

module "monitoring" {
  source = "../monitoring"

  project_id                   = var.project_id
  environment                  = var.environment
  streams                      = var.streams
  regulatory_dead_letter_topic = module.pubsub.regulatory_dead_letter_topic_name
  regulatory_push_subscription = module.reporter.push_subscription_name
  on_call_emails               = var.on_call_emails

  depends_on = [google_project_service.this]
}
