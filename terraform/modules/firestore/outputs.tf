output "database" {
  description = "Name of the ledger database."
  value       = google_firestore_database.ledger.name
}
