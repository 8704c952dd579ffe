"""Deterministic, realistic test data for every source spec: data files, control files and faults."""

from orchestrator.generator.exceptions import GeneratorError
from orchestrator.generator.faults import Faults
from orchestrator.generator.service import GeneratedFile, generate_source_file
from orchestrator.generator.unmatched import write_unmatched_file

__all__ = [
    "Faults",
    "GeneratedFile",
    "GeneratorError",
    "generate_source_file",
    "write_unmatched_file",
]
