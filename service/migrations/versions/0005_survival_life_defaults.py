# ruff: noqa: E501  (the reasons are written out verbatim)
"""assumption defaults of the survival-based life, on rows no admin has changed

Method 2026.3 reads a unit's life from its survival curve: the physical life becomes the
oldest a unit can work (120 months: units seven years old still sell used as working parts),
and the hazard of failure or retirement grows faster with age (0.5 a year), so that half the
units are retired by about six years, as operators book their servers. A database seeded
before it keeps the 72-month cap and the 0.3 growth; this migration moves the rows that are
still as the seed (or migration 0004) wrote them, records each move in the audit log (actor
``migration 0005``) and bumps the data version; a row an admin has changed is kept. The step
is :mod:`service.assumption_defaults`; the values are written out here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from service import assumption_defaults
from service.assumption_defaults import Change

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration 0005"

CHANGES = (
    Change(
        "physical_life_months",
        old_default=72.0,
        new=(
            120.0,
            "Assumption: the oldest a unit can work, a cap on the survival curve below rather than the usual life: units seven years old still sell used as working parts (used T4s, released in September 2018, sold on eBay for about $543 in January 2026: service/data/observations.csv). The usual life is set by the hazard: with its defaults half the units are retired by about six years, as the largest operators book their servers (5-6 years: Microsoft, Alphabet and Amazon 10-K filings 2022-2024; Amazon shortened part of its AI fleet to 5 years in 2025), and economic life may end earlier, when rent no longer covers running cost.",
        ),
        bounds=(12.0, 240.0, "months from first use"),
    ),
    Change(
        "failure_hazard_per_year",
        old_default=0.02,
        new=(
            0.02,
            "Assumption: the rate at which new units fail or are retired. Meta's Llama 3 report (2024, section 3.3.4) counts 256 GPU-related interruptions over 16,384 H100s in 54 days, about 10.6% a GPU-year at full load, an upper bound on failures since most are repaired; a few per cent a year when new.",
        ),
        bounds=(0.0, 0.5, "failures per unit-year at age 0"),
    ),
    Change(
        "hazard_growth_per_year",
        old_default=0.3,
        new=(
            0.5,
            "Assumption: growth of the hazard of failure or retirement with age (wear-out, and older units leaving fleets as operators replace them). At 0.5 the hazard is 2% a year new, 15% at four years and 40% at six: half the units survive to about six years (the operators' 5-6-year books), one in eight to eight years and almost none to ten (physical_life_months caps the curve).",
        ),
        bounds=(0.0, 2.0, "per year of age (Gompertz)"),
    ),
)


def upgrade() -> None:
    assumption_defaults.upgrade(op.get_bind(), CHANGES, ACTOR, earlier=("migration 0004",))


def downgrade() -> None:
    assumption_defaults.downgrade(op.get_bind(), CHANGES, ACTOR)
