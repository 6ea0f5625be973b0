"""REST API tokens: integration tokens (tenant + role, no user), expiry, revocation, display prefix

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("role", sa.Enum("user", "tenant_admin", "operator", name="api_token_role",
                                                      native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column("prefix", sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_api_tokens_tenant_id_tenants"), "tenants", ["tenant_id"], ["id"],
                                    ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_api_tokens_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_tenant_id"))
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_tenant_id_tenants"), type_="foreignkey")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("prefix")
        batch_op.drop_column("role")
        batch_op.drop_column("tenant_id")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
