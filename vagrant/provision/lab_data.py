"""ClusterPBX lab: the two things the `clusterpbx` command cannot do yet, done through ClusterPBX's own
models (run with the portal's virtualenv, as the clusterpbx user, CLUSTERPBX_CONFIG set):

    python lab_data.py queues   # one queue per lab tenant, both accounts of the tenant its agents
    python lab_data.py accounts # the lab's SIP accounts as tab-separated lines (for smoke.sh, softphones)

Both are idempotent. Every name comes from ../lab.env.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

from clusterpbx.control.config import load_settings
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import Extension, PbxNode, Queue, QueueMembership, Tenant, User

ACCOUNT_COLUMNS = ["node", "kind", "server", "domain", "extension", "sip_username", "sip_password", "email"]


def lab_env(path: Path = Path(__file__).resolve().parent.parent / "lab.env") -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def tenants(env: dict[str, str]) -> list[tuple[str, str, str, list[str]]]:
    """(node, domain, queue number, [emails]) for each PBX of the lab."""
    return [(env["AST_NODE"], env["AST_DOMAIN"], env["AST_QUEUE_NUMBER"], [env["AST_EMAIL_A"], env["AST_EMAIL_B"]]),
            (env["FS_NODE"], env["FS_DOMAIN"], env["FS_QUEUE_NUMBER"], [env["FS_EMAIL_A"], env["FS_EMAIL_B"]])]


def ensure_queues(db, env: dict[str, str]) -> list[str]:
    done = []
    for _node, domain, number, emails in tenants(env):
        tenant = db.scalar(select(Tenant).where(Tenant.domain == domain))
        if tenant is None:
            raise SystemExit(f"no tenant {domain}: run the portal provisioning first")
        queue = db.scalar(select(Queue).where(Queue.tenant_id == tenant.id, Queue.name == env["LAB_QUEUE_NAME"]))
        if queue is None:
            queue = Queue(tenant_id=tenant.id, name=env["LAB_QUEUE_NAME"], label="Lab support", number=number)
            db.add(queue)
            db.flush()
        for email in emails:
            user = db.scalar(select(User).where(User.email == email))
            if user is None:
                raise SystemExit(f"no user {email}: run the portal provisioning first")
            if db.scalar(select(QueueMembership).where(QueueMembership.queue_id == queue.id,
                                                       QueueMembership.user_id == user.id)) is None:
                db.add(QueueMembership(queue_id=queue.id, user_id=user.id))
        done.append(f"queue {queue.name} ({queue.number}) of {domain}: agents {', '.join(emails)}")
    db.flush()
    return done


def accounts(db, env: dict[str, str]) -> list[list[str]]:
    servers = {env["AST_NODE"]: env["LAB_ASTERISK_IP"], env["FS_NODE"]: env["LAB_PORTAL_IP"]}
    rows = []
    for node_name, domain, _number, emails in tenants(env):
        node = db.scalar(select(PbxNode).where(PbxNode.name == node_name))
        for email in emails:
            user = db.scalar(select(User).where(User.email == email))
            ext = db.scalar(select(Extension).where(Extension.user_id == user.id)) if user else None
            if node is None or ext is None:
                raise SystemExit(f"{node_name}/{email} is missing: run the portal provisioning first")
            rows.append([node.name, str(node.kind), f"{servers[node.name]}:{env['SIP_PORT']}", domain, ext.number,
                         ext.sip_username, ext.sip_password, email])
    return rows


def main(argv: list[str]) -> int:
    if argv[1:] not in (["queues"], ["accounts"]):
        print(__doc__, file=sys.stderr)
        return 2
    env = lab_env()
    engine = make_engine(load_settings().database_url)
    db = make_session_factory(engine)()
    try:
        if argv[1] == "queues":
            for line in ensure_queues(db, env):
                print(line)
        else:
            print("\t".join(ACCOUNT_COLUMNS))
            for row in accounts(db, env):
                print("\t".join(row))
        db.commit()
    finally:
        db.close()
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
