"""Deterministic digests of the inputs behind an answer."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["inputs_digest"]


def inputs_digest(payload: dict[str, Any]) -> str:
    """``sha256`` hex of canonical JSON (sorted keys, no spaces, dates as ISO strings, floats
    by ``repr``): the same inputs give the same digest on every machine, forever."""
    blob = json.dumps(payload, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
