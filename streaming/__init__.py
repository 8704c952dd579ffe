"""Streaming lane of the Markets Data Pipeline: Kafka to Pub/Sub bridge and stream landing in the warehouse."""

__all__: list[str] = []
