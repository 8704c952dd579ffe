"""Source specs: the YAML contract of every landed source."""

from orchestrator.specs.loader import check_specs, find_spec, load_specs
from orchestrator.specs.model import CANONICAL_TRADE_FIELDS, Column, Rule, SourceSpec, control_key_for, stem_of

__all__ = [
    "CANONICAL_TRADE_FIELDS",
    "Column",
    "Rule",
    "SourceSpec",
    "check_specs",
    "control_key_for",
    "find_spec",
    "load_specs",
    "stem_of",
]
