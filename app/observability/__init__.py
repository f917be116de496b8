"""Logging and metrics, below every other layer."""
