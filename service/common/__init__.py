"""Neutral ground below the domain packages: shared field types and bulk-import parsing."""
