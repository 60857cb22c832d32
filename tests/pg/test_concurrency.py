"""Concurrent editors on real PostgreSQL: If-Match and the version counter lose no update."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from service.audit.orm import AuditEntry
from tests.support import Backend

pytestmark = pytest.mark.anyio

SLUG = "nvidia-h100-sxm5-80gb"
EDITORS = 8
EDITS_EACH = 100


@dataclass(frozen=True)
class Ack:
    """An edit the service acknowledged: the value sent and the revision it answered with."""

    editor: int
    value: float
    revision: int


async def edit(client: httpx.AsyncClient, editor: int, acks: list[Ack], refused: list[int]) -> None:
    """GET, then PATCH with the ETag; on 412 read again and retry, until 100 edits succeed."""
    random = Random(editor)
    for n in range(EDITS_EACH):
        value = float(1000 * (editor + 1) + n)  # unique across all editors
        for attempt in itertools.count():
            current = await client.get(f"/models/{SLUG}")
            assert current.status_code == 200, current.text
            response = await client.patch(
                f"/models/{SLUG}",
                json={"tdp_w": value},
                headers={"If-Match": current.headers["etag"]},
            )
            if response.status_code == 412:
                refused[editor] += 1
                # Back off with jitter, as a real client would (which also spares the CPU).
                await asyncio.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))
                continue
            assert response.status_code == 200, response.text
            assert response.json()["tdp_w"] == value
            acks.append(Ack(editor, value, int(response.headers["etag"].strip('"'))))
            break


async def test_eight_editors_lose_no_update(
    backend: Backend, client: httpx.AsyncClient, engine: Engine
) -> None:
    assert backend.name == "postgresql"
    started = datetime.now(UTC)
    initial = (await client.get(f"/models/{SLUG}")).json()
    acks: list[Ack] = []
    refused = [0] * EDITORS
    await asyncio.wait_for(
        asyncio.gather(*(edit(client, e, acks, refused) for e in range(EDITORS))), timeout=240
    )
    assert len(acks) == EDITORS * EDITS_EACH
    assert sum(refused) > 0, "the editors never collided: the test proved nothing"

    with Session(engine) as session:
        log = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "model",
                AuditEntry.entity_id == SLUG,
                AuditEntry.action == "update",
                AuditEntry.at >= started,
            )
            .order_by(AuditEntry.id)
        ).all()
    assert len(log) == EDITORS * EDITS_EACH

    assert log[0].before is not None and log[0].before["tdp_w"] == initial["tdp_w"]
    first = log[0].before["revision"]
    revisions = [entry.after["revision"] for entry in log if entry.after]
    assert revisions == list(range(first + 1, first + 1 + len(log)))
    for previous, entry in itertools.pairwise(log):
        assert entry.before == previous.after, (
            f"audit entry {entry.id} does not follow {previous.id}"
        )

    # Every acknowledged edit is in the log, with the value the editor sent, at its revision.
    by_revision = {entry.after["revision"]: entry.after["tdp_w"] for entry in log if entry.after}
    assert {a.revision: a.value for a in acks} == by_revision
    assert {a.editor for a in acks} == set(range(EDITORS))

    last = max(acks, key=lambda a: a.revision)
    final = (await client.get(f"/models/{SLUG}")).json()
    assert final["tdp_w"] == last.value
    assert log[-1].after is not None and final["tdp_w"] == log[-1].after["tdp_w"]
