"""The audit log: who changed what, when, from what to what, in the write's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service.audit.orm import AuditEntry
from service.auth.orm import ApiKey
from tests.support import H100_FIELDS, assert_problem

pytestmark = pytest.mark.anyio

SLUG = "test-audit-gpu"
OBSERVATION: dict[str, Any] = {
    "observed_on": "2025-10-01",
    "model": "nvidia-h100-sxm5-80gb",
    "kind": "lease",
    "price": 2.99,
    "currency": "USD",
    "term": "on_demand",
    "provider": "Audit Cloud",
    "region": "US",
    "source": "https://example.test/audit",
}


def entries(engine: Engine, **where: Any) -> list[AuditEntry]:
    """Audit rows, oldest first, read in a new session (never a stale snapshot)."""
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)))


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def key_id(engine: Engine, scope: str) -> int:
    with engine.connect() as connection:
        ident = connection.scalar(select(ApiKey.id).where(ApiKey.name == f"test-{scope}"))
    assert ident is not None
    return int(ident)


async def test_create_update_delete_are_each_recorded_with_actor_and_values(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    created = await client.post(
        "/models", json={"slug": SLUG, **H100_FIELDS}, headers={"X-Request-ID": "req-create-1"}
    )
    assert created.status_code == 201, created.text
    patched = await client.patch(
        f"/models/{SLUG}",
        json={"tdp_w": 650},
        headers={"If-Match": created.headers["etag"], "X-Request-ID": "req-patch-2"},
    )
    assert patched.status_code == 200, patched.text
    deleted = await client.delete(
        f"/models/{SLUG}",
        headers={"If-Match": patched.headers["etag"], "X-Request-ID": "req-delete-3"},
    )
    assert deleted.status_code == 204

    log = entries(engine, entity="model", entity_id=SLUG)
    assert [e.action for e in log] == ["create", "update", "delete"]
    writer = key_id(engine, "write")
    assert {e.actor_key_id for e in log} == {writer}
    assert {e.actor for e in log} == {"test-write"}
    assert [e.request_id for e in log] == ["req-create-1", "req-patch-2", "req-delete-3"]
    assert all(e.at is not None for e in log)

    create, update, delete = log
    assert create.before is None
    assert create.after is not None and create.after["tdp_w"] == 700
    assert create.after["slug"] == SLUG and create.after["revision"] == 1

    assert update.before is not None and update.after is not None
    assert update.before["tdp_w"] == 700 and update.after["tdp_w"] == 650
    assert update.after["revision"] == update.before["revision"] + 1
    changed = {k for k in update.after if update.after[k] != update.before[k]}
    assert changed <= {"tdp_w", "revision", "updated_at"} and "tdp_w" in changed

    assert delete.after is None
    assert delete.before is not None and delete.before["tdp_w"] == 650
    assert delete.before["revision"] == update.after["revision"]


async def test_a_generated_request_id_is_stored_when_none_is_sent(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    response = await client.post("/observations", json=OBSERVATION)
    assert response.status_code == 201
    (entry,) = entries(engine, entity="observation", entity_id=str(response.json()["id"]))
    assert entry.request_id == response.headers["x-request-id"]
    assert entry.action == "create" and entry.after is not None
    assert entry.after["provider"] == "Audit Cloud"


async def test_an_observations_import_writes_one_entry_per_row(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    before = count(engine)
    rows = [{**OBSERVATION, "provider": f"Bulk {i}", "price": 2 + i / 10} for i in range(7)]
    response = await client.post(
        "/observations/import", json=rows, headers={"X-Request-ID": "bulk-import-7"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 7
    log = entries(engine, request_id="bulk-import-7")
    assert len(log) == 7 and count(engine) == before + 7
    assert {e.action for e in log} == {"create"} and {e.entity for e in log} == {"observation"}
    assert {e.actor_key_id for e in log} == {key_id(engine, "write")}
    assert sorted(e.after["provider"] for e in log if e.after) == sorted(
        r["provider"] for r in rows
    )
    listed = await client.get("/observations", params={"provider": "Bulk", "limit": 100})
    assert {str(o["id"]) for o in listed.json()["items"]} == {e.entity_id for e in log}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/models", {"json": {"slug": "Bad Slug", **H100_FIELDS}}, 422),
        ("POST", "/models", {"json": {"slug": "nvidia-h100-sxm5-80gb", **H100_FIELDS}}, 409),
        ("POST", "/observations", {"json": {**OBSERVATION, "model": "nvidia-x999"}}, 422),
        (
            "POST",
            "/observations/import",
            {"json": [OBSERVATION, {**OBSERVATION, "price": -1}]},
            422,
        ),
        ("PATCH", "/models/nvidia-h100-sxm5-80gb", {"json": {"tdp_w": 1}}, 428),
        (
            "PATCH",
            "/models/nvidia-h100-sxm5-80gb",
            {"json": {"tdp_w": 1}, "headers": {"If-Match": '"999"'}},
            412,
        ),
        (
            "PATCH",
            "/models/nvidia-h100-sxm5-80gb",
            {
                "json": {"bf16_tflops": 0, "fp8_tflops": 0, "fp4_tflops": 0},
                "headers": {"If-Match": "*"},
            },
            422,
        ),
        ("DELETE", "/models/nvidia-a100-sxm4-80gb", {"headers": {"If-Match": "*"}}, 409),
        (
            "PUT",
            "/assumptions/utilisation",
            {"json": {"value": 7, "reason": "x"}, "headers": {"If-Match": "*"}},
            422,
        ),
    ],
)
async def test_a_refused_write_leaves_no_audit_entry(
    client: httpx.AsyncClient,
    engine: Engine,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    before = count(engine)
    assert_problem(await client.request(method, path, **kwargs), status)
    assert count(engine) == before


async def test_an_unauthorised_write_leaves_no_audit_entry(
    anon_client: httpx.AsyncClient, engine: Engine
) -> None:
    before = count(engine)
    assert_problem(await anon_client.post("/observations", json=OBSERVATION), 401)
    assert count(engine) == before


async def test_key_management_is_audited_without_the_hash(
    admin_client: httpx.AsyncClient, engine: Engine
) -> None:
    created = (await admin_client.post("/keys", json={"name": "ci", "scopes": ["read"]})).json()
    assert (await admin_client.delete(f"/keys/{created['id']}")).status_code == 204
    log = entries(engine, entity="api_key", entity_id=str(created["id"]))
    assert [e.action for e in log] == ["create", "update"]
    assert log[1].before is not None and log[1].before["revoked_at"] is None
    assert log[1].after is not None and log[1].after["revoked_at"] is not None
    assert {e.actor_key_id for e in log} == {key_id(engine, "admin")}
    for entry in log:
        for values in (entry.before, entry.after):
            assert values is None or "key_hash" not in values


async def test_get_audit_filters(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, engine: Engine
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    created = await client.post("/models", json={"slug": SLUG, **H100_FIELDS})
    tag = created.headers["etag"]
    for tdp in (600, 610, 620):
        response = await client.patch(
            f"/models/{SLUG}", json={"tdp_w": tdp}, headers={"If-Match": tag}
        )
        tag = response.headers["etag"]
    await admin_client.post("/keys", json={"name": "other", "scopes": ["read"]})

    def audit(**params: Any) -> Any:
        return admin_client.get("/audit", params=params)

    updates = (await audit(entity="model", entity_id=SLUG, action="update")).json()
    assert updates["total"] == 3 and updates["next_cursor"] is None
    assert [i["after"]["tdp_w"] for i in updates["items"]] == [600, 610, 620]
    assert [i["action"] for i in (await audit(entity="model", entity_id=SLUG)).json()["items"]] == [
        "create",
        "update",
        "update",
        "update",
    ]
    by_writer = (await audit(actor_key_id=key_id(engine, "write"), since=start.isoformat())).json()
    assert by_writer["total"] == 4 and {i["entity"] for i in by_writer["items"]} == {"model"}
    by_admin = (await audit(actor_key_id=key_id(engine, "admin"))).json()
    assert {i["entity"] for i in by_admin["items"]} == {"api_key"}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await audit(since=future)).json()["total"] == 0
    assert (await audit(until=start.isoformat(), entity="model", entity_id=SLUG)).json()[
        "total"
    ] == 0

    assert_problem(await audit(since="2025-01-01T00:00:00"), 422, "since")
    assert_problem(await audit(until="0.5"), 422, "until")
    assert_problem(await audit(action="rename"), 422, "action")
    assert_problem(await audit(cursor="not-a-cursor"), 422, "cursor")


async def test_get_audit_paginates_every_entry_once(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, engine: Engine
) -> None:
    rows = [{**OBSERVATION, "provider": f"Page {i}"} for i in range(23)]
    assert (await client.post("/observations/import", json=rows)).status_code == 201
    writer = key_id(engine, "write")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"entity": "observation", "actor_key_id": writer, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await admin_client.get("/audit", params=params)).json()
        assert page["total"] == 23 and len(page["items"]) <= 5
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23 and seen == sorted(set(seen))
    everything = (await admin_client.get("/audit", params={"limit": 1000})).json()
    assert everything["total"] > 1000 and everything["next_cursor"] is not None


async def test_get_audit_is_for_admins_only(
    client: httpx.AsyncClient, anon_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    assert_problem(await anon_client.get("/audit"), 401)
    assert_problem(await client.get("/audit"), 403)
    assert (await admin_client.get("/audit")).status_code == 200
