# ruff: noqa: E501  (the v2 reasons are written out verbatim)
"""assumption defaults of valuation method v2, on rows no admin has changed

``gpuval seed`` only inserts missing assumptions, so a database seeded before method v2 kept
the v1 defaults (utilisation 0.85 of list rent, a 96-month physical life, ...) and their v1
reasons. This migration moves every row that is still as the seed wrote it (revision 1: no
``PUT /assumptions`` since) to the v2 value and reason. A row an admin has changed is the
admin's and is kept as it is. Each change is recorded in the audit log (actor
``migration 0004``, the row before and after) and bumps the data version, so cached
calibrations are rebuilt. The downgrade puts back the ``before`` of that audit entry on rows
nobody has changed since (the step is :mod:`service.assumption_defaults`).

The v2 values are written out here, not imported from the engine, so that this step keeps
doing the same thing after later releases change the defaults again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

from service import assumption_defaults
from service.assumption_defaults import Change

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration 0004"


CHANGES = (
    Change(
        "decline_prior_behind",
        old_default=0.35,
        new=(
            0.3,
            "Prior for rent decline behind the frontier: parts without the production precision enter a price-decline cycle (used A100 PCIe prices fell about 50% a year after FP8).",
        ),
        bounds=(0.0, 2.0, "per year"),
    ),
    Change(
        "decline_prior_frontier",
        old_default=0.1,
        new=(
            0.1,
            "Prior for rent decline at the frontier: parts that support the production precision are supply-constrained and their list rents sticky (flat to slowly falling).",
        ),
        bounds=(0.0, 1.0, "per year"),
    ),
    Change(
        "discount_rate",
        old_default=0.12,
        new=(
            0.12,
            "Assumption: an equity-like rate for a short-lived, volatile asset (12% a year, continuous); also the rate at which the market's term structure is read.",
        ),
        bounds=(0.005, 1.0, "per year, continuous"),
    ),
    Change(
        "market_weight_max",
        old_default=0.5,
        new=(
            0.7,
            "Assumption: a model's own recent sales are the most direct evidence of what its units sell for, weighted by their credibility n/(n + 3) (n: own sales in the last two years) up to this share; public sale prices are often listings, so never all of it.",
        ),
        bounds=(0.0, 1.0, "fraction"),
    ),
    Change(
        "physical_life_months",
        old_default=96.0,
        new=(
            72.0,
            "Assumption: the largest operators book servers over 5-6 years (Microsoft, Alphabet and Amazon 10-K filings 2022-2024), and Amazon shortened part of its AI fleet to 5 years in 2025; economic life may end earlier, when rent no longer covers running cost.",
        ),
        bounds=(12.0, 240.0, "months from first use"),
    ),
    Change(
        "scrap_fraction",
        old_default=0.02,
        new=(
            0.02,
            "Assumption: parts and recycling value at retirement; used V100s sell for 2-4% of launch price (service/data/README.md), an upper bound for scrap.",
        ),
        bounds=(0.0, 0.5, "fraction of reference price"),
    ),
    Change(
        "utilisation",
        old_default=0.85,
        new=(
            1.0,
            "Share of hours billed at the contract-level rent. The income approach values a unit at the contract-level rent its market pays (estimated from fixed-term cards against on-demand), and a committed lease pays for every hour. Lower it for units that wait between contracts: value is first-order in it.",
        ),
        bounds=(0.05, 1.0, "fraction of hours billed"),
    ),
)


def upgrade() -> None:
    assumption_defaults.upgrade(op.get_bind(), CHANGES, ACTOR)


def downgrade() -> None:
    assumption_defaults.downgrade(op.get_bind(), CHANGES, ACTOR)
