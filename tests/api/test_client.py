"""service.client against the app: async in process (ASGITransport), sync over a real socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from service.app import create_app
from service.client import (
    AsyncGpuvalClient,
    AuthError,
    GpuvalClient,
    GpuvalError,
    InvalidRequestError,
    NotFoundError,
    Quote,
    Residual,
    UnavailableError,
)
from tests import support

pytestmark = pytest.mark.anyio

A100 = "nvidia-a100-sxm4-80gb"
H100 = "nvidia-h100-sxm5-80gb"
AS_OF = date(2025, 6, 1)
SPEC = {
    "slug": "acme-x1-96gb",
    "vendor": "Acme",
    "architecture": "X",
    "form_factor": "OAM",
    "release_date": date(2025, 1, 1),
    "memory_gb": 96,
    "memory_bw_tbps": 4,
    "tdp_w": 700,
    "bf16_tflops": 900,
    "fp8_tflops": 1800,
}


@pytest.fixture
async def gpuval(app: FastAPI) -> AsyncIterator[AsyncGpuvalClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncGpuvalClient(
        "http://testserver", api_key=support.KEYS["write"], transport=transport
    ) as client:
        yield client


@pytest.fixture
def server_url(db_url: str) -> Iterator[str]:
    """The app served by uvicorn on an ephemeral port in a background thread."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(support.settings_for(db_url)), log_level="warning")
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def mock(
    *answers: httpx.Response | Exception,
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport replaying `answers` in order (an exception is raised), recording requests."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), calls


def problem(status: int) -> httpx.Response:
    body = {"type": "urn:gpuval:problem:x", "title": "T", "status": status, "detail": "down"}
    headers = {"Content-Type": "application/problem+json", "Retry-After": "0"}
    return httpx.Response(status, json=body, headers=headers)


async def test_quote_and_residual_round_trip_typed(gpuval: AsyncGpuvalClient) -> None:
    quote = await gpuval.quote(A100, as_of=date(2024, 6, 1), gpus=8, assumptions={"pue": 1.3})
    assert isinstance(quote, Quote)
    assert (quote.model, quote.as_of, quote.regime, quote.gpus) == (
        A100,
        date(2024, 6, 1),
        "behind",
        8,
    )
    assert quote.assumptions["pue"] == 1.3
    # each rate is shown to 4 decimals: the total is within 8 half-units of 8 × rate
    assert quote.rate_total_per_hour == pytest.approx(8 * quote.rate_per_gpu_hour, abs=45e-5)
    assert (await gpuval.quote(A100, as_of=date(2024, 6, 1), fp8=True)).rate_per_gpu_hour > (
        quote.rate_per_gpu_hour
    )

    residual = await gpuval.residual(
        H100,
        as_of=AS_OF,
        age_months=24,
        include_curve=True,
        known_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    assert isinstance(residual, Residual)
    assert residual.age_months == 24 and residual.premise == "market"
    assert residual.curve and 0 < residual.residual_fraction < 1
    assert residual.provenance.known_at == datetime(2025, 6, 1, tzinfo=UTC)
    assert (await gpuval.residual(H100, as_of=AS_OF, age_months=24)).curve is None


async def test_inline_spec_and_batch(gpuval: AsyncGpuvalClient) -> None:
    inline = await gpuval.quote_spec(SPEC, as_of=AS_OF, term="1y")
    assert inline.model == "acme-x1-96gb" and inline.term == "1y" and inline.rate_per_gpu_hour > 0
    terms = ("on_demand", "1y", "3y")
    quotes = await gpuval.quote_batch([{"model": H100, "as_of": AS_OF, "term": t} for t in terms])
    assert [q.term for q in quotes] == list(terms)
    assert quotes[2].rate_per_gpu_hour < quotes[0].rate_per_gpu_hour


async def test_problems_become_typed_exceptions(gpuval: AsyncGpuvalClient, app: FastAPI) -> None:
    with pytest.raises(NotFoundError) as missing:
        await gpuval.quote("nvidia-x999")
    assert missing.value.status == 404 and "nvidia-x999" in missing.value.detail

    with pytest.raises(InvalidRequestError) as invalid:
        await gpuval.quote(H100, gpus=0)
    assert (
        invalid.value.status == 422 and invalid.value.type == "urn:gpuval:problem:validation-error"
    )
    assert any(f.endswith("gpus") for f in invalid.value.fields)

    with pytest.raises(InvalidRequestError) as batch:
        await gpuval.quote_batch([{"model": H100}, {"model": "nvidia-x999"}])
    assert batch.value.fields == ["body.items.1.model"]

    transport = httpx.ASGITransport(app=app)
    async with AsyncGpuvalClient("http://testserver", api_key="gv_wrong", transport=transport) as c:
        with pytest.raises(AuthError) as denied:
            await c.quote_spec(SPEC)
    assert denied.value.status == 401


def test_sync_client_over_a_real_server(server_url: str) -> None:
    with GpuvalClient(server_url, api_key=support.KEYS["write"], timeout=5) as gpuval:
        quote = gpuval.quote(H100, term="1y", as_of=AS_OF)
        assert isinstance(quote, Quote) and quote.term == "1y"
        assert gpuval.residual(A100, as_of=AS_OF, premise="forced").premise == "forced"
        assert len(gpuval.quote_batch([{"model": A100}, {"model": H100}])) == 2
        assert gpuval.quote_spec(SPEC, as_of=AS_OF).model == "acme-x1-96gb"
        with pytest.raises(NotFoundError):
            gpuval.quote("nvidia-x999")
    assert support.KEYS["write"] not in repr(gpuval)


async def test_async_retries_503_then_answers(app: FastAPI) -> None:
    async with support.make_client(app, None) as direct:
        ok = await direct.get("/quote", params={"model": H100, "as_of": "2025-06-01"})
    transport, calls = mock(problem(503), problem(503), httpx.Response(200, json=ok.json()))
    async with AsyncGpuvalClient("http://gpuval", transport=transport) as gpuval:
        quote = await gpuval.quote(H100, as_of=AS_OF)
    assert quote.model == H100 and len(calls) == 3


def test_sync_retries_then_gives_up_or_stops_at_4xx() -> None:
    transport, calls = mock(problem(503))
    with (
        GpuvalClient("http://gpuval", transport=transport, retries=2) as gpuval,
        pytest.raises(UnavailableError) as down,
    ):
        gpuval.residual(H100)
    assert down.value.status == 503 and len(calls) == 3

    transport, calls = mock(problem(400))
    with (
        GpuvalClient("http://gpuval", transport=transport) as gpuval,
        pytest.raises(InvalidRequestError),
    ):
        gpuval.quote(H100)
    assert len(calls) == 1

    transport, calls = mock(httpx.Response(418, text="teapot"))
    with (
        GpuvalClient("http://gpuval", transport=transport) as gpuval,
        pytest.raises(GpuvalError, match="teapot") as other,
    ):
        gpuval.quote(H100)
    assert type(other.value) is GpuvalError and other.value.status == 418 and len(calls) == 1


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["connect", "read-timeout"],
)
async def test_connection_errors_and_timeouts_are_retried(error: Exception) -> None:
    transport, calls = mock(error)
    async with AsyncGpuvalClient(
        "http://gpuval", transport=transport, retries=3, backoff=0.001
    ) as gpuval:
        with pytest.raises(UnavailableError) as down:
            await gpuval.quote(H100)
    assert down.value.status is None and isinstance(down.value.__cause__, type(error))
    assert len(calls) == 4


def test_timeouts_api_key_and_query_reach_the_wire() -> None:
    transport, calls = mock(problem(404))
    timeout = httpx.Timeout(2.5, connect=1.0)
    with (
        GpuvalClient("http://gpuval/v1", api_key="k", timeout=timeout, transport=transport) as c,
        pytest.raises(NotFoundError),
    ):
        c.residual(A100, as_of=AS_OF, fp8=False, include_curve=True, assumptions={"pue": 1.2})
    (request,) = calls
    assert request.extensions["timeout"] == {"connect": 1.0, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert request.headers["authorization"] == "Bearer k"
    assert request.url.path == "/v1/residual"
    assert dict(request.url.params) == {
        "model": A100,
        "as_of": "2025-06-01",
        "fp8": "false",
        "premise": "market",
        "currency": "USD",
        "include": "curve",
        "pue": "1.2",
    }
    with GpuvalClient("http://gpuval") as default:
        assert default.timeout == httpx.Timeout(10.0) and default.retries == 3


def test_retry_after_is_honoured_but_capped() -> None:
    slow_down = httpx.Response(429, headers={"Retry-After": "3600"}, text="slow down")
    transport, calls = mock(slow_down)
    with GpuvalClient("http://gpuval", transport=transport, retries=1, max_wait=0.05) as gpuval:
        started = time.monotonic()
        with pytest.raises(GpuvalError) as limited:
            gpuval.quote(H100)
    assert limited.value.status == 429 and len(calls) == 2
    assert 0.05 <= time.monotonic() - started < 2
