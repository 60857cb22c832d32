"""an evidence version beside the data version

``data_version.version`` moves with every write of a row that feeds valuations, a fleet's
assets included, and calibrations were keyed on it, so importing or editing an asset refitted
the market model (0.4-0.7 s) though no market evidence had changed. ``evidence_version`` moves
only with writes of what a calibration is fitted on (models, observations, exchange rates, the
frontier, assumptions); calibrations key on it. It starts at 0: a process learns it afresh
with each data version.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("data_version") as batch:
        batch.add_column(
            sa.Column("evidence_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("data_version") as batch:
        batch.drop_column("evidence_version")
