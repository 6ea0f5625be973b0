"""Web meetings: usage per user (tenant billed, current meeting, sessions held with their minutes)

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_meetings") as batch:
        batch.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("last_opened_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("usage_checked_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(batch.f("fk_web_meetings_tenant_id_tenants"), "tenants", ["tenant_id"], ["id"],
                                 ondelete="CASCADE")
        batch.create_index(batch.f("ix_web_meetings_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "web_meeting_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["web_meetings.id"],
                                name=op.f("fk_web_meeting_sessions_meeting_id_web_meetings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_meeting_sessions")),
        sa.UniqueConstraint("meeting_id", "uuid", name="uq_web_meeting_sessions_meeting_uuid"),
    )
    with op.batch_alter_table("web_meeting_sessions") as batch:
        batch.create_index(batch.f("ix_web_meeting_sessions_meeting_id"), ["meeting_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_meeting_sessions") as batch:
        batch.drop_index(batch.f("ix_web_meeting_sessions_meeting_id"))
    op.drop_table("web_meeting_sessions")
    with op.batch_alter_table("web_meetings") as batch:
        batch.drop_index(batch.f("ix_web_meetings_tenant_id"))
        batch.drop_constraint(batch.f("fk_web_meetings_tenant_id_tenants"), type_="foreignkey")
        batch.drop_column("usage_checked_at")
        batch.drop_column("last_opened_at")
        batch.drop_column("active")
        batch.drop_column("tenant_id")
