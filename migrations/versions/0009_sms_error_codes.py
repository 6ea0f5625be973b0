"""SMS: why a message failed as a code the portal translates (error keeps the provider's words)

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=32), nullable=False, server_default=""))
    # Failures from before have only the provider's words: they are shown as a plain failure.
    op.execute("UPDATE sms_messages SET error_code = 'failed' WHERE status = 'failed'")


def downgrade() -> None:
    with op.batch_alter_table("sms_messages", schema=None) as batch_op:
        batch_op.drop_column("error_code")
