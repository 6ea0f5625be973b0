"""Load the "lab" state the fixture recordings were made with into a PBXModel (Asterisk lab, FreeSWITCH lab).

The Asterisk lab mirrors /work/shared/fixtures/asterisk/config; the FreeSWITCH lab mirrors the vanilla
configuration described in the fixtures README (users 1000-1019, support@default, conferences 3000-3399).
"""
from __future__ import annotations

from pathlib import Path

from clusterpbx.sim.model import PBXModel

# Asterisk lab (pjsip.conf, voicemail.conf, queues.conf, manager.conf of the recordings).
ASTERISK_ENDPOINTS: dict[str, str] = {
    "100": "Alice Admin",
    "101": "Bob Sales",
    "102": "Carol Support",
    "103": "Dave Support",
    "104": "Erin Agent",
    "105": "Frank Agent",
}
ASTERISK_QUEUES = ("support", "sales")
ASTERISK_REGISTERED = ("101", "102", "103", "104", "105")
AMI_USER = "portal"
AMI_SECRET = "portalsecret"  # noqa: S105 - the recorded lab's test credential
ASTERISK_SIP_PORT = 5060
# Ports SIPp/the small user agents registered from in the recordings (101 was on 5071, 102 on 5072...).
PHONE_BASE_PORT = 5070

# pjsip_notify.conf of the lab: the canned NOTIFY types an AMI PJSIPNotify "Option:" can name.
PJSIP_NOTIFY_TYPES: dict[str, list[tuple[str, str]]] = {
    "clear-mwi": [("Event", "message-summary"), ("Content-type", "application/simple-message-summary"),
                  ("Content", "Messages-Waiting: no"), ("Content", "Message-Account: sip:asterisk@127.0.0.1"),
                  ("Content", "Voice-Message: 0/0 (0/0)"), ("Content", "")],
    "check-sync": [("Event", "check-sync")],
    "polycom-check-cfg": [("Event", "check-sync")],
    "yealink-reboot": [("Event", "check-sync;reboot=true")],
}

# FreeSWITCH lab.
FS_USERS = [str(n) for n in range(1000, 1020)]
FS_QUEUE = "support@default"
FS_CONFERENCE_RANGE = range(3000, 3400)
FS_DOMAIN = "127.0.0.1"
FS_SIP_PORT = 5160
ESL_PASSWORD = "ClueCon"  # noqa: S105 - FreeSWITCH's well-known default


def asterisk_lab(model: PBXModel | None = None, spool_dir: Path | str | None = None, register: bool = True,
                 seed: int = 0) -> PBXModel:
    """Endpoints 100-105 (context internal, mailboxes N@default with PIN 1234), queues support and sales.

    With register=True, 101-105 are registered as in the recordings' lab (100 is not).
    """
    m = model or PBXModel(flavor="asterisk", spool_dir=spool_dir, seed=seed)
    m.credentials[AMI_USER] = AMI_SECRET
    for ext, name in ASTERISK_ENDPOINTS.items():
        m.add_endpoint(ext, name=name, context="internal", password=f"pw{ext}", mailbox=f"{ext}@default")
        m.add_mailbox(ext, context="default", password="1234", fullname=name)  # noqa: S106
    for q in ASTERISK_QUEUES:
        m.add_queue(q, strategy="ringall")
    if register:
        # As recorded: 101-105 registered from 127.0.0.1:5071-5075, 100 has no contact.
        for ext in ASTERISK_REGISTERED:
            m.register(ext, f"sip:{ext}@127.0.0.1:{PHONE_BASE_PORT + int(ext) - 100}",
                       user_agent=f"SIPp-lab-{ext}")
    return m


def freeswitch_lab(model: PBXModel | None = None, spool_dir: Path | str | None = None, register: bool = True,
                   seed: int = 0) -> PBXModel:
    """Users 1000-1019 in domain 127.0.0.1 (password 1234, mailbox N@127.0.0.1), queue support@default.

    Conference rooms 3000-3399 exist on first join (mod_conference creates rooms on demand).
    """
    m = model or PBXModel(flavor="freeswitch", spool_dir=spool_dir, seed=seed, domain=FS_DOMAIN)
    m.sip_port = FS_SIP_PORT
    m.credentials["ESL"] = ESL_PASSWORD
    for ext in FS_USERS:
        m.add_endpoint(ext, name=f"Extension {ext}", context="default", password="1234",  # noqa: S106
                       mailbox=f"{ext}@{FS_DOMAIN}")
        m.add_mailbox(ext, context=FS_DOMAIN, password=ext, fullname=f"Extension {ext}")
    m.add_queue(FS_QUEUE, strategy="longest-idle-agent")
    if register:
        for i, ext in enumerate(FS_USERS):
            m.register(ext, f"sip:{ext}@127.0.0.1:{PHONE_BASE_PORT + i}", user_agent="SIPp")
    return m
