"""Glider: build-artifact storage on S3 with binary deltas and fast bucket statistics."""

__version__ = "0.1.0"
TOOL_NAME = f"glider/{__version__}"
