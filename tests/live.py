"""A real server on a free loopback port, for tests that need one (a browser, a generated client).

The app runs under uvicorn in a thread of the test process, on its own copy of the seeded
template database, so that it answers real HTTP like ``gpuval serve``.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests import support
from tests.support import Backend

START_TIMEOUT_S = 30.0


@contextmanager
def database_copy(backend: Backend, template_url: str, tmp: Path) -> Iterator[str]:
    """A private copy of the seeded template (keys included) for a server that outlives a test."""
    if backend.name == "sqlite":
        target = tmp / "live.db"
        shutil.copyfile(make_url(template_url).database or "", target)
        yield f"sqlite:///{target}"
        return
    template = make_url(template_url).database
    name = f"{template}_live"
    admin = support._admin(backend)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(
            text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        )
    admin.dispose()
    url = backend.url_for(name)
    try:
        yield url
    finally:
        support.drop_database(backend, url)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and a free port; yields the base URL, stops on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
