"""The batch lane's services: scan landing, ingest files, run a cycle."""
