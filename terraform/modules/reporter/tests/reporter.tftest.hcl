# Plan-level tests of modules/reporter with a mocked google provider: no credentials, no API calls
# (`tofu test` here, or `make tf-check`).

mock_provider "google" {
  # IAM members are validated by the provider, so the accounts need well-formed generated values.
  mock_resource "google_service_account" {
    defaults = {
      email  = "mdp-reporter-invoker@markets-int-12345.iam.gserviceaccount.com"
      member = "serviceAccount:mdp-reporter-invoker@markets-int-12345.iam.gserviceaccount.com"
      name   = "projects/markets-int-12345/serviceAccounts/mdp-reporter-invoker@markets-int-12345.iam.gserviceaccount.com"
      id     = "projects/markets-int-12345/serviceAccounts/mdp-reporter-invoker@markets-int-12345.iam.gserviceaccount.com"
    }
  }

  mock_resource "google_cloud_run_v2_service" {
    defaults = {
      uri = "https://mdp-reporter-abcdefghij-ew.a.run.app"
    }
  }
}

variables {
  project_id                  = "markets-int-12345"
  region                      = "europe-west1"
  environment                 = "int"
  image                       = "europe-west1-docker.pkg.dev/markets-int-12345/mdp/mdp-reporter@sha256:0000000000000000000000000000000000000000000000000000000000000000"
  service_account             = "mdp-reporter@markets-int-12345.iam.gserviceaccount.com"
  regulatory_topic_id         = "projects/markets-int-12345/topics/mdp-regulatory-events"
  dead_letter_topic_id        = "projects/markets-int-12345/topics/mdp-regulatory-events-dead-letter"
  pubsub_service_agent        = "service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
  regulator_api_key_secret_id = "regulator-api-key"
  regulator_api_url           = "https://regulator-sandbox.example.invalid/v1"
  primitive_roles             = ["roles/owner", "roles/editor", "roles/viewer"]
}

run "service" {
  command = plan

  assert {
    condition     = google_cloud_run_v2_service.reporter.ingress == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    error_message = "The reporter must accept internal traffic only."
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].service_account == var.service_account
    error_message = "The reporter must run as var.service_account."
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].containers[0].image == var.image
    error_message = "The reporter must run var.image."
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].max_instance_request_concurrency == 40
    error_message = "One instance serves 40 requests at once."
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].scaling[0].min_instance_count == 1 && google_cloud_run_v2_service.reporter.template[0].scaling[0].max_instance_count == 10
    error_message = "By default 1 to 10 instances."
  }
}

run "cpus_and_workers_default" {
  command = plan

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].containers[0].resources[0].limits == tomap({ cpu = "2", memory = "1Gi" })
    error_message = "By default an instance has 2 vCPUs and 1 GiB."
  }

  assert {
    condition     = one([for env in google_cloud_run_v2_service.reporter.template[0].containers[0].env : env.value if env.name == "MDP_REPORTER_WORKERS"]) == "2"
    error_message = "MDP_REPORTER_WORKERS must equal the vCPUs (one server process per vCPU)."
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].containers[0].resources[0].cpu_idle == false
    error_message = "CPU must stay allocated between requests (the reference cache refreshes in the background)."
  }
}

run "cpus_and_workers_follow_var_cpus" {
  command = plan

  variables {
    cpus          = 4
    min_instances = 2
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].containers[0].resources[0].limits["cpu"] == "4"
    error_message = "The CPU limit must follow var.cpus."
  }

  assert {
    condition     = one([for env in google_cloud_run_v2_service.reporter.template[0].containers[0].env : env.value if env.name == "MDP_REPORTER_WORKERS"]) == "4"
    error_message = "MDP_REPORTER_WORKERS must follow var.cpus."
  }

  assert {
    condition     = google_cloud_run_v2_service.reporter.template[0].scaling[0].min_instance_count == 2
    error_message = "The minimum instance count must follow var.min_instances."
  }
}

