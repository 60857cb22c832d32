"""The last line of defence: an unexpected exception is logged with its traceback and request
id, counted as a server error, and answered as problem+json 500 on a connection that stays open.

Starlette's ServerErrorMiddleware answers and then re-raises, and uvicorn then closes the
keep-alive connection, so the client's next request failed (issue 12). Only a real server on a
real socket shows that; ASGITransport has no connection to lose.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from service.app import create_app
from tests import support
from tests.support import assert_problem, auth


def _boom() -> None:
    raise ZeroDivisionError("a bug in a handler")


def _peer(request: Request) -> dict[str, int]:
    """The client's port: the same port means the same TCP connection."""
    assert request.client is not None
    return {"port": request.client.port}


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    """The app, with two test-only routes, served by uvicorn on a free local port."""
    app: FastAPI = create_app(support.settings_for(db_url))
    app.add_api_route("/test-only/boom", _boom, methods=["GET", "POST"])
    app.add_api_route("/test-only/peer", _peer, methods=["GET"])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_a_bug_is_a_problem_and_the_connection_survives(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        before = client.get("/test-only/peer").json()["port"]
        with caplog.at_level(logging.ERROR, logger="service.errors"):
            failed = client.get("/test-only/boom", headers={"X-Request-ID": "bug-1"})
        problem = assert_problem(failed, 500)
        assert problem["type"] == "urn:gpuval:problem:server-error"
        assert "a bug" not in failed.text  # the exception stays in the log
        assert failed.headers["x-request-id"] == "bug-1"
        after = client.get("/test-only/peer")
        assert after.status_code == 200
        assert after.json()["port"] == before, "the keep-alive connection was dropped"
        assert client.get("/models/nvidia-h100-sxm5-80gb").status_code == 200

    [record] = [r for r in caplog.records if r.name == "service.errors"]
    assert "bug-1" in record.getMessage() and "ZeroDivisionError" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_server_errors_are_counted_in_metrics(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        for _ in range(2):
            assert_problem(client.get("/test-only/boom"), 500)
        metrics = client.get("/metrics").text
    assert (
        'gpuval_server_errors_total{exception="ZeroDivisionError",method="GET",'
        'route="/test-only/boom"} 2.0'
    ) in metrics
    assert 'gpuval_http_errors_total{method="GET",route="/test-only/boom"} 2.0' in metrics


def test_a_failed_write_releases_its_idempotency_key(server: str) -> None:
    """The key of a request that failed with 500 is free again (not replayed, not 409)."""
    headers = {**auth("write"), "Idempotency-Key": "boom-1"}
    with httpx.Client(base_url=server, timeout=30) as client:
        for _ in range(2):
            response = client.post("/test-only/boom", json={}, headers=headers)
            assert_problem(response, 500)
            assert "idempotent-replayed" not in response.headers
