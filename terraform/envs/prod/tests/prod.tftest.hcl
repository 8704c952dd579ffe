# Plans the whole prod root with a mocked google provider: no credentials, no state, no API calls
# (`tofu test` here, or `make tf-check`). A plan fails here on anything the provider rejects before calling
# Google (argument formats, IAM member syntax), and on values the roots read from the settings profile and the
# stream specs that no longer fit the modules.
#
# Assertions in a test see only this root's outputs, not the resources inside module.platform; what each module
# creates is tested in terraform/modules/<module>/tests.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }

  # IAM members are validated by the provider, so the accounts need well-formed generated values.
  mock_resource "google_service_account" {
    defaults = {
      email  = "mdp-mock@markets-prod-12345.iam.gserviceaccount.com"
      member = "serviceAccount:mdp-mock@markets-prod-12345.iam.gserviceaccount.com"
      name   = "projects/markets-prod-12345/serviceAccounts/mdp-mock@markets-prod-12345.iam.gserviceaccount.com"
      id     = "projects/markets-prod-12345/serviceAccounts/mdp-mock@markets-prod-12345.iam.gserviceaccount.com"
    }
  }
}

variables {
  reporter_image = "europe-west1-docker.pkg.dev/markets-prod-12345/mdp/mdp-reporter@sha256:0000000000000000000000000000000000000000000000000000000000000000"

  # What the root reads, read again here (paths relative to terraform/envs/prod).
  settings = yamldecode(file("../../../config/environments/prod.yaml"))
  stream_names = toset([
    for spec in fileset("../../../source_specs/streaming", "*.yaml") : yamldecode(file("../../../source_specs/streaming/${spec}")).name
  ])
}

run "plan" {
  command = plan

  assert {
    condition     = output.bucket_names == var.settings.buckets
    error_message = "The buckets must be named as config/environments/prod.yaml says."
  }

  assert {
    condition     = output.watch_subscription == var.settings.watch.subscription
    error_message = "The watch subscription must be named as config/environments/prod.yaml says."
  }

  assert {
    condition     = length(var.stream_names) > 0 && toset(keys(output.stream_topic_ids)) == var.stream_names
    error_message = "Every stream spec in source_specs/streaming must get its topic, and no other stream."
  }

  assert {
    condition     = output.image_repository == "europe-west1-docker.pkg.dev/${var.settings.project}/mdp"
    error_message = "The image repository must be europe-west1-docker.pkg.dev/<project>/mdp."
  }

  assert {
    condition     = toset(keys(output.kubernetes_service_accounts)) == toset(["mdp-orchestrator", "mdp-bridge", "mdp-watcher"])
    error_message = "Workload Identity must bind the Kubernetes service accounts of orchestrator/k8s/base/serviceaccounts.yaml."
  }
}
