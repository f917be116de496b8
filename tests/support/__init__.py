"""Test helpers shared by several test modules, one module per area."""
