"""Path parameters and problem lists the registry's routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

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
