"""The demo company that `clusterpbx run` seeds: idempotent, so running it twice changes nothing."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.provisioning.keys import KeyRow, phone_of, validate_rows

from . import callrecords
from .accounts import NewUser, add_node, create_tenant, create_user
from .models import (
    CallRecord,
    DestinationGroup,
    DestinationPrefix,
    Device,
    PauseReason,
    PbxNode,
    PhoneKey,
    Queue,
    QueueMembership,
    RateEntry,
    SyncState,
    Tenant,
    User,
    utcnow,
)
from .port import CallRecordReport, CallStatus

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

# A second, small company on the same PBX node, whose numbers overlap Démo Inc.'s: tenants are
# namespaces, so Acme's 201 calling 202 rings Acme's 202, never Démo's (its SIP users are 201-t<id>...).
ACME_NAME = "Acme"
ACME_DOMAIN = "acme.clusterpbx.test"
ACME_USERS = [
    DemoUser("chloe.martin@acme.clusterpbx.test", "Chloé", "Martin", "201", "Ventes"),
    DemoUser("noah.brown@acme.clusterpbx.test", "Noah", "Brown", "202", "Support", "en"),
    DemoUser("admin@acme.clusterpbx.test", "Admin", "Acme", "210", "Direction", "fr", "tenant_admin"),
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
    seed_second_tenant(db, node)
    return tenant


def seed_second_tenant(db: Session, node: PbxNode) -> Tenant:
    """Acme, on Démo Inc.'s node, with extensions Démo also has (201, 202, 210) and its own tenant admin;
    the operator sees both companies. Seeded after Démo Inc., so Démo's SIP users keep the plain numbers.
    Idempotent: what exists already is left as it is."""
    tenant = db.scalar(select(Tenant).where(Tenant.domain == ACME_DOMAIN))
    if tenant is None:
        tenant = create_tenant(db, ACME_NAME, ACME_DOMAIN, node)
        db.add(DestinationGroup(tenant_id=tenant.id, name="Local Montréal",
                                prefixes=[DestinationPrefix(prefix=p) for p in ("514", "438", "263")]))
        db.flush()
    groups = db.scalars(select(DestinationGroup).where(DestinationGroup.tenant_id == tenant.id)).all()
    for du in ACME_USERS:
        if db.scalar(select(User).where(User.email == du.email)):
            continue
        user = create_user(db, tenant, NewUser(du.email, du.first, du.last, DEMO_PASSWORD, du.ext, du.dept,
                                               du.lang, du.role))
        user.destination_groups = list(groups)
    db.flush()
    return tenant


# --- a company that looks lived in ------------------------------------------------------------------------

HISTORY_PREFIX = "demo-history-"
HISTORY_DAYS = 21
# Who is in which state in the demo's queues (the rest of the agents stay logged out).
QUEUE_STATES: dict[tuple[str, str], tuple[bool, bool, str]] = {
    # (queue, extension): (logged in, paused, pause reason)
    ("support", "202"): (True, False, ""),
    ("support", "203"): (True, True, "Pause café"),
    ("support", "210"): (True, False, ""),
    ("sales", "201"): (True, False, ""),
    ("sales", "204"): (True, True, "Dîner"),
    ("sales", "209"): (True, False, ""),
}
# The rates "Coût utilisateur" is computed with (per minute, billed by the minute).
DEMO_RATES = [("1", "0.0250"), ("1800", "0"), ("1866", "0"), ("1888", "0"), ("1418", "0.0180")]
EXTERNAL_CALLERS = [("Groupe Dupuis", "5145550147"), ("", "4385550192"), ("Clinique Saint-Denis", "5145550110"),
                    ("Transport Lévesque", "14185550133"), ("", "18195550164"), ("Fournitures Gatineau", "18195550178")]
OUTSIDE_NUMBERS = ["5145550123", "4385550188", "14165550140", "14185550133", "18005550199", "16135550102"]


def seed_lived_in(db: Session, tenant: Tenant, *, now: dt.datetime | None = None) -> bool:
    """What makes the demo company look used, once (the first `clusterpbx run`): self sign-up and the
    Gmail sign-in turned on, rates, each user's phone buttons as the guide shows them, the queues' agents
    in every state, and a few weeks of call history. Returns False when it was already done (the history
    is the mark), so a second run changes nothing and keeps what demo users changed since."""
    node = tenant.node
    if node is None:
        raise LookupError("the demo tenant has no PBX node")
    done = db.scalar(select(CallRecord.id).where(CallRecord.node_id == node.id,
                                                 CallRecord.pbx_call_id.startswith(HISTORY_PREFIX)).limit(1))
    if done is not None:
        return False
    # Sign-up (admin approval, as the product does by default) and "Connexion avec Gmail".
    tenant.allow_self_signup = True
    tenant.auto_approve_signup = False
    tenant.email_domains = ",".join(sorted(d for d in {*(tenant.email_domains or "").split(","), DEMO_DOMAIN} if d))
    tenant.allow_google_login = True
    if not db.scalar(select(RateEntry.id).where(RateEntry.tenant_id == tenant.id).limit(1)):
        for prefix, per_minute in DEMO_RATES:
            db.add(RateEntry(tenant_id=tenant.id, prefix=prefix, per_minute=Decimal(per_minute), increment_seconds=60))
    db.flush()
    users = [u for u in db.scalars(select(User).where(User.tenant_id == tenant.id).order_by(User.id))
             if u.primary_extension is not None]
    _seed_phone_keys(db, users)
    _seed_queue_states(db, tenant, users)
    _seed_history(db, node, users, now or utcnow(), ZoneInfo(tenant.timezone or "America/Montreal"))
    db.flush()
    return True


def _seed_phone_keys(db: Session, users: list[User]) -> None:
    """Key 1 the main line, then presence keys (where granted) and speed dials, as "Mon téléphone" shows;
    checked by the same rules as the screen, and already on the (demo) phones."""
    numbers = [(u.primary_extension.number, u.first_name) for u in users if u.primary_extension]
    for i, user in enumerate(users):
        if db.scalar(select(PhoneKey.id).where(PhoneKey.user_id == user.id).limit(1)):
            continue
        own = user.primary_extension.number if user.primary_extension else ""
        others = [(n, name) for n, name in numbers if n != own]
        colleagues = [others[(i + k) % len(others)] for k in range(3)] if others else []
        rows = [KeyRow("line", own, "")]
        kind = "blf" if user.can_use_blf else "speed"
        rows += [KeyRow(kind, n, name) for n, name in colleagues[:2]]
        rows.append(KeyRow("speed", OUTSIDE_NUMBERS[i % 2], "Client"))
        cleaned, errors = validate_rows(db, user, rows, phone_of(db, user).capacity)
        if errors:  # a demo user whose rules refuse a button gets the ones that pass
            bad = {e.position for e in errors}
            cleaned = [r for pos, r in enumerate(cleaned, 1) if pos not in bad]
        for pos, row in enumerate(cleaned, 1):
            db.add(PhoneKey(user_id=user.id, position=pos, kind=row.kind, value=row.value, label=row.label,
                            sync_state=SyncState.APPLIED))


def _seed_queue_states(db: Session, tenant: Tenant, users: list[User]) -> None:
    """The agents' requested states; the control daemon logs them in and pauses them on the PBX."""
    by_user = {u.id: u.primary_extension.number for u in users if u.primary_extension}
    queues = {q.id: q.name for q in db.scalars(select(Queue).where(Queue.tenant_id == tenant.id))}
    for m in db.scalars(select(QueueMembership).where(QueueMembership.queue_id.in_(queues))):
        state = QUEUE_STATES.get((queues[m.queue_id], by_user.get(m.user_id, "")))
        if state is None or m.logged_in:
            continue
        m.logged_in, m.paused, m.pause_reason = state
        m.sync_state = SyncState.PENDING


