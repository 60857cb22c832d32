"""Request ids, metrics by route template, JSON logs and graceful shutdown."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from service.app import GracefulServer, create_app
from service.observability import REQUEST_ID, JsonFormatter
from service.state import resources
from tests import support
from tests.support import assert_problem


class Lines(logging.Handler):
    """Formats each record as it is emitted (while the request's context is still current)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_log() -> Iterator[Lines]:
    logger = logging.getLogger("service.access")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("sent", ["abc-123", "req.42:retry_1", "A" * 64])
async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/models", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent


@pytest.mark.anyio
@pytest.mark.parametrize(
    "sent", ["has spaces", "A" * 65, "<script>", "new\\nline", ""], ids=lambda s: s[:12] or "empty"
)
async def test_an_insane_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/models", headers={"X-Request-ID": sent})
    echoed = response.headers["x-request-id"]
    assert echoed != sent
    assert len(echoed) == 32 and int(echoed, 16) >= 0


@pytest.mark.anyio
async def test_every_response_carries_a_fresh_request_id(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    responses = [
        await client.get("/models"),
        await client.get("/nope"),
        await anon_client.post("/models", json={}),
        await client.post("/observations", json={}, headers={"Idempotency-Key": "x" * 300}),
        await client.get("/metrics"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 401, 400, 200]
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(set(ids)) == len(ids)


@pytest.mark.anyio
async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    for slug in ("nvidia-h100-sxm5-80gb", "nvidia-a100-sxm4-80gb", "nvidia-x999"):
        await client.get(f"/models/{slug}")
    await client.get("/nope")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "nvidia-h100" not in text and "nvidia-x999" not in text

    requests = samples(text, "gpuval_http_requests_total")
    by_labels = {(s["method"], s["route"], s["status"]): v for s, v in requests}
    assert by_labels[("GET", "/models/{slug}", "200")] == 2
    assert by_labels[("GET", "/models/{slug}", "404")] == 1
    assert by_labels[("GET", "unmatched", "404")] == 1
    assert {s["route"] for s, _ in requests} <= {"/models/{slug}", "unmatched", "/metrics"}

    buckets = samples(text, "gpuval_http_request_duration_seconds_bucket")
    slug_buckets = [(s, v) for s, v in buckets if s["route"] == "/models/{slug}"]
    assert len(slug_buckets) > 5 and {s["method"] for s, _ in slug_buckets} == {"GET"}
    assert next(v for s, v in slug_buckets if s["le"] == "+Inf") == 3
    counts = samples(text, "gpuval_http_request_duration_seconds_count")
    assert ({"method": "GET", "route": "/models/{slug}"}, 3.0) in counts
    (total,) = [
        v
        for s, v in samples(text, "gpuval_http_request_duration_seconds_sum")
        if s["route"] == "/models/{slug}"
    ]
    assert 0 < total < 30


@pytest.mark.anyio
async def test_metrics_count_server_errors(client: httpx.AsyncClient, app: FastAPI) -> None:
    resources(app).shutting_down = True
    assert_problem(await client.get("/readyz"), 503)
    errors = samples((await client.get("/metrics")).text, "gpuval_http_errors_total")
    assert ({"method": "GET", "route": "/readyz"}, 1.0) in errors


@pytest.mark.anyio
async def test_json_log_lines_carry_the_request_id(
    client: httpx.AsyncClient, access_log: Lines
) -> None:
    response = await client.get("/models/nvidia-h100-sxm5-80gb", headers={"X-Request-ID": "r-1"})
    other = await client.get("/models")
    entries = [json.loads(line) for line in access_log.lines]
    assert [e["request_id"] for e in entries] == ["r-1", other.headers["x-request-id"]]
    first = entries[0]
    assert first["message"] == "GET /models/nvidia-h100-sxm5-80gb 200"
    assert first["route"] == "/models/{slug}" and first["status"] == response.status_code
    assert first["level"] == "info" and first["logger"] == "service.access"
    assert first["duration_ms"] >= 0 and first["time"]


def test_json_lines_outside_a_request_have_no_request_id() -> None:
    record = logging.LogRecord("service", logging.WARNING, __file__, 1, "x=%s", ("y",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "x=y" and entry["level"] == "warning"
    assert "request_id" not in entry
    token = REQUEST_ID.set("inside")
    try:
        assert json.loads(JsonFormatter().format(record))["request_id"] == "inside"
    finally:
        REQUEST_ID.reset(token)


class Serving:
    """A real uvicorn server on a free port, in a thread, as `gpuval serve` runs it."""

    def __init__(self, app: FastAPI, drain_s: float) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = GracefulServer(config, app, drain_s=drain_s)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        # One client (a new one costs an SSL context, 0.1 s on a busy machine: enough to eat the
        # drain); no keep-alive, so each request is a fresh connection as before.
        limits = httpx.Limits(max_keepalive_connections=0)
        self.client = httpx.Client(base_url=self.url, timeout=5, limits=limits)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.client.close()


@pytest.fixture
def serving(db_url: str) -> Iterator[Serving]:
    server = Serving(create_app(support.settings_for(db_url)), drain_s=1.0)
    yield server
    server.stop()


def test_the_first_signal_fails_readiness_but_keeps_serving(serving: Serving) -> None:
    assert serving.get("/readyz").status_code == 200
    signalled = time.monotonic()
    serving.server.handle_exit(signal.SIGTERM, None)
    assert serving.server.should_exit is False
    ready = serving.get("/readyz")
    assert_problem(ready, 503)
    assert ready.headers["retry-after"] == "5"
    assert serving.get("/healthz").status_code == 200
    assert serving.get("/models/nvidia-h100-sxm5-80gb").status_code == 200
    serving.thread.join(10)
    assert not serving.thread.is_alive(), "the server did not stop after draining"
    # the drain (1 s) is counted from the signal: a slow machine only lengthens it
    assert time.monotonic() - signalled >= 0.95


def test_a_second_signal_stops_at_once(db_url: str) -> None:
    # a drain far longer than the join below: stopping within it means the drain was cut short
    serving = Serving(create_app(support.settings_for(db_url)), drain_s=120.0)
    try:
        serving.server.handle_exit(signal.SIGTERM, None)
        assert serving.get("/healthz").status_code == 200
        serving.server.handle_exit(signal.SIGTERM, None)
        assert serving.server.should_exit is True
        serving.thread.join(60)
        assert not serving.thread.is_alive(), "stopped only when the drain ended"
    finally:
        serving.stop()


def test_without_a_drain_the_first_signal_stops(db_url: str) -> None:
    app = create_app(support.settings_for(db_url))
    server = GracefulServer(uvicorn.Config(app), app, drain_s=0)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit is True


def test_json_log_lines_carry_no_terminal_colour() -> None:
    """uvicorn adds ``color_message`` (the message with ANSI escapes) to its records."""
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started %s", ("x",), None)
    record.color_message = "Started \x1b[1m%s\x1b[0m"
    line = JsonFormatter().format(record)
    assert "\x1b" not in line and "\\u001b" not in line
    assert json.loads(line)["message"] == "Started x" and "color_message" not in json.loads(line)
