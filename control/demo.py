"""The demo company that `clusterpbx run` seeds: idempotent, so running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounts import NewUser, add_node, create_tenant, create_user
from .models import (
    DestinationGroup,
    DestinationPrefix,
    Device,
    PauseReason,
    PbxNode,
    Queue,
    QueueMembership,
    Tenant,
    User,
)

DEMO_DOMAIN = "demo.clusterpbx.test"
DEMO_PASSWORD = "Demo-2026"  # noqa: S105 (documented demo login; the demo is loopback-only)


@dataclass(frozen=True)
class DemoUser:
    email: str
    first: str
    last: str
    ext: str
    dept: str
    lang: str = "fr"
    role: str = "user"


DEMO_USERS = [
    DemoUser("marie.tremblay@demo.clusterpbx.test", "Marie", "Tremblay", "201", "Ventes"),
    DemoUser("jp.vallee@demo.clusterpbx.test", "JP", "Vallée", "202", "Soutien"),
    DemoUser("mamadou.kone@demo.clusterpbx.test", "Mamadou", "Koné", "203", "Soutien"),
    DemoUser("emma.wilson@demo.clusterpbx.test", "Emma", "Wilson", "204", "Sales", "en"),
    DemoUser("francois.cote@demo.clusterpbx.test", "François", "Côté", "205", "Direction"),
    DemoUser("lea.gagnon@demo.clusterpbx.test", "Léa", "Gagnon", "206", "Ventes"),
    DemoUser("olivier.roy@demo.clusterpbx.test", "Olivier", "Roy", "207", "Comptabilité"),
    DemoUser("sophie.bouchard@demo.clusterpbx.test", "Sophie", "Bouchard", "208", "Soutien"),
    DemoUser("liam.smith@demo.clusterpbx.test", "Liam", "Smith", "209", "Sales", "en"),
    DemoUser("admin@demo.clusterpbx.test", "Admin", "Démo", "210", "TI", "fr", "tenant_admin"),
    DemoUser("operateur@demo.clusterpbx.test", "Opérateur", "Démo", "211", "Exploitation", "fr", "operator"),
]


def seed_demo(db: Session, *, ami_port: int = 5038, esl_port: int = 8021, spool_path: str = "") -> Tenant:
    node = db.scalar(select(PbxNode).where(PbxNode.name == "demo-asterisk"))
    if node is None:
        node = add_node(db, "demo-asterisk", "asterisk", "127.0.0.1", ami_port, "clusterpbx", "demo-secret",
                        spool_path=spool_path, sip_domain=DEMO_DOMAIN)
        add_node(db, "demo-freeswitch", "freeswitch", "127.0.0.1", esl_port, "", "ClueCon",
                 spool_path=spool_path)
    tenant = db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN))
    if tenant is None:
        tenant = create_tenant(db, "Démo Inc.", DEMO_DOMAIN, node)
        groups = {
            "Local Montréal": ["514", "438", "263"],
            "Sans frais": ["1800", "1833", "1844", "1855", "1866", "1877", "1888"],
            "Canada": ["1204", "1226", "1236", "1249", "1250", "1306", "1343", "1403", "1416", "1418",
                       "1450", "1506", "1514", "1519", "1579", "1581", "1587", "1604", "1613", "1647",
                       "1705", "1709", "1778", "1780", "1807", "1819", "1867", "1873", "1902", "1905"],
        }
        for name, prefixes in groups.items():
            db.add(DestinationGroup(tenant_id=tenant.id, name=name,
                                    prefixes=[DestinationPrefix(prefix=p) for p in prefixes]))
        for label in ("Pause café", "Dîner", "Réunion", "Formation"):
            db.add(PauseReason(tenant_id=tenant.id, label=label))
        db.add_all([Queue(tenant_id=tenant.id, name="support", label="Soutien", number="7001"),
                    Queue(tenant_id=tenant.id, name="sales", label="Ventes", number="7002")])
        db.flush()
    groups_all = db.scalars(select(DestinationGroup).where(DestinationGroup.tenant_id == tenant.id)).all()
    queues = {q.name: q for q in db.scalars(select(Queue).where(Queue.tenant_id == tenant.id))}
    vendors = [("yealink", "T54W"), ("grandstream", "GRP2614"), ("polycom", "VVX450"), ("cisco", "CP-8851"),
               ("snom", "D785"), ("fanvil", "X6U")]
    for i, du in enumerate(DEMO_USERS):
        if db.scalar(select(User).where(User.email == du.email)):
            continue
        user = create_user(db, tenant, NewUser(du.email, du.first, du.last, DEMO_PASSWORD, du.ext, du.dept,
                                               du.lang, du.role))
        user.destination_groups = list(groups_all[: 2 + (i % 2)])
        user.can_use_blf = i < 4
        queue_names = ["support"] if du.dept in ("Soutien",) else ["sales"] if du.dept in ("Ventes", "Sales") else []
        if du.role == "tenant_admin":
            queue_names = ["support", "sales"]
        for qn in queue_names:
            db.add(QueueMembership(queue_id=queues[qn].id, user_id=user.id))
        if i < len(vendors):
            vendor, model = vendors[i]
            db.add(Device(tenant_id=tenant.id, user_id=user.id, mac=f"0015650000{i:02x}", vendor=vendor,
                          model=model, label=f"{du.first} {du.last}"))
    db.flush()
    return tenant
