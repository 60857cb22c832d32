"""The container wiring (docker-compose.yml, Dockerfile) agrees with the CLI and the settings.

No Docker engine is needed: the files are read as data and checked against ``service.cli`` and
``service.config.Settings``, so a renamed subcommand or setting breaks a test, not a deploy.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from service.cli import _parser
from service.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash"}
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


# --- docker-compose.yml --------------------------------------------------------------------


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(compose, dict), "docker-compose.yml is not a mapping"
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _tokens(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _gpuval_invocations(command: str | list[str]) -> list[list[str]]:
    """The argument lists of every ``gpuval`` call in a command, looking inside ``sh -c``."""
    tokens = _tokens(command)
    if tokens and tokens[0] in SHELLS and "-c" in tokens:
        script = tokens[tokens.index("-c") + 1]
        lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in SHELL_OPERATORS:
            segments.append([])
        else:
            segments[-1].append(token)
    return [segment[1:] for segment in segments if segment and segment[0] == "gpuval"]


def _parse_cli(argv: list[str]) -> argparse.Namespace:
    try:
        return _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on an unknown subcommand or option
        pytest.fail(f"`gpuval {' '.join(argv)}` is not accepted by the CLI (exit {exc.code})")


def _dependency_condition(service: dict[str, Any], on: str) -> str | None:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):  # the short form only waits for the container to start
        return "service_started" if on in depends else None
    entry = depends.get(on)
    return None if entry is None else entry.get("condition", "service_started")


def _container_port(entry: str | int | dict[str, Any]) -> int:
    if isinstance(entry, dict):
        return int(entry["target"])
    return int(str(entry).split("/")[0].rsplit(":", 1)[-1])


def test_the_stack_has_postgres_a_migrate_job_and_the_api(services: dict[str, Any]) -> None:
    assert {"postgres", "migrate", "api"} <= services.keys()
    assert str(services["postgres"]["image"]).startswith("postgres:16")


def test_postgres_has_a_healthcheck_for_its_own_user_and_database(
    services: dict[str, Any],
) -> None:
    postgres = services["postgres"]
    test = postgres["healthcheck"]["test"]
    words = _tokens(test[1] if test[0] == "CMD-SHELL" else test[1:])
    assert words[0] == "pg_isready"
    env = _environment(postgres)
    assert words[words.index("-U") + 1] == env["POSTGRES_USER"]
    assert words[words.index("-d") + 1] == env["POSTGRES_DB"]


def test_migrate_waits_for_healthy_postgres_and_runs_once(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert _dependency_condition(migrate, "postgres") == "service_healthy"
    assert str(migrate.get("restart")) == "no"


def test_api_waits_for_the_migrate_job_to_succeed(services: dict[str, Any]) -> None:
    assert _dependency_condition(services["api"], "migrate") == "service_completed_successfully"


def test_migrate_job_migrates_then_seeds(services: dict[str, Any]) -> None:
    calls = [argv[0] for argv in _gpuval_invocations(services["migrate"]["command"])]
    assert calls == ["migrate", "seed"]


def test_api_serves_and_checks_readiness(services: dict[str, Any]) -> None:
    api = services["api"]
    assert [argv[0] for argv in _gpuval_invocations(api["command"])] == ["serve"]
    assert any("/readyz" in str(part) for part in _tokens(api["healthcheck"]["test"]))


@pytest.mark.parametrize("name", ["migrate", "api"])
def test_every_gpuval_call_is_a_real_cli_command(services: dict[str, Any], name: str) -> None:
    invocations = _gpuval_invocations(services[name]["command"])
    assert invocations, f"{name} runs no gpuval command"
    for argv in invocations:
        _parse_cli(argv)


def test_the_cli_check_rejects_unknown_commands() -> None:
    with pytest.raises(pytest.fail.Exception):
        _parse_cli(["upgrade-db"])
    with pytest.raises(pytest.fail.Exception):
        _parse_cli(["serve", "--reload"])


@pytest.mark.parametrize("name", ["migrate", "api"])
def test_every_environment_variable_is_a_setting(services: dict[str, Any], name: str) -> None:
    env = _environment(services[name])
    assert "DATABASE_URL" in env
    assert Settings.model_config.get("env_prefix", "") == ""
    unknown = {key for key in env if key.lower() not in Settings.model_fields}
    assert not unknown, f"{name} sets variables Settings does not read: {sorted(unknown)}"


def test_environment_values_are_valid_settings(services: dict[str, Any]) -> None:
    for name in ("migrate", "api"):
        values = {key.lower(): value for key, value in _environment(services[name]).items()}
        Settings.model_validate(values)  # raises on a bad LOG_LEVEL, pool size, port …


def test_migrate_and_api_use_the_postgres_service_database(services: dict[str, Any]) -> None:
    migrate_url = _environment(services["migrate"])["DATABASE_URL"]
    api_url = _environment(services["api"])["DATABASE_URL"]
    assert migrate_url == api_url

    url = make_url(api_url)
    postgres = _environment(services["postgres"])
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgres"
    assert url.host in services
    assert url.port in (None, 5432)
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.database == postgres["POSTGRES_DB"]


def test_api_publishes_the_port_it_serves_on(services: dict[str, Any]) -> None:
    api = services["api"]
    (serve,) = _gpuval_invocations(api["command"])
    args = _parse_cli(serve)
    assert args.port is not None, "the api command should pass --port explicitly"
    assert args.host == "0.0.0.0"
    assert args.port in {_container_port(entry) for entry in api["ports"]}
    assert any(f":{args.port}/readyz" in str(part) for part in _tokens(api["healthcheck"]["test"]))


# --- Dockerfile ----------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "Dockerfile has no FROM"
    return instructions[starts[-1] :]


def _exec_form(arguments: str) -> list[str]:
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def _env_assignments(arguments: str) -> dict[str, str]:
    words = shlex.split(arguments)
    if words and "=" not in words[0]:  # legacy `ENV KEY value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    return _final_stage(_instructions(DOCKERFILE.read_text(encoding="utf-8")))


def _copied_to(stage: list[tuple[str, str]], context: Path = ROOT) -> dict[str, str]:
    """Where each build-context path copied into the stage lands in the image."""
    landed: dict[str, str] = {}
    workdir = "/"
    for keyword, arguments in stage:
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, arguments)
        if keyword not in {"COPY", "ADD"}:
            continue
        words = _exec_form(arguments)
        if any(word.startswith("--from") for word in words):
            continue  # from another stage, not from the build context
        *sources, dest = [word for word in words if not word.startswith("--")]
        dest_abs = posixpath.join(workdir, dest)
        into_dir = dest.endswith("/") or len(sources) > 1
        for source in sources:
            name = source.strip("/").removeprefix("./")
            # A directory's contents land in dest; a file lands inside dest if dest is a dir.
            is_file = not (context / name).is_dir()
            target = (
                posixpath.join(dest_abs, posixpath.basename(name))
                if into_dir and is_file
                else dest_abs
            )
            landed[name] = posixpath.normpath(target)
    return landed


def test_the_image_runs_gpuval_serve(final_stage: list[tuple[str, str]]) -> None:
    entrypoint = [_exec_form(args) for keyword, args in final_stage if keyword == "ENTRYPOINT"]
    cmd = [_exec_form(args) for keyword, args in final_stage if keyword == "CMD"]
    assert cmd, "the final stage has no CMD"
    argv = (entrypoint[-1] if entrypoint else []) + cmd[-1]
    assert argv[:2] == ["gpuval", "serve"]
    _parse_cli(argv[1:])


def test_the_image_copies_the_package_once_and_installs_it_whole(
    final_stage: list[tuple[str, str]],
) -> None:
    """The service (with its migrations and alembic.ini, which are package data) is copied
    into the build stage and installed into the venv; the runtime takes the venv only."""
    assert _copied_to(final_stage) == {}, "the runtime stage copies from the build context"
    assert not any(
        keyword == "ENV" and "PYTHONPATH" in _env_assignments(arguments)
        for keyword, arguments in final_stage
    ), "nothing should shadow the installed package"
    build = _instructions(DOCKERFILE.read_text())
    build_stage = build[: next(i for i in range(1, len(build)) if build[i][0] == "FROM")]
    landed = _copied_to(build_stage)
    assert "service" in landed and "migrations" not in landed and "alembic.ini" not in landed
    installs = [args for keyword, args in build_stage if keyword == "RUN" and "pip install" in args]
    assert installs and all(" -e " not in f" {args} " for args in installs)


def test_the_image_listens_on_8000_as_a_non_root_user(final_stage: list[tuple[str, str]]) -> None:
    env: dict[str, str] = {}
    for keyword, arguments in final_stage:
        if keyword == "ENV":
            env.update(_env_assignments(arguments))
    assert env.get("HOST") == "0.0.0.0"
    assert env.get("PORT") == "8000"
    exposed = [args.split() for keyword, args in final_stage if keyword == "EXPOSE"]
    assert ["8000"] in exposed
    users = [args for keyword, args in final_stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    healthchecks = [args for keyword, args in final_stage if keyword == "HEALTHCHECK"]
    assert healthchecks and "/healthz" in healthchecks[-1] and "urllib" in healthchecks[-1]


def test_the_dockerfile_parser_sees_continued_lines_and_stages() -> None:
    text = 'FROM a AS build\nRUN x\nFROM b\n# note\nENV A=1 \\\n    B=2\nCMD ["gpuval", "serve"]\n'
    stage = _final_stage(_instructions(text))
    assert stage == [("FROM", "b"), ("ENV", "A=1 B=2"), ("CMD", '["gpuval", "serve"]')]
    assert _env_assignments("A=1 B=2") == {"A": "1", "B": "2"}
    copies = [("WORKDIR", "/app"), ("COPY", "pyproject.toml ./"), ("COPY", "service/ pkg/")]
    assert _copied_to(copies) == {"pyproject.toml": "/app/pyproject.toml", "service": "/app/pkg"}
