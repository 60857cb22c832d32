"""Time GET /valuations over a synthetic fleet of 100,000 assets, beside a plain export.

Builds a fresh database (SQLite file by default; ``--postgres URL`` creates and drops a
throw-away database on that server), migrates and seeds it, bulk-inserts N synthetic assets
(seeded random models, in-service dates, costs, currencies, methods; SQLAlchemy core, in
chunks), then, in one process and one run:

- ``start-up warm-up``: the server's background start-up work (today's calibration, then
  today's default fleet question, which reads the register whole), waited for before the
  phases, so they see what a started server has and compete with nothing;
- ``export``: the same rows (assets joined to their changes, in id order) exported without
  any valuation: ``COPY (SELECT ...) TO STDOUT WITH CSV`` on PostgreSQL, a plain ``SELECT``
  written by ``csv.writer`` on SQLite. The floor the CSV is compared with.
- ``csv``: one ``format=csv`` response, consumed chunk by chunk through a raw ASGI ``send``
  (httpx's ASGITransport would buffer the body, hiding whether the server streams), sampling
  the process's resident memory at every chunk; then the same again (the engine's answers per
  model and age are shared by requests asking the same question);
- ``json first page``: ``limit=100`` on a question not asked before (``premise=orderly``), cold
  (the fleet totals and the engine's answers are computed) and warm (memoised per question
  and data version); the first page of the CSV's question (whose totals the CSV left), and a
  later page (after a cursor);
- ``json``: every page at ``limit=1000``;
- ``json page 1 (new q.)``: a question nothing asked before (``premise=forced``, in EUR), the
  register's columns kept since the cold first page;
- ``after write``: one asset's GPU count changed (through the ORM, as the API writes), the
  first answer after it (timed on its own row: the data version moved, the evidence version did
  not, so the calibration is kept), then a new question's first page: on the same closed
  month, then on ``as_of`` 2026-05-31, a closed month no page asked yet (its book values are
  all computed).

It prints wall time, CPU time of the process (all threads; the export's ``COPY`` runs in the
server, so its CPU is mostly not ours), rows/s, resident memory (start and peak while the
phase ran), engine model states and ages valued, book schedules left to the exact path, and
the ratios.
Nothing here is a test.

    python bench/fleet_valuation.py                       # 100,000 assets on SQLite
    python bench/fleet_valuation.py --assets 20000 --postgres postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from service import schema
from service.app import create_app
from service.config import Settings
from service.db import make_engine, make_sessionmaker, mark_data_changed, unit_of_work
from service.engine.by_age import ModelValues
from service.finance import service as finance
from service.finance.orm import Asset, BookChange
from service.registry.orm import GpuModel
from service.registry.seed import seed_all
from service.state import resources

AS_OF = "2026-06-30"
LAST_IN_SERVICE = date(2026, 6, 30)
EARLIEST_IN_SERVICE = date(2020, 1, 1)
# (slug, price per GPU in USD, weight): datacenter parts at roughly what buyers paid.
MODELS = [
    ("nvidia-v100-sxm2-32gb", 11_458, 3),
    ("nvidia-a100-sxm4-40gb", 15_000, 4),
    ("nvidia-a100-sxm4-80gb", 17_000, 8),
    ("nvidia-h100-pcie-80gb", 28_000, 4),
    ("nvidia-h100-sxm5-80gb", 33_600, 12),
    ("nvidia-h200-sxm-141gb", 35_000, 6),
    ("nvidia-b200-sxm-180gb", 40_000, 5),
    ("nvidia-l40s-48gb", 9_000, 3),
    ("amd-mi300x-192gb", 15_000, 3),
]
CURRENCIES = [("USD", 1.0, 85), ("EUR", 1.1, 10), ("GBP", 1.27, 5)]  # (code, ~USD per unit, %)
METHODS = [("straight_line", 85), ("ddb", 5), ("syd", 4), ("declining_balance", 3), ("macrs", 3)]
CHUNK = 5_000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260630)
    parser.add_argument("--postgres", metavar="URL", help="a server to create a database on")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gpuval-bench-") as tmp:
        url, drop = _database(args.postgres, Path(tmp))
        try:
            started = time.perf_counter()
            schema.upgrade(url)
            db = make_engine(url)
            with unit_of_work(make_sessionmaker(db)) as session:
                seed_all(session)
            load_s = _load(db, args.assets, random.Random(args.seed))
            db.dispose()
            print(
                f"{make_url(url).get_backend_name()}: migrated and seeded, "
                f"{args.assets:,} assets inserted in {load_s:.1f} s "
                f"(setup {time.perf_counter() - started:.1f} s)"
            )
            results = asyncio.run(_drive(url, args.assets))
        finally:
            drop()
    _table(results)
    return 0


# --- the database -------------------------------------------------------------------------------


def _database(server: str | None, tmp: Path) -> tuple[str, Callable[[], None]]:
    if server is None:
        return f"sqlite:///{tmp / 'fleet.db'}", lambda: None
    name = f"gpuval_bench_{os.getpid()}"
    admin_url = make_url(server).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def _load(db: Any, n: int, rng: random.Random) -> float:
    """Insert ``n`` assets (and a few changes of estimate) in chunks; returns seconds."""
    started = time.perf_counter()
    with unit_of_work(make_sessionmaker(db)) as session:
        releases = dict(session.execute(select(GpuModel.slug, GpuModel.release_date)).all())
        for first in range(0, n, CHUNK):
            rows = list(_assets(rng, releases, first, min(CHUNK, n - first)))
            ids = session.scalars(
                insert(Asset).returning(Asset.id, sort_by_parameter_order=True), rows
            ).all()
            changes = [
                change
                for ident, row in zip(ids, rows, strict=True)
                if (change := _change(rng, ident, row)) is not None
            ]
            if changes:
                session.execute(insert(BookChange), changes)
        mark_data_changed(session)
    return time.perf_counter() - started


def _assets(
    rng: random.Random, releases: dict[str, Any], first: int, count: int
) -> Iterator[dict[str, Any]]:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    slugs, prices, weights = zip(*MODELS, strict=True)
    for k in range(first, first + count):
        i = rng.choices(range(len(slugs)), weights=weights)[0]
        release: date = releases[slugs[i]]
        start = max(release, EARLIEST_IN_SERVICE)
        in_service = start + timedelta(days=rng.randrange((LAST_IN_SERVICE - start).days + 1))
        currency, usd_per_unit, _ = rng.choices(CURRENCIES, weights=[c[2] for c in CURRENCIES])[0]
        method = rng.choices([m[0] for m in METHODS], weights=[m[1] for m in METHODS])[0]
        gpus = rng.choice((1, 4, 8, 8, 8))
        cost = round(prices[i] * gpus * rng.uniform(0.85, 1.10) / usd_per_unit, 2)
        macrs = method == "macrs"
        yield {
            "tag": f"BENCH-{k:06d}",
            "model_slug": slugs[i],
            "gpu_count": gpus,
            "in_service_on": in_service,
            "acquisition_cost": cost,
            "currency": currency,
            "salvage": 0.0 if macrs or rng.random() < 0.7 else round(cost * 0.05, 2),
            "book_method": method,
            "life_months": 60 if macrs else rng.choice((36, 48, 60, 60, 72)),
            "location": rng.choice(("Frankfurt DC1", "Ashburn", "Singapore", "")),
            "status": rng.choices(("active", "idle", "retired"), weights=(90, 7, 3))[0],
            "notes": "",
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }


def _change(rng: random.Random, ident: int, row: dict[str, Any]) -> dict[str, Any] | None:
    """One asset in fifty gets a longer life from its second year on."""
    if row["book_method"] == "macrs" or rng.random() >= 0.02:
        return None
    start: date = row["in_service_on"]
    month = date(start.year + 1, start.month, 1)
    return {
        "asset_id": ident,
        "effective_month": f"{month:%Y-%m}",
        "new_life_months": row["life_months"] + 12,
        "new_salvage": None,
        "recorded_at": datetime(2026, 7, 1, tzinfo=UTC),
    }


# --- the runs -----------------------------------------------------------------------------------


class Counted:
    """Counts engine model states, ages valued and exact book schedules while the runs go."""

    def __init__(self) -> None:
        self.states = self.ages = self.schedules = 0
        init, at, schedule = ModelValues.__init__, ModelValues.at, finance.BookTerms.schedule

        def counted_init(model: ModelValues, *args: Any, **kwargs: Any) -> None:
            self.states += 1
            init(model, *args, **kwargs)

        def counted_at(model: ModelValues, ages: Any) -> Any:
            self.ages += len(ages)
            return at(model, ages)

        def counted_schedule(terms: finance.BookTerms) -> Any:
            self.schedules += 1
            return schedule(terms)

        ModelValues.__init__ = counted_init  # type: ignore[method-assign]
        ModelValues.at = counted_at  # type: ignore[method-assign]
        finance.BookTerms.schedule = counted_schedule  # type: ignore[method-assign]

    def take(self) -> tuple[int, int, int]:
        out = (self.states, self.ages, self.schedules)
        self.states = self.ages = self.schedules = 0
        return out


def rss_mb() -> float:
    """Resident memory of this process now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