def _seed_history(db: Session, node: PbxNode, users: list[User], now: dt.datetime, tz: ZoneInfo) -> None:
    """Three weeks of calls per user (internal, incoming, outgoing; answered, missed, busy), ingested
    like the PBX's records (costs from the rates), with ids that make a second ingestion a no-op."""
    rng = random.Random(2026)
    exts = [(u.primary_extension.sip_username, u.primary_extension.number, u.display_name)
            for u in users if u.primary_extension]
    if len(exts) < 2:
        return
    reports: list[CallRecordReport] = []
    local_now = now.replace(tzinfo=dt.UTC).astimezone(tz)
    for days_ago in range(HISTORY_DAYS, -1, -1):
        day = (local_now - dt.timedelta(days=days_ago)).date()
        weekend = day.weekday() >= 5
        for sip, number, name in exts:
            for _ in range(rng.randint(0, 1) if weekend else rng.randint(2, 5)):
                start_local = dt.datetime.combine(day, dt.time(8, 30), tz) + dt.timedelta(
                    seconds=rng.randint(0, 9 * 3600))
                started = start_local.astimezone(dt.UTC).replace(tzinfo=None)
                if started >= now - dt.timedelta(minutes=5):
                    continue  # nothing in the future (today's calls stop a little before now)
                kind = rng.choices(("internal", "incoming", "outgoing"), weights=(3, 4, 3))[0]
                status = rng.choices((CallStatus.ANSWERED, CallStatus.NO_ANSWER, CallStatus.BUSY),
                                     weights=(14, 5, 1))[0]
                ring = rng.randint(2, 18)
                talk = rng.randint(20, 900) if status is CallStatus.ANSWERED else 0
                if kind == "internal":
                    other = rng.choice([e for e in exts if e[0] != sip])
                    caller_name, caller_number, dialed = name, number, other[1]
                    src_ep, dst_ep = sip, other[0]
                elif kind == "incoming":
                    caller_name, caller_number = rng.choice(EXTERNAL_CALLERS)
                    dialed, src_ep, dst_ep = number, "", sip
                else:
                    caller_name, caller_number, dialed = name, number, rng.choice(OUTSIDE_NUMBERS)
                    src_ep, dst_ep = sip, ""
                answered = started + dt.timedelta(seconds=ring) if talk else None
                reports.append(CallRecordReport(
                    pbx_call_id=f"{HISTORY_PREFIX}{len(reports):05d}", call_id=f"{HISTORY_PREFIX}{len(reports):05d}",
                    started_at=started, answered_at=answered,
                    ended_at=started + dt.timedelta(seconds=ring + talk), duration_seconds=ring + talk,
                    billable_seconds=talk, caller_name=caller_name, caller_number=caller_number,
                    dialed_number=dialed, source_endpoint=src_ep, destination_endpoint=dst_ep, status=status))
    directory = callrecords.Directory.load(db, node.id)
    callrecords.ingest(db, node.id, reports, directory)
