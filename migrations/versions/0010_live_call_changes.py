"""Live calls: a change feed (live_call_changes) written by triggers in the same transaction as the change

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEEP = 100000  # changes kept; a reader further behind starts again from a full list

SQLITE = [
    """CREATE TRIGGER live_calls_change_insert AFTER INSERT ON live_calls BEGIN
         INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
         VALUES (NEW.node_id, NEW.tenant_id, NEW.pbx_call_id); END""",
    """CREATE TRIGGER live_calls_change_update AFTER UPDATE ON live_calls BEGIN
         INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
         SELECT OLD.node_id, OLD.tenant_id, OLD.pbx_call_id
         WHERE OLD.tenant_id IS NOT NEW.tenant_id OR OLD.node_id IS NOT NEW.node_id
            OR OLD.pbx_call_id IS NOT NEW.pbx_call_id;
         INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
         VALUES (NEW.node_id, NEW.tenant_id, NEW.pbx_call_id); END""",
    """CREATE TRIGGER live_calls_change_delete AFTER DELETE ON live_calls BEGIN
         INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
         VALUES (OLD.node_id, OLD.tenant_id, OLD.pbx_call_id); END""",
    f"""CREATE TRIGGER live_call_changes_prune AFTER INSERT ON live_call_changes
         WHEN NEW.id % 1000 = 0 BEGIN
         DELETE FROM live_call_changes WHERE id <= NEW.id - {KEEP}; END""",
]

# PostgreSQL: one function for the three operations. Issue 26's LISTEN/NOTIFY source plugs in here
# (a pg_notify('live_calls', NEW.id::text) beside the INSERT), the table staying the source of truth.
POSTGRES = [
    """CREATE FUNCTION live_calls_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
             OR OLD.node_id <> NEW.node_id OR OLD.pbx_call_id <> NEW.pbx_call_id)) THEN
           INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
           VALUES (OLD.node_id, OLD.tenant_id, OLD.pbx_call_id);
         END IF;
         IF TG_OP <> 'DELETE' THEN
           INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
           VALUES (NEW.node_id, NEW.tenant_id, NEW.pbx_call_id);
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER live_calls_change AFTER INSERT OR UPDATE OR DELETE ON live_calls
       FOR EACH ROW EXECUTE FUNCTION live_calls_change()""",
    f"""CREATE FUNCTION live_call_changes_prune() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         DELETE FROM live_call_changes WHERE id <= NEW.id - {KEEP};
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER live_call_changes_prune AFTER INSERT ON live_call_changes
       FOR EACH ROW WHEN (NEW.id % 1000 = 0) EXECUTE FUNCTION live_call_changes_prune()""",
]


def upgrade() -> None:
    op.create_table(
        "live_call_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("pbx_call_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_call_changes")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES if postgres else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS live_calls_change ON live_calls")
        op.execute("DROP FUNCTION IF EXISTS live_calls_change()")
        op.execute("DROP TABLE live_call_changes")  # its own trigger goes with it
        op.execute("DROP FUNCTION IF EXISTS live_call_changes_prune()")
        return
    for name in ("live_calls_change_insert", "live_calls_change_update", "live_calls_change_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("live_call_changes")