_EXPORT_SQL = (
    "SELECT a.id, a.tag, a.model_slug, a.status, a.gpu_count, a.in_service_on, "
    "a.acquisition_cost, a.currency, a.salvage, a.book_method, a.life_months, "
    "c.effective_month, c.new_life_months, c.new_salvage "
    "FROM assets a LEFT JOIN asset_book_changes c ON c.asset_id = a.id "
    "ORDER BY a.id, c.effective_month"
)


def _export(url: str) -> tuple[int, int]:
    """The same rows as the valuation reads, exported as CSV with no valuation: (lines, bytes)."""
    if make_url(url).get_backend_name() == "postgresql":
        import psycopg

        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        size = lines = 0
        query = f"COPY ({_EXPORT_SQL}) TO STDOUT WITH CSV"
        with (
            psycopg.connect(plain) as connection,
            connection.cursor() as cursor,
            cursor.copy(query) as copy,
        ):
            for data in copy:
                size += len(data)
                lines += bytes(data).count(b"\n")
        return lines, size
    import csv
    import io
    import sqlite3

    connection = sqlite3.connect(make_url(url).database or "")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    lines = size = 0
    cursor = connection.execute(_EXPORT_SQL)
    while rows := cursor.fetchmany(5000):
        writer.writerows(rows)
        lines += len(rows)
        size += len(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    connection.close()
    return lines, size


async def _drive(url: str, n: int) -> list[dict[str, Any]]:
    settings = Settings(database_url=url, api_key_secret="bench", json_logs=False)
    app = create_app(settings)
    counted = Counted()
    results = []
    async with app.router.lifespan_context(app):
        # Start-up's background work (today's calibration, then today's default fleet
        # question: the register read whole and its book values), waited for so that it
        # competes with no phase; the phases then see what a started server has.
        started, before = _clocks(), rss_mb()
        warming = resources(app).warm_up
        if warming is not None:
            await asyncio.to_thread(warming.join)
        results.append(_row("start-up warm-up", started, 0, before, rss_mb(), counted.take()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            started, before = _clocks(), rss_mb()
            warm = await client.get(
                "/residual", params={"model": "nvidia-h100-sxm5-80gb", "as_of": AS_OF}
            )
            assert warm.status_code == 200, warm.text
            results.append(_row("calibrate (once)", started, 0, before, rss_mb(), counted.take()))

            started, before = _clocks(), rss_mb()
            lines, size = await asyncio.to_thread(_export, url)
            note = f"{lines:,} lines, {size / 1e6:.1f} MB"
            results.append(
                _row("export (no valuation)", started, n, before, rss_mb(), (0, 0, 0), note)
            )

            for phase in ("csv (streamed)", "csv again"):
                started, before = _clocks(), rss_mb()
                lines, chunks, size, peak = await _stream_csv(app)
                assert lines - n - 1 in (1, 2, 3), lines  # header, assets, totals per currency
                note = f"{chunks} chunks, {size / 1e6:.1f} MB"
                results.append(_row(phase, started, n, before, peak, counted.take(), note))

            # A question nothing asked yet (another premise): totals and engine answers cold.
            cold = {"as_of": AS_OF, "limit": 100, "premise": "orderly"}
            for phase in ("json page 1 (cold)", "json page 1 (warm)"):
                started, before = _clocks(), rss_mb()
                response = await client.get("/valuations", params=cold)
                assert response.status_code == 200, response.text
                results.append(_row(phase, started, 100, before, rss_mb(), counted.take()))

            # The CSV's question: its totals were left by the CSV.
            started, before = _clocks(), rss_mb()
            response = await client.get("/valuations", params={"as_of": AS_OF, "limit": 100})
            assert response.status_code == 200, response.text
            cursor = response.json()["next_cursor"]
            results.append(
                _row("json page 1 (after csv)", started, 100, before, rss_mb(), counted.take())
            )

            started, before = _clocks(), rss_mb()
            params = {"as_of": AS_OF, "limit": 100, "cursor": cursor}
            response = await client.get("/valuations", params=params)
            assert response.status_code == 200, response.text
            results.append(_row("json page 2", started, 100, before, rss_mb(), counted.take()))

            started, before = _clocks(), rss_mb()
            pages, seen, cursor = 0, 0, None
            while True:
                params = {"as_of": AS_OF, "limit": 1000} | ({"cursor": cursor} if cursor else {})
                response = await client.get("/valuations", params=params)
                assert response.status_code == 200, response.text
                body = response.json()
                pages, seen, cursor = pages + 1, seen + len(body["items"]), body["next_cursor"]
                if cursor is None:
                    break
            assert seen == n, seen
            note = f"{pages} pages"
            results.append(
                _row("json (all pages)", started, n, before, rss_mb(), counted.take(), note)
            )

            # Another question never asked, the register's columns kept from the cold page.
            other = {"as_of": AS_OF, "limit": 100, "premise": "forced", "currency": "EUR"}
            started, before = _clocks(), rss_mb()
            response = await client.get("/valuations", params=other)
            assert response.status_code == 200, response.text
            results.append(
                _row("json page 1 (new q.)", started, 100, before, rss_mb(), counted.take())
            )

            # A write (one asset's GPU count), then new questions: the same closed month, and
            # an as_of whose closed month no page asked yet. A write moves the data version
            # but not the evidence version (an asset is not market evidence), so the first
            # answer after it, timed on its own row, finds the calibration kept.
            for phase, params in (
                ("after write, new q.", {"as_of": AS_OF, "premise": "orderly", "currency": "GBP"}),
                ("after write, new month", {"as_of": "2026-05-31", "premise": "forced"}),
            ):
                await asyncio.to_thread(_write_one, app, len(results))
                started, before = _clocks(), rss_mb()
                warm = await client.get(
                    "/residual",
                    params={"model": "nvidia-h100-sxm5-80gb", "as_of": params["as_of"]},
                )
                assert warm.status_code == 200, warm.text
                results.append(
                    _row(f"  first answer, {phase}", started, 0, before, rss_mb(), counted.take())
                )
                started, before = _clocks(), rss_mb()
                response = await client.get("/valuations", params={**params, "limit": 100})
                assert response.status_code == 200, response.text
                results.append(_row(phase, started, 100, before, rss_mb(), counted.take()))
    return results


def _write_one(app: Any, k: int) -> None:
    """One asset's GPU count changed through the ORM and the app's own sessions, as the API
    writes it (its revision and the data version move, and the app knows at once)."""
    with unit_of_work(resources(app).sessions) as session:
        asset = session.get(Asset, 1 + 997 * k)
        assert asset is not None
        asset.gpu_count += 1


async def _stream_csv(app: Any) -> tuple[int, int, int, float]:
    """GET /valuations?format=csv through raw ASGI: count lines and bytes, keep nothing, and
    sample resident memory at every chunk."""
    lines = chunks = size = 0
    peak = rss_mb()
    requested, done = False, asyncio.Event()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/valuations", "raw_path": b"/valuations",
        "query_string": f"as_of={AS_OF}&format=csv".encode(), "root_path": "",
        "headers": [(b"host", b"bench")], "client": ("bench", 1), "server": ("bench", 80),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal lines, chunks, size, peak
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            lines, size, chunks = lines + body.count(b"\n"), size + len(body), chunks + bool(body)
            peak = max(peak, rss_mb())
            if not message.get("more_body"):
                done.set()

    await app(scope, receive, send)
    return lines, chunks, size, peak


def _clocks() -> tuple[float, float]:
    """Wall time and this process's CPU time (every thread): on a shared machine the CPU
    time is the steadier of the two."""
    return time.perf_counter(), time.process_time()


def _row(
    phase: str,
    started: tuple[float, float],
    rows: int,
    rss_before: float,
    rss_peak: float,
    counts: tuple[int, int, int],
    note: str = "",
) -> dict[str, Any]:
    wall = time.perf_counter() - started[0]
    return {
        "phase": phase,
        "wall_s": wall,
        "cpu_s": time.process_time() - started[1],
        "rows_per_s": rows / wall if rows else 0.0,
        "rss_before": rss_before,
        "rss_peak": max(rss_peak, rss_before),
        "states": counts[0],
        "ages": counts[1],
        "schedules": counts[2],
        "note": note,
    }


def _table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'phase':<24} {'wall s':>8} {'cpu s':>7} {'rows/s':>9} {'RSS MB':>7} {'peak':>7} "
        f"{'states':>7} {'ages':>7} {'schedules':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['phase']:<24} {r['wall_s']:>8.3f} {r['cpu_s']:>7.3f} {r['rows_per_s']:>9,.0f} "
            f"{r['rss_before']:>7.0f} {r['rss_peak']:>7.0f} {r['states']:>7,} {r['ages']:>7,} "
            f"{r['schedules']:>9,}  {r['note']}"
        )
    by = {r["phase"]: r for r in results}
    csv_s, export_s = by["csv (streamed)"]["wall_s"], by["export (no valuation)"]["wall_s"]
    print(f"csv / export: {csv_s / export_s:.1f}x (target <= 10x; csv target <= 2 s on PostgreSQL)")
    print(
        f"first JSON page: cold {by['json page 1 (cold)']['wall_s']:.3f} s, "
        f"warm {by['json page 1 (warm)']['wall_s']:.3f} s, "
        f"after the CSV {by['json page 1 (after csv)']['wall_s']:.3f} s (target <= 0.3 s); "
        f"page 2 {by['json page 2']['wall_s']:.3f} s"
    )
    kept = by["json page 1 (new q.)"]["wall_s"]
    print(
        f"first JSON page of a new question: register kept {kept:.3f} s, "
        f"right after a write {by['after write, new q.']['wall_s']:.3f} s "
        f"(+{by['  first answer, after write, new q.']['wall_s']:.3f} s for the first answer "
        "after it), "
        f"after a write on a new closed month {by['after write, new month']['wall_s']:.3f} s"
    )
    csv_row = by["csv (streamed)"]
    print(f"memory while streaming: +{csv_row['rss_peak'] - csv_row['rss_before']:.0f} MB RSS")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
