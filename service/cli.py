"""``gpuval``: serve, migrate, seed and import."""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from service import schema
from service.audit.recorder import set_actor
from service.config import Settings
from service.db import make_engine, make_sessionmaker, normalise_url, unit_of_work
from service.errors import ServiceError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("service.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    # Start-up allocates many objects that live as long as the process and makes few cycles:
    # the collector would only walk them again and again (about a sixth of the CPU of a cold
    # `serve`). Paused here; a served app resumes it once it has started (see
    # `Resources.resume_gc`), every other command when it ends.
    gc.disable()
    try:
        return int(args.func(args, settings))
    except ServiceError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        for err in exc.errors[:50]:
            where = f"line {err.line}: " if err.line is not None else ""
            print(f"  {where}{err.field}: {err.reason}", file=sys.stderr)
        if len(exc.errors) > 50:
            print(f"  … and {len(exc.errors) - 50} more", file=sys.stderr)
        return 2
    finally:
        gc.enable()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpuval", description="GPU valuation service.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the API (the embedded default migrates and seeds)")
    serve.add_argument("--host", help="bind address (default: settings HOST)")
    serve.add_argument("--port", type=int, help="port (default: settings PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        choices=range(1, 65),
        metavar="N",
        help="server processes, each calibrating once (default 1; README: sizing workers)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema to the latest migration")
    migrate.set_defaults(func=cmd_migrate)

    seed = sub.add_parser("seed", help="load the reference catalogue (idempotent)")
    seed.set_defaults(func=cmd_seed)

    imp = sub.add_parser("import", help="import models or observations from CSV or JSON")
    imp.add_argument("what", choices=["models", "observations"])
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--on-conflict", choices=["error", "skip"], default="error", help="models only"
    )
    imp.set_defaults(func=cmd_import)

    back = sub.add_parser(
        "backtest", help="walk-forward backtest of /quote and /residual vs naive baselines"
    )
    back.add_argument(
        "--start", type=date.fromisoformat, default=date(2023, 7, 1), help="first origin"
    )
    back.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    back.add_argument(
        "--no-leave-out",
        dest="leave_out",
        action="store_false",
        help="skip the leave-one-provider-out and leave-one-model-out refits (faster)",
    )
    back.set_defaults(func=cmd_backtest)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="issue a key (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated: read,write,admin")
    create.set_defaults(func=cmd_keys_create)
    listing = keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    revoke.set_defaults(func=cmd_keys_revoke)

    spec = sub.add_parser("openapi", help="write the OpenAPI document the app serves")
    spec.add_argument("--output", type=Path, default=Path("openapi/openapi.json"))
    spec.set_defaults(func=cmd_openapi)
    return parser


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from service import engine
    from service.valuation import backtest_report, repository

    gc.enable()  # a long computation: collect as usual

    if (code := _require_current_schema(settings)) is not None:
        return code
    db = make_engine(settings.database_url)
    try:
        with make_sessionmaker(db)() as session:
            observations = repository.observations(session, as_of=date.max, known_at=None)
            inputs = (
                repository.models(session),
                observations,
                repository.fx_rates(session),
                repository.frontier(session),
            )
            stored = repository.assumption_values(session)
    finally:
        db.dispose()
    assumptions = engine.Assumptions.from_mapping(
        {k: v for k, v in stored.items() if k in {s.name for s in engine.ASSUMPTIONS}}
    )
    with tqdm(unit="origin", desc="backtest", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = engine.backtest(
            *inputs,
            start=args.start,
            assumptions=assumptions,
            leave_out=args.leave_out,
            progress=progress,
        )
    print(backtest_report.as_table(report))
    if args.json:
        args.json.write_text(json.dumps(backtest_report.as_json(report), indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _cli_session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            set_actor(session, key_id=None, name=_cli_actor())
            yield session
    finally:
        engine.dispose()


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from service.auth import keys

    if (code := _require_current_schema(settings)) is not None:
        return code
    with contextmanager(_cli_session)(settings) as session:
        row, plaintext = keys.create_key(
            session, keys.server_secret(settings), name=args.name, scopes=args.scopes
        )
        print(f"created key {row.id} ({row.prefix}) for {row.name!r} with scopes {row.scopes}")
    print(plaintext)
    print("Store it now: it is shown once and only its hash is kept.", file=sys.stderr)
    return 0


def cmd_keys_list(_args: argparse.Namespace, settings: Settings) -> int:
    from service.auth import keys

    if (code := _require_current_schema(settings)) is not None:
        return code
    with contextmanager(_cli_session)(settings) as session:
        for row in keys.list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            print(f"{row.id:>4}  {row.prefix}  {row.scopes:<16} {state:<18} {row.name}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from service.auth import keys

    if (code := _require_current_schema(settings)) is not None:
        return code
    with contextmanager(_cli_session)(settings) as session:
        row = keys.revoke(session, args.key)
        print(f"revoked key {row.id} ({row.prefix}) of {row.name!r}")
    return 0


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    from service.app import create_app

    document = json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(document, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    schema.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        print(f"database at revision {schema.current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def _require_current_schema(settings: Settings) -> int | None:
    engine = make_engine(settings.database_url)
    try:
        if schema.pending(engine, settings.database_url):
            print(
                "error: the database schema is not at the latest migration; run `gpuval migrate`.",
                file=sys.stderr,
            )
            return 1
    finally:
        engine.dispose()
    return None


def cmd_seed(_args: argparse.Namespace, settings: Settings) -> int:
    if (code := _require_current_schema(settings)) is not None:
        return code
    _seed(settings)
    return 0


def _seed(settings: Settings) -> None:
    from service.registry.seed import seed_all

    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            set_actor(session, key_id=None, name="seed")
            counts = seed_all(session)
    finally:
        engine.dispose()
    for count in counts:
        print(f"{count.table:<14} {count.inserted:>6} inserted  {count.total:>6} in reference data")


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from service.common import bulk
    from service.registry import service

    gc.enable()  # a file of any size: collect as usual

    if (code := _require_current_schema(settings)) is not None:
        return code
    path: Path = args.file
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    content_type = "application/json" if path.suffix.lower() == ".json" else "text/csv"
    rows = bulk.parse(path.read_bytes(), content_type)
    engine = make_engine(settings.database_url)
    try:
        with (
            tqdm(
                total=len(rows), unit="row", desc=f"validating {path.name}", file=sys.stderr
            ) as bar,
            unit_of_work(make_sessionmaker(engine)) as session,
        ):
            set_actor(session, key_id=None, name=_cli_actor())

            def tick() -> None:
                bar.update()

            if args.what == "models":
                created, skipped = service.import_models(
                    session, rows, on_conflict=args.on_conflict, on_row=tick
                )
            else:
                created, skipped = service.import_observations(session, rows, on_row=tick), 0
    finally:
        engine.dispose()
    print(f"imported {created} {args.what}" + (f", skipped {skipped} existing" if skipped else ""))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.app import GracefulServer, create_app
    from service.observability import configure_logging
    from service.state import resources

    updates = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = settings.model_copy(update=updates)
    if settings.is_sqlite:
        _prepare_embedded(settings)
    elif (code := _require_current_schema(settings)) is not None:
        return code
    print(
        f"serving on http://{settings.host}:{settings.port} (Swagger UI at /docs)", file=sys.stderr
    )
    if args.workers > 1:  # each process builds its app from the environment, as this one would
        gc.enable()  # this process only supervises the workers
        uvicorn.run(
            "service.app:app_from_environment",
            factory=True,
            workers=args.workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=None,
            access_log=False,  # the service writes its own, with the request id
            timeout_graceful_shutdown=30,
        )
        return 0
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    app = create_app(settings)
    state = resources(app)
    state.warm_history = True
    state.resume_gc = not gc.isenabled()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,  # the service writes its own, with the request id
        timeout_graceful_shutdown=30,
    )
    GracefulServer(config, app, drain_s=settings.shutdown_drain_s).run()
    return 0


def _prepare_embedded(settings: Settings) -> None:
    """The embedded default needs no setup: migrate, and load the catalogue into an empty file.
    A file already at the latest migration is left alone (nor is Alembic imported)."""
    from service.registry import repository

    engine = make_engine(settings.database_url)
    try:
        if schema.pending(engine, settings.database_url):
            schema.upgrade(settings.database_url)
        with unit_of_work(make_sessionmaker(engine)) as session:
            empty = repository.count_models(session) == 0
    finally:
        engine.dispose()
    if empty:
        url = normalise_url(settings.database_url)
        print(f"first start on {url}: loading the reference catalogue")
        _seed(settings)


if __name__ == "__main__":
    raise SystemExit(main())
