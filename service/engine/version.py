"""The engine's version, echoed in every answer; bump it whenever a number could change."""

__all__ = ["ENGINE_VERSION"]

ENGINE_VERSION = "2026.4.0"
