"""Versions of stored things, and a writer's claim about the version it changes.

A service answers each read with a version tag and refuses a change whose writer last read
another version (optimistic concurrency). How the writer states its claim (HTTP's
``If-Match``, say) is the edge's business: services receive a ``Precondition`` and ask it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol


def version_tag(revision: int | str) -> str:
    """The tag of one row's version: its revision counter, quoted like an HTTP entity tag."""
    return f'"{revision}"'


def collection_tag(members: Iterable[str]) -> str:
    """One tag for a whole collection: it changes when any member is added, changed or removed."""
    return version_tag(hashlib.sha256("|".join(members).encode()).hexdigest()[:20])


class Precondition(Protocol):
    """What a writer claims about the version it changes."""

    def check(self, current: str) -> None:
        """Return if the claim holds for the ``current`` tag; raise a domain error if not
        (``PreconditionRequired`` when no version was named, ``PreconditionFailed`` when
        another was)."""
