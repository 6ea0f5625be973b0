"""Live calls: PostgreSQL's live_calls trigger also sends NOTIFY cpbx_live_calls (the node id), so the web
servers' notifiers wake up on a change instead of polling

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The channel, cpbx_live_calls, is the one web/live/feed.py LISTENs on (feed.CHANNEL).

# PostgreSQL delivers a notification at commit, and only one per transaction for the same channel and
# payload: a projection writing 2,000 calls of one node in one transaction sends one NOTIFY. The table
# (live_call_changes) stays the source of truth; the notification only says "look now".
NOTIFYING = """CREATE OR REPLACE FUNCTION live_calls_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
             OR OLD.node_id <> NEW.node_id OR OLD.pbx_call_id <> NEW.pbx_call_id)) THEN
           INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
           VALUES (OLD.node_id, OLD.tenant_id, OLD.pbx_call_id);
           PERFORM pg_notify('cpbx_live_calls', OLD.node_id::text);
         END IF;
         IF TG_OP <> 'DELETE' THEN
           INSERT INTO live_call_changes (node_id, tenant_id, pbx_call_id)
           VALUES (NEW.node_id, NEW.tenant_id, NEW.pbx_call_id);
           PERFORM pg_notify('cpbx_live_calls', NEW.node_id::text);
         END IF;
         RETURN NULL;
       END $$"""

# Migration 0010's function.
SILENT = """CREATE OR REPLACE FUNCTION live_calls_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
       END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite has no NOTIFY: its notifiers poll (one server)
        op.execute(NOTIFYING)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SILENT)
