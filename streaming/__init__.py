"""Streaming lane of the Markets Data Pipeline: Kafka to Pub/Sub bridge and stream landing in the warehouse."""

from streaming.bridge import Bridge, BridgeReport, run_bridge
from streaming.exceptions import StreamingError
from streaming.load import LoadReport, StreamLoader
from streaming.offsets import OffsetTracker
from streaming.settings import BridgeSettings, LoadSettings
from streaming.spec import StreamSpec, find_stream_spec, load_stream_specs

__all__ = [
    "Bridge",
    "BridgeReport",
    "BridgeSettings",
    "LoadReport",
    "LoadSettings",
    "OffsetTracker",
    "StreamLoader",
    "StreamSpec",
    "StreamingError",
    "find_stream_spec",
    "load_stream_specs",
    "run_bridge",
]
