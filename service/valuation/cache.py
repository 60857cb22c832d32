"""The calibrated state, computed once per (evidence version, evidence date, known_at) and
shared.

A registry write bumps the data version in the database, and the evidence version when it
writes what a calibration is fitted on (models, observations, rates, frontier, assumptions; not
a fleet's assets: :class:`service.db.DataVersion`). Each process learns of the data version
through its ``service.freshness.DataVersionTracker`` (at once for its own writes, within a
second for another replica's), reads the evidence version once for it, and its next request
calibrates afresh if the evidence moved. Concurrent requests for the same key
wait for one calibration (single flight) instead of each fitting the model.

The cache keeps the ``capacity`` most recently used calibrations of the current evidence version
(about 0.35 MB each on the reference catalogue): enough for today's, the quarter starts the
page at ``/`` charts its quote history on (which the server warms at start-up) and the dates
clients ask, and small enough to bound memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast

from service import engine

Key = tuple[int, date, datetime | None]
T = TypeVar("T")
#: Calibrations kept: today's, the page's 25 warmed history dates and as many again for clients.
CAPACITY = 48


@dataclass(frozen=True, slots=True)
class Calibrated:
    calibration: engine.Calibration
    evidence_version: int
    seconds: float


class CalibrationCache:
    def __init__(self, *, capacity: int = CAPACITY, memo_capacity: int = 4096) -> None:
        self._capacity = capacity
        self._memo_capacity = memo_capacity
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._entries: OrderedDict[Key, Calibrated] = OrderedDict()
        self._locks: dict[Key, threading.Lock] = {}
        self._guard = threading.Lock()
        self.calibrations = 0

    def get(self, key: Key, fit: Callable[[], engine.Calibration]) -> Calibrated:
        with self._guard:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                hit = self._entries.get(key)
                if hit is not None:
                    return hit
            started = time.perf_counter()
            calibration = fit()
            entry = Calibrated(calibration, key[0], time.perf_counter() - started)
            with self._guard:
                self._entries[key] = entry
                self._locks.pop(key, None)
                self._evict(current_version=key[0])
                self.calibrations += 1
            return entry

    def memo_get(self, key: Hashable) -> Any:
        """A memoised value, or None."""
        with self._guard:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        return None

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Small derived facts keyed by data version (stored defaults, evidence dates).

        Keys start with a tag and carry the data version, so a write makes them unreachable;
        the oldest are dropped beyond ``memo_capacity``.
        """
        with self._guard:
            if key in self._memo:
                self._memo.move_to_end(key)
                return cast(T, self._memo[key])
        value = compute()
        with self._guard:
            self._memo[key] = value
            while len(self._memo) > self._memo_capacity:
                self._memo.popitem(last=False)
        return value

    def _evict(self, *, current_version: int) -> None:
        for old in [k for k in self._entries if k[0] < current_version]:
            del self._entries[old]
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
