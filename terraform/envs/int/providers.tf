provider "google" {
  project = local.project_id
  region  = local.region
  # Quota and billing of API calls go to this project, not to the caller's.
  user_project_override = true
  billing_project       = local.project_id
}
