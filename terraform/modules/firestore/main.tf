# The regulatory ledger: one document per event_id, created with create-if-absent before the regulator is
# called, which is what makes submissions exactly once (BigQuery has no enforced unique constraint).
resource "google_firestore_database" "ledger" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.location_id
  type        = "FIRESTORE_NATIVE"
  # Transactions lock documents, so two instances handling the same event serialise on its ledger entry.
  concurrency_mode = "PESSIMISTIC"
  # The ledger is compliance evidence: 7 days of point-in-time recovery, and no deletion from Terraform.
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  dynamic "cmek_config" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = cmek_config.value
    }
  }
}
