"""Batch lane of the Markets Data Pipeline: specs, validator, loader, cycle, extract."""

__version__ = "0.1.0"

__all__ = ["__version__"]
