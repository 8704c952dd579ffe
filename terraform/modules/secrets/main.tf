# Secret containers only. Values are added out of band (`gcloud secrets versions add ...`, see
# terraform/README.md), so no secret value ever passes through Terraform state or this repository.

locals {
  secrets = {
    regulator-api-key = "API key the regulatory reporter sends to the regulator."
    vendor-sftp-key   = "Private SSH key `mdp deliver` authenticates with on the surveillance vendor's SFTP server."
  }
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project = var.project_id
  # Names as in config/environments/<env>.yaml and docs/vendor_delivery.md.
  secret_id = each.key
  labels    = merge(var.labels, { secret = each.key })
  annotations = {
    description = each.value
  }

  replication {
    user_managed {
      dynamic "replicas" {
        for_each = var.replica_locations
        content {
          location = replicas.value

          dynamic "customer_managed_encryption" {
            for_each = contains(keys(var.kms_key_names), replicas.value) ? [var.kms_key_names[replicas.value]] : []
            content {
              kms_key_name = customer_managed_encryption.value
            }
          }
        }
      }
    }
  }
}
