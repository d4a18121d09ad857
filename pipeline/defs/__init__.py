"""Dagster definitions, one module per area; pipeline/definitions.py merges them."""
