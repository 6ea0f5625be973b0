"""A plain, ORM-independent snapshot of everything the config generators need for one PBX node.

The portal's database layer builds a `NodeSnapshot`; the renderers only ever read these frozen
dataclasses, so rendering is a pure function that tests can feed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NodeKind = Literal["asterisk", "freeswitch"]
Language = Literal["fr", "en"]
QueueStrategy = Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom"]


@dataclass(frozen=True)
class Node:
    kind: NodeKind
    name: str
    # SIP domain / realm of the node; FreeSWITCH tenants without their own domain use it.
    domain: str


@dataclass(frozen=True)
class Device:
    """A desk phone provisioned for an extension: its own SIP account, ringing with the extension."""

    sip_username: str
    sip_password: str


@dataclass(frozen=True)
class Extension:
    number: str
    display_name: str
    sip_username: str
    sip_password: str
    mailbox: str | None = None  # None: no voicemail box
    voicemail_pin: str = ""
    email: str | None = None
    email_attach: bool = True
    email_delete: bool = False  # delete the message once e-mailed (Asterisk delete=yes)
    language: Language = "en"
    # Digit prefixes this extension may dial out to; empty = internal calls only.
    allowed_prefixes: tuple[str, ...] = ()
    record_calls: bool = False
    devices: tuple[Device, ...] = ()

    @property
    def sip_usernames(self) -> tuple[str, ...]:
        return (self.sip_username, *(d.sip_username for d in self.devices))


@dataclass(frozen=True)
class Queue:
    name: str
    number: str
    strategy: QueueStrategy = "ringall"
    members: tuple[str, ...] = ()  # extension numbers
    ring_timeout: int = 15
    max_wait: int = 300


@dataclass(frozen=True)
class ConferenceOptions:
    announce_count: bool = False
    announce_join_leave: bool = False
    music_on_hold: bool = True
    star_menu: bool = True
    wait_for_admin: bool = False
    listen_only_users: bool = False


@dataclass(frozen=True)
class PersonalConference:
    owner: str  # extension number
    enabled: bool = True
    admin_pin: str = ""
    user_pin: str = ""
    max_members: int = 10
    options: ConferenceOptions = field(default_factory=ConferenceOptions)


@dataclass(frozen=True)
class Tenant:
    name: str
    slug: str
    domain: str = ""  # SIP domain (FreeSWITCH directory domain); empty: the node's domain
    conference_prefix: str = "*99"
    voicemail_code: str = "*97"
    recording_enabled: bool = False
    sms_trunk: str | None = None
    outbound_trunk: str | None = None
    # Prefix of this tenant's AstDB keys (DND/<prefix><ext>). Empty keeps FreePBX's plain
    # DND/101 layout; set it when several tenants on one node reuse the same numbers.
    astdb_prefix: str = ""
    extensions: tuple[Extension, ...] = ()
    queues: tuple[Queue, ...] = ()
    conferences: tuple[PersonalConference, ...] = ()

    def sip_domain(self, node: Node) -> str:
        return self.domain or node.domain

    def extension(self, number: str) -> Extension | None:
        for ext in self.extensions:
            if ext.number == number:
                return ext
        return None


@dataclass(frozen=True)
class NodeSnapshot:
    node: Node
    tenants: tuple[Tenant, ...] = ()
