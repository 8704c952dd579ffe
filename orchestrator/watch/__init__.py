"""Event-driven pickup of landed files."""

__all__: list[str] = []