run "environment" {
  command = plan

  assert {
    condition = toset([for env in google_cloud_run_v2_service.reporter.template[0].containers[0].env : env.name]) == toset([
      "MDP_ENV", "MDP_REPORTER_WORKERS", "MDP_REPORTER_AUDIENCE", "MDP_REPORTER_PUSH_SERVICE_ACCOUNT", "MDP_REGULATOR_URL", "MDP_REGULATOR_API_KEY",
    ])
    error_message = "The reporter gets MDP_ENV, MDP_REPORTER_WORKERS, MDP_REPORTER_AUDIENCE, MDP_REPORTER_PUSH_SERVICE_ACCOUNT, MDP_REGULATOR_URL and MDP_REGULATOR_API_KEY."
  }

  assert {
    condition = { for env in google_cloud_run_v2_service.reporter.template[0].containers[0].env : env.name => env.value if env.name != "MDP_REGULATOR_API_KEY" } == {
      MDP_ENV                           = "int"
      MDP_REPORTER_WORKERS              = "2"
      MDP_REPORTER_AUDIENCE             = "mdp-reporter:markets-int-12345:pubsub-push"
      MDP_REPORTER_PUSH_SERVICE_ACCOUNT = google_service_account.invoker.email
      MDP_REGULATOR_URL                 = "https://regulator-sandbox.example.invalid/v1"
    }
    error_message = "Unexpected values of the reporter's environment variables."
  }

  # The API key comes from Secret Manager, never as a plain value in the service (or in Terraform state).
  assert {
    condition = one([
      for env in google_cloud_run_v2_service.reporter.template[0].containers[0].env :
      env.value == null && env.value_source[0].secret_key_ref[0].secret == var.regulator_api_key_secret_id && env.value_source[0].secret_key_ref[0].version == "latest"
      if env.name == "MDP_REGULATOR_API_KEY"
    ])
    error_message = "MDP_REGULATOR_API_KEY must come from the latest version of the regulator API key secret."
  }
}

run "push_subscription" {
  command = plan

  assert {
    condition     = google_pubsub_subscription.push.topic == var.regulatory_topic_id
    error_message = "The push subscription reads the regulatory topic."
  }

  assert {
    condition     = google_pubsub_subscription.push.push_config[0].push_endpoint == "${google_cloud_run_v2_service.reporter.uri}/push"
    error_message = "Pushes go to the service's /push."
  }

  assert {
    condition = (
      google_pubsub_subscription.push.push_config[0].oidc_token[0].service_account_email == google_service_account.invoker.email &&
      google_pubsub_subscription.push.push_config[0].oidc_token[0].audience == "mdp-reporter:markets-int-12345:pubsub-push" &&
      google_cloud_run_v2_service.reporter.custom_audiences == tolist(["mdp-reporter:markets-int-12345:pubsub-push"])
    )
    error_message = "Pushes carry an OIDC token of the invoker account for the service's custom audience."
  }

  assert {
    condition     = google_pubsub_subscription.push.dead_letter_policy[0].dead_letter_topic == var.dead_letter_topic_id && google_pubsub_subscription.push.dead_letter_policy[0].max_delivery_attempts == 10
    error_message = "The push subscription dead-letters to var.dead_letter_topic_id after 10 attempts."
  }

  assert {
    condition     = google_pubsub_subscription.push.ack_deadline_seconds > 120 && google_cloud_run_v2_service.reporter.template[0].timeout == "120s"
    error_message = "The ack deadline must outlast the service's 120 s request timeout."
  }

  assert {
    condition     = one(google_pubsub_subscription.push.expiration_policy).ttl == ""
    error_message = "The push subscription must never expire."
  }
}

run "grants" {
  command = plan

  assert {
    condition     = google_cloud_run_v2_service_iam_member.invoker.role == "roles/run.invoker" && google_cloud_run_v2_service_iam_member.invoker.member == "serviceAccount:${google_service_account.invoker.email}"
    error_message = "Only the invoker account gets run.invoker on the service."
  }

  assert {
    condition     = google_service_account_iam_member.pubsub_mints_invoker_tokens.member == "serviceAccount:${var.pubsub_service_agent}" && google_service_account_iam_member.pubsub_mints_invoker_tokens.role == "roles/iam.serviceAccountTokenCreator"
    error_message = "The Pub/Sub service agent must mint the invoker's tokens."
  }

  assert {
    condition = alltrue([
      for member in [google_cloud_run_v2_service_iam_member.invoker, google_service_account_iam_member.pubsub_mints_invoker_tokens, google_pubsub_subscription_iam_member.dead_letter_subscriber] :
      !contains(var.primitive_roles, member.role) && !contains(["allUsers", "allAuthenticatedUsers"], member.member)
    ])
    error_message = "No grant may use a basic role (owner, editor, viewer) or a public member."
  }
}
