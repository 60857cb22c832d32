"""assets: the asset register and its prospective changes of life or salvage

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tag", sa.String(length=80), nullable=False),
        sa.Column("model_slug", sa.String(length=80), nullable=False),
        sa.Column("gpu_count", sa.Integer(), nullable=False),
        sa.Column("in_service_on", sa.Date(), nullable=False),
        sa.Column("acquisition_cost", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("salvage", sa.Float(), nullable=False),
        sa.Column("book_method", sa.String(length=20), nullable=False),
        sa.Column("life_months", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("gpu_count >= 1", name=op.f("ck_assets_gpu_count")),
        sa.CheckConstraint("acquisition_cost >= 0", name=op.f("ck_assets_cost")),
        sa.CheckConstraint(
            "salvage >= 0 AND salvage <= acquisition_cost", name=op.f("ck_assets_salvage")
        ),
        sa.CheckConstraint(
            "book_method IN ('straight_line', 'declining_balance', 'ddb', 'syd', 'macrs')",
            name=op.f("ck_assets_book_method"),
        ),
        sa.CheckConstraint("life_months BETWEEN 1 AND 600", name=op.f("ck_assets_life_months")),
        sa.CheckConstraint(
            "status IN ('active', 'idle', 'retired', 'sold')", name=op.f("ck_assets_status")
        ),
        sa.ForeignKeyConstraint(
            ["model_slug"],
            ["gpu_models.slug"],
            name=op.f("fk_assets_model_slug_gpu_models"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("tag", name=op.f("uq_assets_tag")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_in_service_on"), ["in_service_on"])
        batch_op.create_index(batch_op.f("ix_assets_location"), ["location"])
        batch_op.create_index(batch_op.f("ix_assets_model_slug"), ["model_slug"])
        batch_op.create_index(batch_op.f("ix_assets_status"), ["status"])

    op.create_table(
        "asset_book_changes",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("effective_month", sa.String(length=7), nullable=False),
        sa.Column("new_life_months", sa.Integer(), nullable=True),
        sa.Column("new_salvage", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "new_life_months IS NOT NULL OR new_salvage IS NOT NULL",
            name=op.f("ck_asset_book_changes_changes_something"),
        ),
        sa.CheckConstraint(
            "new_life_months IS NULL OR new_life_months BETWEEN 1 AND 600",
            name=op.f("ck_asset_book_changes_life_months"),
        ),
        sa.CheckConstraint(
            "new_salvage IS NULL OR new_salvage >= 0", name=op.f("ck_asset_book_changes_salvage")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_asset_book_changes_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", "effective_month", name=op.f("pk_asset_book_changes")),
    )


def downgrade() -> None:

    op.drop_table("asset_book_changes")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_status"))
        batch_op.drop_index(batch_op.f("ix_assets_model_slug"))
        batch_op.drop_index(batch_op.f("ix_assets_location"))
        batch_op.drop_index(batch_op.f("ix_assets_in_service_on"))

    op.drop_table("assets")
