"""The retry of a unit of work rests on where FastAPI keeps function-scoped dependencies.

``RetryingRoute`` (service/api.py) gives each attempt its own exit stack by swapping the
private scope key ``fastapi_function_astack``. These tests pin that: if FastAPI renames or drops
the key, or stops closing function-scoped dependencies on it, they fail loudly, naming it.
"""

# No `from __future__ import annotations`: FastAPI must evaluate the local dependencies.

from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.exc import DBAPIError

from service.api import _FUNCTION_STACK, RetryingRoute

pytestmark = pytest.mark.anyio


def _app(events: list[str], failures: int) -> FastAPI:
    def unit_of_work() -> Iterator[None]:
        events.append("open")
        try:
            yield
        except Exception as exc:
            events.append(f"rolled back on {type(exc).__name__}")
            raise
        events.append("committed")

    router = APIRouter(route_class=RetryingRoute)
    calls = 0

    @router.get("/work")
    def work(
        request: Request, _: Annotated[None, Depends(unit_of_work, scope="function")]
    ) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        stack = request.scope.get(_FUNCTION_STACK)
        events.append(f"attempt {calls} on {type(stack).__name__}")
        if calls <= failures:
            raise DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
        return {"attempts": calls}

    app = FastAPI()
    app.include_router(router)
    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/work")


async def test_fastapi_keeps_function_scoped_dependencies_on_the_private_key() -> None:
    seen: list[object] = []
    app = FastAPI()

    def dependency() -> Iterator[None]:
        yield

    @app.get("/probe")
    def probe(request: Request, _: Annotated[None, Depends(dependency, scope="function")]) -> None:
        seen.append(request.scope.get(_FUNCTION_STACK))

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/probe")).status_code == 200
    assert len(seen) == 1 and isinstance(seen[0], AsyncExitStack), (
        f"FastAPI no longer keeps function-scoped dependencies at scope[{_FUNCTION_STACK!r}]: "
        "RetryingRoute in service/api.py must find another way to close a failed attempt"
    )


async def test_a_failed_attempt_is_rolled_back_before_the_next_one_runs() -> None:
    events: list[str] = []
    response = await _get(_app(events, failures=2))
    assert response.status_code == 200, response.text
    assert response.json() == {"attempts": 3}
    assert events == [
        "open",
        "attempt 1 on AsyncExitStack",
        "rolled back on DBAPIError",
        "open",
        "attempt 2 on AsyncExitStack",
        "rolled back on DBAPIError",
        "open",
        "attempt 3 on AsyncExitStack",
        "committed",
    ]


async def test_the_last_failure_is_not_retried_again() -> None:
    events: list[str] = []
    response = await _get(_app(events, failures=RetryingRoute.ATTEMPTS))
    assert response.status_code == 500
    assert events.count("open") == RetryingRoute.ATTEMPTS
    assert events.count("rolled back on DBAPIError") == RetryingRoute.ATTEMPTS
    assert "committed" not in events
