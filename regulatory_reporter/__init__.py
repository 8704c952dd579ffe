"""Regulatory lane of the Markets Data Pipeline: submits each reportable event to the regulator exactly once."""

__all__: list[str] = []
