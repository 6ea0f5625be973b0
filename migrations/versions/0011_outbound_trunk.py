"""Tenants: the outbound trunk (PJSIP endpoint on Asterisk, sofia gateway on FreeSWITCH) calls go out through

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty: no trunk, so existing tenants keep refusing outside numbers until an operator names one.
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outbound_trunk", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("outbound_trunk")
