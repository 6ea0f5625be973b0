"""The ClusterPBX data model: what users and admins asked for (desired state) and
what the control daemon projected from the PBXs (live state), as SQLAlchemy 2.0 models.

Times are stored as naive UTC datetimes on every backend so that SQLite and
PostgreSQL behave the same; conversion to a user's time zone happens at display.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .clock import utcnow

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class NodeKind(enum.StrEnum):
    ASTERISK = "asterisk"
    FREESWITCH = "freeswitch"


class Role(enum.StrEnum):
    USER = "user"
    TENANT_ADMIN = "tenant_admin"
    OPERATOR = "operator"


class SyncState(enum.StrEnum):
    """Whether a desired-state row has reached the PBX."""

    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (native_enum=False) so adding a member needs no type migration.
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class PbxNode(Base):
    """One Asterisk or FreeSWITCH that an operator runs; tenants live on exactly one node."""

    __tablename__ = "pbx_nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[NodeKind] = mapped_column(_enum(NodeKind, "node_kind"))
    host: Mapped[str] = mapped_column(String(255), default="127.0.0.1")
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64), default="")
    secret: Mapped[str] = mapped_column(String(255), default="")
    # Where the node's voicemail spool is readable from the control daemon (local or mounted).
    spool_path: Mapped[str] = mapped_column(String(1024), default="")
    # Where `clusterpbx dialplan apply` writes the generated files.
    config_dir: Mapped[str] = mapped_column(String(1024), default="")
    sip_domain: Mapped[str] = mapped_column(String(255), default="")
    # Adapter options (NodeAddress.extra): context, voicemail_context, cdr_csv, timezone, json_cdr_error_dir.
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    tenants: Mapped[list[Tenant]] = relationship(back_populates="node")


class Tenant(Base):
    """A company: the guide's "Domaine"."""

    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    # Comma-separated e-mail domains accepted for self sign-up.
    email_domains: Mapped[str] = mapped_column(Text, default="")
    node_id: Mapped[int | None] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="SET NULL"))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Montreal")
    default_country: Mapped[str] = mapped_column(String(2), default="CA")
    default_language: Mapped[str] = mapped_column(String(5), default="fr")
    # Web password policy, exactly the guide's list of restrictions.
    pw_min_length: Mapped[int] = mapped_column(Integer, default=8)
    pw_max_length: Mapped[int] = mapped_column(Integer, default=64)
    pw_may_be_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    pw_numeric_only: Mapped[bool] = mapped_column(Boolean, default=False)
    pw_require_digit: Mapped[bool] = mapped_column(Boolean, default=True)
    pw_require_lower: Mapped[bool] = mapped_column(Boolean, default=False)
    pw_require_upper: Mapped[bool] = mapped_column(Boolean, default=True)
    pw_require_special: Mapped[bool] = mapped_column(Boolean, default=False)
    # Voicemail PIN policy (digits only always; the tenant may tighten the length).
    vm_pin_min_length: Mapped[int] = mapped_column(Integer, default=4)
    vm_pin_max_length: Mapped[int] = mapped_column(Integer, default=20)
    allow_password_login: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_google_login: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_self_signup: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve_signup: Mapped[bool] = mapped_column(Boolean, default=False)
    conference_prefix: Mapped[str] = mapped_column(String(8), default="*99")
    record_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_recording_download: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_provider: Mapped[str] = mapped_column(String(32), default="pbx")
    sms_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Outbound calls (and forwards, follow-me to outside numbers) go out through this PJSIP endpoint
    # (Asterisk) or sofia gateway (FreeSWITCH); empty: no outbound trunk, only internal calls. The SMS
    # trunk is `trunk` in sms_config (docs/sms.md).
    outbound_trunk: Mapped[str] = mapped_column(String(64), default="")
    sms_monthly_quota: Mapped[int] = mapped_column(Integer, default=500)
    webconf_provider: Mapped[str] = mapped_column(String(32), default="jitsi")
    webconf_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cdr_retention_days: Mapped[int] = mapped_column(Integer, default=730)
    voicemail_retention_days: Mapped[int] = mapped_column(Integer, default=365)
    # Provisioning: URL key for first boot and optional allowlist (comma-separated CIDRs).
    provisioning_key: Mapped[str] = mapped_column(String(64), default="")
    provisioning_networks: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    node: Mapped[PbxNode | None] = relationship(back_populates="tenants")
    # The database deletes a tenant's users (ON DELETE CASCADE); the ORM must not null their tenant_id first.
    users: Mapped[list[User]] = relationship(back_populates="tenant", passive_deletes="all")


