# The prod environment: the same modules and images that passed int, with prod's project and sizes.
#
# Project, location, bucket names and the watch subscription come from config/environments/prod.yaml, the
# settings the workloads read, and the streams from their specs in source_specs/streaming/.

locals {
  repo_root    = "${path.module}/../../.."
  config       = yamldecode(file("${local.repo_root}/config/environments/prod.yaml"))
  stream_specs = [for file in fileset("${local.repo_root}/source_specs/streaming", "*.yaml") : yamldecode(file("${local.repo_root}/source_specs/streaming/${file}"))]

  project_id = local.config.project
  region     = "europe-west1"
}

module "platform" {
  source = "../../modules/platform"

  environment        = "prod"
  project_id         = local.project_id
  location           = local.config.location
  region             = local.region
  secondary_region   = "europe-west4"
  firestore_location = "eur3"
  bucket_names       = local.config.buckets
  watch_subscription = local.config.watch.subscription
  streams            = { for spec in local.stream_specs : spec.name => spec.pubsub }
  on_call_emails     = ["markets-data-oncall@bank.example"]

  reporter_image         = var.reporter_image
  regulator_api_url      = "https://regulator.example.invalid/v1"
  reporter_min_instances = 2
  # Locked: archived source files are the record regulators may ask for (7 years, write once). Locking is
  # irreversible; terraform/README.md says how to apply it.
  archive_retention_locked = true
}
