"""Shared vocabulary: keys, deltaspaces, wire-format metadata, hashing. No I/O beyond local files."""
