"""Placeholder: filled in by the service issue."""
