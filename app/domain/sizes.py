"""Byte units: settings are given in MiB (`*_mb` fields) and become bytes with `mb * MiB`."""

from __future__ import annotations

MiB = 1024 * 1024
