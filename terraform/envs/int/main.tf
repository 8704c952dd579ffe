# The int environment: same code as prod, its own project; what is applied here first is what prod gets.
#
# Project, location, bucket names and the watch subscription come from config/environments/int.yaml, the
# settings the workloads read, and the streams from their specs in source_specs/streaming/, so the resources
# and the settings cannot drift apart.

locals {
  repo_root    = "${path.module}/../../.."
  config       = yamldecode(file("${local.repo_root}/config/environments/int.yaml"))
  stream_specs = [for file in fileset("${local.repo_root}/source_specs/streaming", "*.yaml") : yamldecode(file("${local.repo_root}/source_specs/streaming/${file}"))]

  project_id = local.config.project
  region     = "europe-west1"
}

module "platform" {
  source = "../../modules/platform"

  environment        = "int"
  project_id         = local.project_id
  location           = local.config.location
  region             = local.region
  secondary_region   = "europe-west4"
  firestore_location = "eur3"
  bucket_names       = local.config.buckets
  watch_subscription = local.config.watch.subscription
  streams            = { for spec in local.stream_specs : spec.name => spec.pubsub }
  on_call_emails     = ["markets-data-oncall-int@bank.example"]

  reporter_image         = var.reporter_image
  regulator_api_url      = "https://regulator-sandbox.example.invalid/v1"
  reporter_min_instances = 0
  # int stays unlocked: its archive is test data, and a locked policy would keep the bucket for 7 years.
  archive_retention_locked = false
}
