"""What the registry's routes share: their router's policy, path parameters, problem lists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from service.api import RetryingRoute
from service.auth.deps import AUTH_ERRORS, authorize
from service.common.fields import LOWER_CASE, SLUG_PATTERN
from service.text import SingleLine
from service.web.problems import responses

SlugPath = Annotated[
    str,
    Path(min_length=2, max_length=80, pattern=SLUG_PATTERN, examples=["nvidia-h100-sxm5-80gb"]),
    LOWER_CASE,
]
ObservationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
AssumptionName = Annotated[SingleLine, Path(max_length=60, examples=["utilisation"])]

READ_ERRORS = responses(400, 422, 503)
WRITE_ERRORS = responses(400, 404, 409, 412, 422, 428, 503)


def registry_router() -> APIRouter:
    """A router of one registry resource: reads open (unless ``REQUIRE_READ_KEY``), other
    methods need a ``write`` key, and a lost connection reruns the unit of work."""
    return APIRouter(
        dependencies=[Depends(authorize)], responses=AUTH_ERRORS, route_class=RetryingRoute
    )
