"""Vendor delivery of the daily extract."""

__all__: list[str] = []
