"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "assumptions",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "minimum <= value AND value <= maximum", name=op.f("ck_assumptions_within_bounds")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_assumptions")),
    )
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_version")),
    )
    op.create_table(
        "frontier",
        sa.Column("precision", sa.String(length=8), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "precision IN ('bf16', 'fp8', 'fp4')", name=op.f("ck_frontier_precision")
        ),
        sa.PrimaryKeyConstraint("precision", name=op.f("pk_frontier")),
    )
    op.create_table(
        "fx_rates",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("usd_per_unit", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint("usd_per_unit > 0", name=op.f("ck_fx_rates_positive_rate")),
        sa.PrimaryKeyConstraint("month", "currency", name=op.f("pk_fx_rates")),
    )
    op.create_table(
        "gpu_models",
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("vendor", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=60), nullable=False),
        sa.Column("variant", sa.String(length=80), nullable=False),
        sa.Column("architecture", sa.String(length=40), nullable=False),
        sa.Column("segment", sa.String(length=20), nullable=False),
        sa.Column("release_date", sa.Date(), nullable=False),
        sa.Column("launch_price_usd", sa.Float(), nullable=True),
        sa.Column("memory_gb", sa.Float(), nullable=False),
        sa.Column("memory_bw_tbps", sa.Float(), nullable=False),
        sa.Column("tdp_w", sa.Float(), nullable=False),
        sa.Column("bf16_tflops", sa.Float(), nullable=False),
        sa.Column("fp8_tflops", sa.Float(), nullable=False),
        sa.Column("fp4_tflops", sa.Float(), nullable=False),
        sa.Column("fp8", sa.Boolean(), nullable=False),
        sa.Column("fp4", sa.Boolean(), nullable=False),
        sa.Column("form_factor", sa.String(length=60), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "segment IN ('datacenter', 'consumer')", name=op.f("ck_gpu_models_segment")
        ),
        sa.CheckConstraint(
            "bf16_tflops >= 0 AND fp8_tflops >= 0 AND fp4_tflops >= 0",
            name=op.f("ck_gpu_models_throughput"),
        ),
        sa.CheckConstraint(
            "memory_gb > 0 AND memory_bw_tbps > 0 AND tdp_w > 0",
            name=op.f("ck_gpu_models_positive_specs"),
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_gpu_models")),
    )
    with op.batch_alter_table("gpu_models", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gpu_models_architecture"), ["architecture"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gpu_models_fp4"), ["fp4"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpu_models_fp8"), ["fp8"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpu_models_segment"), ["segment"], unique=False)
        batch_op.create_index(batch_op.f("ix_gpu_models_vendor"), ["vendor"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("model_slug", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("term", sa.String(length=10), nullable=False),
        sa.Column("condition", sa.String(length=10), nullable=True),
        sa.Column("provider", sa.String(length=120), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "condition IS NULL OR condition IN ('new', 'used', 'unknown')",
            name=op.f("ck_observations_condition"),
        ),
        sa.CheckConstraint("kind IN ('lease', 'sale')", name=op.f("ck_observations_kind")),
        sa.CheckConstraint(
            "term IN ('on_demand', 'spot', '1m', '3m', '6m', '1y', '2y', '3y', 'unknown')",
            name=op.f("ck_observations_term"),
        ),
        sa.CheckConstraint("unit IN ('gpu_hour', 'gpu')", name=op.f("ck_observations_unit")),
        sa.CheckConstraint("price > 0", name=op.f("ck_observations_positive_price")),
        sa.ForeignKeyConstraint(
            ["model_slug"],
            ["gpu_models.slug"],
            name=op.f("fk_observations_model_slug_gpu_models"),
            onupdate="CASCADE",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("source_key", name=op.f("uq_observations_source_key")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observations_model_date", ["model_slug", "observed_on"], unique=False
        )
        batch_op.create_index("ix_observations_observed_on", ["observed_on"], unique=False)
        batch_op.create_index("ix_observations_recorded_at", ["recorded_at"], unique=False)
    data_version = sa.table(
        "data_version",
        sa.column("id", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("changed_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        data_version, [{"id": 1, "version": 0, "changed_at": datetime(2026, 1, 1, tzinfo=UTC)}]
    )


def downgrade() -> None:

    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_recorded_at")
        batch_op.drop_index("ix_observations_observed_on")
        batch_op.drop_index("ix_observations_model_date")

    op.drop_table("observations")
    with op.batch_alter_table("gpu_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gpu_models_vendor"))
        batch_op.drop_index(batch_op.f("ix_gpu_models_segment"))
        batch_op.drop_index(batch_op.f("ix_gpu_models_fp8"))
        batch_op.drop_index(batch_op.f("ix_gpu_models_fp4"))
        batch_op.drop_index(batch_op.f("ix_gpu_models_architecture"))

    op.drop_table("gpu_models")
    op.drop_table("fx_rates")
    op.drop_table("frontier")
    op.drop_table("data_version")
    op.drop_table("assumptions")
