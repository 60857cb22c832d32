# ruff: noqa: E501  (the reasons are verbatim historical strings, compared for equality)
"""assumption defaults of valuation method v2, where the stored row still holds the v1 default

``gpuval seed`` only inserts missing assumptions, so a database seeded before method v2 kept
the v1 defaults (utilisation 0.85 of list rent, a 96-month physical life, ...) and reasons that
cited documents outside the repository. This migration moves every row that still holds the v1
default value to the v2 value, and every row that still holds the v1 reason to the v2 reason.
A value or reason an admin changed is kept as it is. Each change is recorded in the audit log
(actor ``migration 0004``) and bumps the data version, so cached calibrations are rebuilt.

The values are written out here, not imported from the engine, so that this step keeps doing
the same thing after later releases change the defaults again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration 0004"


class Change(NamedTuple):
    name: str
    old: tuple[float, str]  # (v1 default, v1 reason)
    new: tuple[float, str]  # (v2 default, v2 reason)
    bounds: tuple[float, float, str]  # v2 (minimum, maximum, unit), unchanged from v1


CHANGES = (
    Change(
        "decline_prior_behind",
        old=(
            0.35,
            "Prior for rent decline behind the frontier: the seed's 'decline cycle'; used A100 PCIe fell ~50%/yr (data/README.md); 0.335 is the appendix's mid value.",
        ),
        new=(
            0.3,
            "Prior for rent decline behind the frontier: parts without the production precision enter a price-decline cycle (used A100 PCIe prices fell about 50% a year after FP8).",
        ),
        bounds=(0.0, 2.0, "per year"),
    ),
    Change(
        "decline_prior_frontier",
        old=(
            0.1,
            "Prior for rent decline at the frontier: seed/SUMMARY.md says FP8 parts are supply-constrained (flat to rising); 0.10 is the mild end of DESIGN.md's appendix range.",
        ),
        new=(
            0.1,
            "Prior for rent decline at the frontier: parts that support the production precision are supply-constrained and their list rents sticky (flat to slowly falling).",
        ),
        bounds=(0.0, 1.0, "per year"),
    ),
    Change(
        "discount_rate",
        old=(
            0.12,
            "DESIGN.md appendix (r = 0.12): an equity-like rate for a short-lived, volatile asset.",
        ),
        new=(
            0.12,
            "Assumption: an equity-like rate for a short-lived, volatile asset (12% a year, continuous); also the rate at which the market's term structure is read.",
        ),
        bounds=(0.005, 1.0, "per year, continuous"),
    ),
    Change(
        "market_weight_max",
        old=(
            0.5,
            "Assumption: used-sale prices are thin listings, so even perfect market evidence gets at most half the weight; the income approach is the spine (DESIGN.md 4).",
        ),
        new=(
            0.7,
            "Assumption: a model's own recent sales are the most direct evidence of what its units sell for, weighted by their credibility n/(n + 3) (n: own sales in the last two years) up to this share; public sale prices are often listings, so never all of it.",
        ),
        bounds=(0.0, 1.0, "fraction"),
    ),
    Change(
        "physical_life_months",
        old=(
            96.0,
            "Assumption: 2018 V100s still rent and sell in 2026, so hardware outlives 8 years only rarely; beyond that failures, spares and vendor support end service.",
        ),
        new=(
            72.0,
            "Assumption: the largest operators book servers over 5-6 years (Microsoft, Alphabet and Amazon 10-K filings 2022-2024), and Amazon shortened part of its AI fleet to 5 years in 2025; economic life may end earlier, when rent no longer covers running cost.",
        ),
        bounds=(12.0, 240.0, "months from first use"),
    ),
    Change(
        "scrap_fraction",
        old=(
            0.02,
            "Assumption: parts and recycling value at retirement; used V100s sell for 2-4% of launch price (data/README.md), an upper bound for scrap.",
        ),
        new=(
            0.02,
            "Assumption: parts and recycling value at retirement; used V100s sell for 2-4% of launch price (service/data/README.md), an upper bound for scrap.",
        ),
        bounds=(0.0, 0.5, "fraction of reference price"),
    ),
    Change(
        "utilisation",
        old=(
            0.85,
            "DESIGN.md appendix (u = 0.85); first-order for value, so callers should override it.",
        ),
        new=(
            1.0,
            "Share of hours billed at the contract-level rent. The income approach values a unit at the contract-level rent its market pays (estimated from fixed-term cards against on-demand), and a committed lease pays for every hour. Lower it for units that wait between contracts: value is first-order in it.",
        ),
        bounds=(0.05, 1.0, "fraction of hours billed"),
    ),
)

assumptions = sa.table(
    "assumptions",
    sa.column("name", sa.String),
    sa.column("value", sa.Float),
    sa.column("unit", sa.String),
    sa.column("minimum", sa.Float),
    sa.column("maximum", sa.Float),
    sa.column("reason", sa.Text),
    sa.column("revision", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
audit_log = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_key_id", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("request_id", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
)
data_version = sa.table(
    "data_version",
    sa.column("id", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("changed_at", sa.DateTime(timezone=True)),
)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def _snapshot(row: sa.Row[tuple[object, ...]]) -> dict[str, object]:
    values = dict(row._mapping)
    at = values.get("updated_at")
    if isinstance(at, datetime):
        values["updated_at"] = at.isoformat()
    return values


def _move(forward: bool) -> None:
    """Move each row still at the ``from`` side of a change to its ``to`` side."""
    connection = op.get_bind()
    now = datetime.now(UTC)
    changed = 0
    for change in CHANGES:
        source, target = (change.old, change.new) if forward else (change.new, change.old)
        row = connection.execute(
            sa.select(assumptions).where(assumptions.c.name == change.name)
        ).first()
        if row is None:
            continue  # never seeded: ``gpuval seed`` inserts the current default
        value = target[0] if _same(row.value, source[0]) else row.value
        reason = target[1] if row.reason == source[1] else row.reason
        if not row.minimum <= value <= row.maximum:
            value = row.value  # never leave a row outside its own bounds
        if _same(value, row.value) and reason == row.reason:
            continue
        connection.execute(
            sa.update(assumptions)
            .where(assumptions.c.name == change.name)
            .values(value=value, reason=reason, revision=row.revision + 1, updated_at=now)
        )
        after = connection.execute(
            sa.select(assumptions).where(assumptions.c.name == change.name)
        ).one()
        connection.execute(
            sa.insert(audit_log).values(
                at=now,
                actor_key_id=None,
                actor=ACTOR,
                request_id=None,
                action="update",
                entity="assumption",
                entity_id=change.name,
                before=_snapshot(row),
                after=_snapshot(after),
            )
        )
        changed += 1
    if changed:
        connection.execute(
            sa.update(data_version)
            .where(data_version.c.id == 1)
            .values(version=data_version.c.version + 1, changed_at=now)
        )


def upgrade() -> None:
    _move(forward=True)


def downgrade() -> None:
    _move(forward=False)