user_destination_groups = Table(
    "user_destination_groups",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("destination_groups.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str] = mapped_column(String(80), default="")
    last_name: Mapped[str] = mapped_column(String(80), default="")
    department: Mapped[str] = mapped_column(String(80), default="")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    timezone: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"), default=Role.USER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    email_confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    can_use_blf: Mapped[bool] = mapped_column(Boolean, default=False)
    record_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Bumped to end every other session (password change, reset).
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    google_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    google_picture: Mapped[bytes | None] = mapped_column(LargeBinary)
    uploaded_picture: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Which picture the user chose: "uploaded", "google" or None.
    picture_source: Mapped[str | None] = mapped_column(String(10))
    picture_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="users")
    extensions: Mapped[list[Extension]] = relationship(back_populates="user", order_by="Extension.number")
    destination_groups: Mapped[list[DestinationGroup]] = relationship(secondary=user_destination_groups)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def primary_extension(self) -> Extension | None:
        return self.extensions[0] if self.extensions else None

    @property
    def picture(self) -> bytes | None:
        if self.picture_source == "google" and self.google_picture:
            return self.google_picture
        if self.picture_source == "uploaded" and self.uploaded_picture:
            return self.uploaded_picture
        return None


class Extension(Base):
    """A number on the PBX with its SIP credentials and mailbox."""

    __tablename__ = "extensions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="uq_extensions_tenant_number"),
        UniqueConstraint("sip_username", name="uq_extensions_sip_username"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    sip_username: Mapped[str] = mapped_column(String(64))
    sip_password: Mapped[str] = mapped_column(String(128))
    mailbox: Mapped[str] = mapped_column(String(32), default="")
    vm_pin: Mapped[str] = mapped_column(String(20), default="")

    user: Mapped[User | None] = relationship(back_populates="extensions")


class Device(Base):
    """A desk phone that fetches its configuration from the provisioning endpoint."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    mac: Mapped[str] = mapped_column(String(12), unique=True)  # lowercase hex, no separators
    vendor: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(80), default="")
    prov_username: Mapped[str] = mapped_column(String(64), default="")
    prov_password: Mapped[str] = mapped_column(String(128), default="")
    # Per-device overrides of the tenant template (language, timezone, codecs, transport...).
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PhoneKey(Base):
    """One programmable button of a user's phone ("Mon téléphone")."""

    __tablename__ = "phone_keys"
    __table_args__ = (UniqueConstraint("user_id", "position", name="uq_phone_keys_user_position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # line, line2, blf, speed
    value: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(40), default="")
    sync_state: Mapped[SyncState] = mapped_column(_enum(SyncState, "sync_state"), default=SyncState.PENDING)


class DestinationGroup(Base):
    """Allowed destinations (e.g. "Local Montréal") as a set of dialled prefixes."""

    __tablename__ = "destination_groups"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_destination_groups_tenant_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefixes: Mapped[list[DestinationPrefix]] = relationship(
        cascade="all, delete-orphan", order_by="DestinationPrefix.prefix"
    )


class DestinationPrefix(Base):
    __tablename__ = "destination_prefixes"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("destination_groups.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(20))


class _Synced:
    """Columns shared by every desired-state row the daemon pushes to a PBX."""

    sync_state: Mapped[SyncState] = mapped_column(_enum(SyncState, "sync_state"), default=SyncState.PENDING)
    sync_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CallSettings(_Synced, Base):
    """Call waiting, DND, forwards and follow-me ("Paramètres avancés")."""

    __tablename__ = "call_settings"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    call_waiting: Mapped[bool] = mapped_column(Boolean, default=True)
    dnd: Mapped[bool] = mapped_column(Boolean, default=False)
    forward_always: Mapped[str] = mapped_column(String(32), default="")
    forward_busy: Mapped[str] = mapped_column(String(32), default="")
    forward_noanswer: Mapped[str] = mapped_column(String(32), default="")
    forward_noanswer_delay: Mapped[int] = mapped_column(Integer, default=20)
    followme_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    followme_numbers: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    followme_confirm: Mapped[bool] = mapped_column(Boolean, default=False)
    followme_delay: Mapped[int] = mapped_column(Integer, default=20)


class VoicemailSettings(_Synced, Base):
    """The "Messagerie Vocale" tab: out-of-office, e-mail notification, PIN."""

    __tablename__ = "voicemail_settings"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    ooo_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ooo_start: Mapped[dt.date | None] = mapped_column(Date)
    ooo_last_day: Mapped[dt.date | None] = mapped_column(Date)
    ooo_active: Mapped[bool] = mapped_column(Boolean, default=False)  # what the scheduler last applied
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    email_use_login: Mapped[bool] = mapped_column(Boolean, default=True)
    email_address: Mapped[str] = mapped_column(String(255), default="")
    email_attach: Mapped[bool] = mapped_column(Boolean, default=True)
    delete_after_email: Mapped[bool] = mapped_column(Boolean, default=False)


class PersonalConference(_Synced, Base):
    """The user's personal bridge, reached by the tenant's prefix + extension."""

    __tablename__ = "personal_conferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    admin_pin: Mapped[str] = mapped_column(String(20), default="")
    user_pin: Mapped[str] = mapped_column(String(20), default="")
    max_members: Mapped[int] = mapped_column(Integer, default=15)
    announce_count: Mapped[bool] = mapped_column(Boolean, default=True)
    announce_join_leave: Mapped[bool] = mapped_column(Boolean, default=False)
    music_on_hold: Mapped[bool] = mapped_column(Boolean, default=True)
    star_menu: Mapped[bool] = mapped_column(Boolean, default=True)
    wait_for_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    listen_only: Mapped[bool] = mapped_column(Boolean, default=False)


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_queues_tenant_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))  # PBX-side name
    label: Mapped[str] = mapped_column(String(80), default="")  # shown to users ("Soutien")
    number: Mapped[str] = mapped_column(String(32), default="")
    strategy: Mapped[str] = mapped_column(String(32), default="ringall")


class QueueMembership(_Synced, Base):
    """A user made agent of a queue by an admin, and the state the user asked for."""

    __tablename__ = "queue_memberships"
    __table_args__ = (UniqueConstraint("queue_id", "user_id", name="uq_queue_memberships_queue_user"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    logged_in: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str] = mapped_column(String(80), default="")

    queue: Mapped[Queue] = relationship()


class PauseReason(Base):
    __tablename__ = "pause_reasons"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))


class PersonalContact(Base):
    """An entry of a user's personal directory (right column of "Répertoire")."""

    __tablename__ = "personal_contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ref_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120), default="")
    number: Mapped[str] = mapped_column(String(32), default="")


class RateEntry(Base):
    """Per-tenant rate table used to compute "Coût utilisateur"."""

    __tablename__ = "rate_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(20))
    per_minute: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    increment_seconds: Mapped[int] = mapped_column(Integer, default=60)


class CallRecord(Base):
    """One finished call as seen by one user ("Détails d'appels")."""

    __tablename__ = "call_records"
    __table_args__ = (
        # Idempotent ingestion: one row per PBX call per concerned user.
        UniqueConstraint("node_id", "pbx_call_id", "user_id", name="uq_call_records_node_call_user"),
        Index("ix_call_records_user_started", "user_id", "started_at", "id"),
        Index("ix_call_records_tenant_started", "tenant_id", "started_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="SET NULL"))
    pbx_call_id: Mapped[str] = mapped_column(String(128))
    caller_name: Mapped[str] = mapped_column(String(120), default="")
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    dialed_number: Mapped[str] = mapped_column(String(64), default="")
    callee: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    billable_seconds: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # answered, no_answer, busy, failed
    recording_status: Mapped[str] = mapped_column(String(16), default="none")  # none, recorded
    recording_path: Mapped[str] = mapped_column(String(1024), default="")
    call_type: Mapped[str] = mapped_column(String(16))  # incoming, outgoing, internal
    cost: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal("0"))


class LiveCall(Base):
    """A call in progress, projected from PBX events ("Appels en cours")."""

    __tablename__ = "live_calls"
    __table_args__ = (UniqueConstraint("node_id", "pbx_call_id", name="uq_live_calls_node_call"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="CASCADE"))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    pbx_call_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default="ringing")
    source_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    destination_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    source_uri: Mapped[str] = mapped_column(String(255), default="")
    destination_uri: Mapped[str] = mapped_column(String(255), default="")
    source_ip: Mapped[str] = mapped_column(String(64), default="")
    destination_ip: Mapped[str] = mapped_column(String(64), default="")


class LiveCallChange(Base):
    """The change feed of live_calls: one row per inserted, updated or deleted call, written by database
    triggers (migration 0010) in the same transaction as the change, whoever makes it. The id only grows:
    a reader that saw changes up to N reads `id > N` and looks the calls up again (present: added or
    changed; absent: ended). The triggers keep the last 100,000 changes."""

    __tablename__ = "live_call_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[int | None] = mapped_column(Integer)
    pbx_call_id: Mapped[str] = mapped_column(String(128))


class Registration(Base):
    """Projected SIP registration state of an endpoint (home page "Statut")."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("node_id", "endpoint", name="uq_registrations_node_endpoint"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(64))
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[str] = mapped_column(String(255), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class QueueMemberState(Base):
    """Projected state of a queue member on the PBX (what is happening)."""

    __tablename__ = "queue_member_states"
    __table_args__ = (UniqueConstraint("node_id", "queue", "interface", name="uq_queue_member_states_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="CASCADE"))
    queue: Mapped[str] = mapped_column(String(64))
    interface: Mapped[str] = mapped_column(String(128))
    logged_in: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str] = mapped_column(String(80), default="")
    in_call: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MailboxState(Base):
    """Projected message-waiting counts of a mailbox."""

    __tablename__ = "mailbox_states"
    __table_args__ = (UniqueConstraint("node_id", "mailbox", name="uq_mailbox_states_node_mailbox"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="CASCADE"))
    mailbox: Mapped[str] = mapped_column(String(64))
    new_messages: Mapped[int] = mapped_column(Integer, default=0)
    old_messages: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class NodeHealth(Base):
    """What the control daemon knows of its link to each node (health page)."""

    __tablename__ = "node_health"
    node_id: Mapped[int] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="CASCADE"), primary_key=True)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_event_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lag_ms: Mapped[int] = mapped_column(Integer, default=0)
    # Catch-up position for call records (e.g. byte offset in the CDR CSV).
    cdr_position: Mapped[str] = mapped_column(String(255), default="")


class DaemonLock(Base):
    """Leader lease so exactly one control daemon runs the scheduled jobs."""

    __tablename__ = "daemon_locks"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class SmsMessage(Base):
    __tablename__ = "sms_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    to_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, sent, delivered, failed
    provider: Mapped[str] = mapped_column(String(32), default="")
    provider_message_id: Mapped[str] = mapped_column(String(128), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    # Why it failed, as a code the portal words in the user's language (control/sms.py ERROR_CODES);
    # `error` keeps the provider's or the PBX's own words for the operator.
    error_code: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # control/sms.py: a send in progress (claimed by a daemon), tries, when sent and when the status last moved.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebMeeting(Base):
    """Web conferences created by a user, for usage reporting (per-minute fees)."""

    __tablename__ = "web_meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    meeting_id: Mapped[str] = mapped_column(String(128))
    join_url: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # control/webconf.py: the tenant billed, whether the meeting is still the user's current one, when the
    # user last opened it and when its usage was last asked of the provider.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    usage_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebMeetingSession(Base):
    """One time a web meeting was held (Zoom: one past instance, by its uuid, with the minutes Zoom
    reports) or opened (Jitsi, which reports no duration: minutes stay None)."""

    __tablename__ = "web_meeting_sessions"
    __table_args__ = (UniqueConstraint("meeting_id", "uuid", name="uq_web_meeting_sessions_meeting_uuid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("web_meetings.id", ondelete="CASCADE"), index=True)
    uuid: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    minutes: Mapped[int | None] = mapped_column(Integer)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who acted, kept when the account is deleted (e-mail, or "command line").
    actor_label: Mapped[str] = mapped_column(String(255), default="")
    # SET NULL: a deleted tenant's history stays, for operators.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ProvisioningFetch(Base):
    __tablename__ = "provisioning_fetches"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    mac: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    path: Mapped[str] = mapped_column(String(255), default="")
    result: Mapped[int] = mapped_column(Integer)
    # What happened (control/admin/fetchlog.py OUTCOMES); "" on rows older than the outcome.
    outcome: Mapped[str] = mapped_column(String(24), default="", index=True)
    # The tenant whose URL key the request carried, so a tenant admin sees their phones' refusals too.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class LoginThrottle(Base):
    """Recent failed logins of one key, kept in the database so that throttling holds across gunicorn
    workers whatever the rate-limit storage (control/logins.py). `scope` is "client" (a client address,
    an IPv6 /64), "pair" (e-mail address typed + client) or "account" (e-mail address typed, from
    anywhere); an address is counted whether or not an account uses it, so throttling reveals nothing."""

    __tablename__ = "login_throttles"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class ApiToken(Base):
    """A REST API bearer token; only its SHA-256 is stored. A per-user token (user_id set) acts as that
    user; an integration token (user_id None) acts with `role` in `tenant_id` (None: operator)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role | None] = mapped_column(_enum(Role, "api_token_role"))
    prefix: Mapped[str] = mapped_column(String(16), default="")  # shown in lists to tell tokens apart
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ClusterDaemon(Base):
    """A control daemon running in cluster mode (issue 26, control/cluster.py): the address ("host:port")
    of its command channel and its heartbeat (seen_at). `holder` is the daemon's ControlDaemon.holder."""

    __tablename__ = "control_daemons"
    holder: Mapped[str] = mapped_column(String(128), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class NodeLease(Base):
    """Which control daemon owns a PBX node (cluster mode): renewed every few seconds by its owner,
    taken by another daemon once expires_at has passed (control/cluster.py)."""

    __tablename__ = "node_leases"
    node_id: Mapped[int] = mapped_column(ForeignKey("pbx_nodes.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    taken_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
