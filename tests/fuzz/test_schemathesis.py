"""Schemathesis against the app's own OpenAPI, in process: every operation, every check.

Each operation gets a fresh copy of the seeded database and an admin key, so writes, key
management and the audit log are exercised, not just refused. The run is deterministic and
bounded (``max-examples`` per operation); a longer campaign against a live server is in the
README. The number of cases executed is printed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.python import asgi
from starlette.types import Receive, Scope, Send

from service.app import create_app
from tests import support

CONFIG: dict[str, Any] = {
    "seed": 20251001,
    # The first quote of a fresh database calibrates the engine (seconds on a busy runner).
    "request-timeout": 60,
    # Valid and invalid data (every schema constraint broken in turn), NUL bytes included: the
    # hostile input of issue 12 must be refused, never a 500, on PostgreSQL as on SQLite.
    "generation": {
        "mode": "all",
        "allow-x00": True,
        "max-examples": 25,
        "deterministic": True,
        "database": "none",
    },
    "checks": {
        "enabled": True,
        # Schema-valid input can still break a business rule, and the answer is then a refusal
        # that the OpenAPI declares, not a failure of the API: 409 (duplicate slug or precision),
        # 412 (the generated If-Match is not the current ETag), 422 (an unknown model slug, a
        # timeline out of order, a cross-field rule such as `fp8` disagreeing with
        # `fp8_tflops`), 428 (no If-Match at all, which the schema cannot require because the
        # header is optional for HTTP but mandatory for us).
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422", "428"],
        },
    },
}
cases_executed = 0


class CurrentApp:
    """The ASGI app of the running test: schemathesis binds its transport when the schema is
    built (at collection), while each test brings its own app on its own database."""

    app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "used outside the fuzz_app fixture"
        await self.app(scope, receive, send)


current = CurrentApp()
schema = schemathesis.openapi.from_dict(
    create_app().openapi(), config=schemathesis.Config.from_dict(CONFIG)
)
schema.app = current


@pytest.fixture
def fuzz_app(db_url: str) -> Iterator[FastAPI]:
    """The app on a fresh seeded database; its lifespan runs on schemathesis's event loop."""
    current.app = create_app(support.settings_for(db_url))
    yield current.app
    asgi.shutdown_lifespans()
    current.app = None


@pytest.fixture(scope="module", autouse=True)
def report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        operations = len(list(schema.get_all_operations()))
        reporter.write_line(
            f"schemathesis: {cases_executed} cases over {operations} operations, all checks"
        )


@schema.parametrize()
# One database per operation, shared by its examples, as a real server's would be.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_passes_every_check(case: Case[Any], fuzz_app: FastAPI) -> None:
    global cases_executed
    cases_executed += 1
    case.call_and_validate(headers=support.auth("admin"))
