"""Administration: audit log, admin objects

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("actor_label", sa.String(length=255), nullable=False, server_default=""))
        batch.create_index("ix_audit_log_tenant_at", ["tenant_id", "at"], unique=False)
        batch.drop_constraint("fk_audit_log_tenant_id_tenants", type_="foreignkey")
        batch.create_foreign_key("fk_audit_log_tenant_id_tenants", "tenants", ["tenant_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("fk_audit_log_tenant_id_tenants", type_="foreignkey")
        batch.create_foreign_key("fk_audit_log_tenant_id_tenants", "tenants", ["tenant_id"], ["id"],
                                 ondelete="CASCADE")
        batch.drop_index("ix_audit_log_tenant_at")
        batch.drop_column("actor_label")
