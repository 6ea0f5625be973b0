"""Provisioning fetch log: the outcome of every request and the tenant whose key it carried

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provisioning_fetches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=24), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("tenant_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_provisioning_fetches_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_provisioning_fetches_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_provisioning_fetches_tenant_id_tenants"), "tenants",
                                    ["tenant_id"], ["id"], ondelete="CASCADE")
    # Rows from before: their HTTP result says enough to file them under an outcome.
    op.execute("UPDATE provisioning_fetches SET outcome = CASE result WHEN 200 THEN 'served' "
               "WHEN 401 THEN 'bad_credentials' WHEN 429 THEN 'rate_limited' ELSE '' END")


def downgrade() -> None:
    with op.batch_alter_table("provisioning_fetches", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_provisioning_fetches_tenant_id_tenants"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_provisioning_fetches_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_provisioning_fetches_outcome"))
        batch_op.drop_column("tenant_id")
        batch_op.drop_column("outcome")
