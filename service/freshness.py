"""The data version, kept in process, so that unchanged data costs no database round trip.

Every registry write bumps one counter (``service.db.DataVersion``); calibrations and memoised
answers are keyed on it. A :class:`DataVersionTracker` knows the counter without asking for it
on every request, and learns of writes in three ways:

- **its own writes**: the session that bumped the counter reports the new value right after its
  commit, so a replica's next request sees its own write at once;
- **SQLite file**: ``PRAGMA data_version`` on a dedicated connection changes whenever another
  connection (of any process) has committed; it is read on every call (a few microseconds, no
  disk read), and the counter's row only when it changed;
- **PostgreSQL**: a thread ``LISTEN``s on ``service.db.NOTIFY_CHANNEL``, which every bump
  notifies on commit, and re-reads the counter at least every ``poll_s`` in case a notification
  is lost (a dropped connection reconnects).

On PostgreSQL, :meth:`DataVersionTracker.current` answers ``None`` unless the counter it holds
was read by a query sent within the last ``max_staleness_s``; callers then read the counter from
the database. So another replica's write is visible within ``max_staleness_s`` (1 s) however the
listener fares.
An in-memory SQLite database is private to its process: its own writes are all there is.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Literal

from sqlalchemy import Engine

from service.db import NOTIFY_CHANNEL, is_memory_sqlite

log = logging.getLogger("service.freshness")
Mode = Literal["memory", "sqlite", "postgresql"]
_READ_SQL = "SELECT version FROM data_version WHERE id = 1"  # service.db.DataVersion


class DataVersionTracker:
    def __init__(
        self, engine: Engine, *, poll_s: float = 0.25, max_staleness_s: float = 1.0
    ) -> None:
        self._engine = engine
        self._poll_s = poll_s
        self._max_staleness_s = max_staleness_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._version: int | None = None
        self._confirmed_at = float("-inf")  # monotonic time the counter was last read
        self._watch: Any = None  # SQLite: the pooled connection, detached, that watches
        self._seen: int | None = None  # SQLite: the last PRAGMA data_version
        self._failing = False  # SQLite: the last check failed
        self._thread: threading.Thread | None = None
        url = engine.url.render_as_string(hide_password=False)
        self.mode: Mode = (
            "postgresql"
            if engine.dialect.name == "postgresql"
            else "memory"
            if is_memory_sqlite(url)
            else "sqlite"
        )

    def start(self) -> None:
        """Read the counter, and begin watching. A database that is down now is only a slower
        start: until the counter is read, :meth:`current` says ``None`` and callers ask the
        database."""
        if self.mode == "sqlite":
            self._current_sqlite()
            return
        try:
            asked_at = time.monotonic()
            with self._engine.connect() as connection:
                self._confirm(int(connection.exec_driver_sql(_READ_SQL).scalar() or 0), asked_at)
        except Exception as exc:
            log.warning("could not read the data version: %s", exc)
        if self.mode == "postgresql":
            self._thread = threading.Thread(
                target=self._listen, name="data-version-listener", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None

    def current(self) -> int | None:
        """The data version, or ``None`` when this tracker cannot vouch for it."""
        if self.mode == "sqlite":
            return self._current_sqlite()
        stale = time.monotonic() - self._confirmed_at > self._max_staleness_s
        if self.mode == "postgresql" and stale:
            return None
        return self._version

    def advance(self, version: int) -> None:
        """A version this process committed (or read): never go back to an older one."""
        with self._lock:
            if self._version is None or version > self._version:
                self._version = version

    def _confirm(self, version: int, asked_at: float) -> None:
        """``version`` was read by a query sent at ``asked_at``: it is at least that fresh."""
        self.advance(version)
        self._confirmed_at = max(self._confirmed_at, asked_at)

    # --- SQLite ---------------------------------------------------------------------------

    def _current_sqlite(self) -> int | None:
        with self._lock:
            try:
                if self._watch is None:
                    if self._stop.is_set():
                        return None
                    self._watch = self._engine.raw_connection()
                    self._watch.detach()  # its own connection for good, not the pool's
                    self._watch.dbapi_connection.execute("PRAGMA busy_timeout=100")
                raw = self._watch.dbapi_connection
                seen = raw.execute("PRAGMA data_version").fetchone()[0]
                if seen != self._seen:
                    version = int(raw.execute(_READ_SQL).fetchone()[0])
                    self._seen = seen
                    if self._version is None or version > self._version:
                        self._version = version
                self._failing = False
                return self._version
            except Exception as exc:
                if not self._failing:  # once per outage, not once per request
                    log.warning("could not check the data version: %s", exc)
                self._failing = True
                self._seen = None
                watch, self._watch = self._watch, None  # reopened on the next call
                if watch is not None:
                    with contextlib.suppress(Exception):
                        watch.close()
                return None

    # --- PostgreSQL -----------------------------------------------------------------------

    def _listen(self) -> None:
        while not self._stop.is_set():
            proxy: Any = None
            try:
                proxy = self._engine.raw_connection()
                proxy.detach()
                connection = proxy.dbapi_connection
                connection.rollback()
                connection.autocommit = True
                connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                while not self._stop.is_set():
                    asked_at = time.monotonic()
                    self._confirm(int(connection.execute(_READ_SQL).fetchone()[0]), asked_at)
                    for _ in connection.notifies(timeout=self._poll_s, stop_after=1):
                        pass
            except Exception as exc:
                if not self._stop.is_set():
                    log.warning("data version listener: %s; reconnecting", exc)
                    self._stop.wait(self._poll_s)
            finally:
                if proxy is not None:
                    try:
                        proxy.close()
                    except Exception:
                        log.debug("closing the listener's connection failed", exc_info=True)
