"""The registry's HTTP routes: one router per resource (``service.registry.routes``), in the
order the OpenAPI document lists them."""

from __future__ import annotations

from fastapi import APIRouter

from service.registry.routes import assumptions, frontier, fx, models, observations

router = APIRouter()
for part in (models, observations, frontier, assumptions, fx):
    router.include_router(part.router)

__all__ = ["router"]
