"""The small sample snapshots that the dialplan tests and golden files are built from."""

from __future__ import annotations

from clusterpbx.dialplan.model import (
    ConferenceOptions,
    Device,
    Extension,
    Node,
    NodeSnapshot,
    PersonalConference,
    Queue,
    Tenant,
)


def acme(kind: str = "asterisk") -> NodeSnapshot:
    tenant = Tenant(
        name="Acme Corp",
        slug="acme",
        domain="acme.example.com",
        recording_enabled=True,
        sms_trunk="sms-provider",
        outbound_trunk="operator-trunk",
        extensions=(
            Extension(
                number="101",
                display_name="Alice Martin",
                sip_username="acme101",
                sip_password="s3cret-101-pw",
                mailbox="101",
                voicemail_pin="4242",
                email="alice@acme.example.com",
                email_attach=True,
                email_delete=False,
                language="fr",
                allowed_prefixes=("0", "00"),
                record_calls=True,
                devices=(Device(sip_username="acme101-desk", sip_password="desk-101-pw"),),
            ),
            Extension(
                number="102",
                display_name="Bob Durand",
                sip_username="acme102",
                sip_password="s3cret-102-pw",
                mailbox="102",
                voicemail_pin="1234",
                email="bob@acme.example.com",
                email_attach=False,
                email_delete=False,
                language="en",
                allowed_prefixes=("0",),
            ),
            Extension(
                number="103",
                display_name="Carol (reception)",
                sip_username="acme103",
                sip_password="s3cret-103-pw",
                mailbox="103",
                voicemail_pin="9876",
                email=None,
                language="fr",
            ),
        ),
        queues=(Queue(name="support", number="700", strategy="ringall", members=("102", "103")),),
        conferences=(
            PersonalConference(
                owner="101",
                enabled=True,
                admin_pin="1111",
                user_pin="2222",
                max_members=8,
                options=ConferenceOptions(
                    announce_count=True,
                    announce_join_leave=False,
                    music_on_hold=True,
                    star_menu=True,
                    wait_for_admin=True,
                    listen_only_users=True,
                ),
            ),
        ),
    )
    beta = Tenant(
        name="Beta",
        slug="beta",
        domain="beta.example.com",
        astdb_prefix="beta-",
        outbound_trunk=None,
        extensions=(
            Extension(
                number="101",
                display_name="Dan Beta",
                sip_username="beta101",
                sip_password="beta-101-pw",
                mailbox="101",
                voicemail_pin="5555",
            ),
        ),
    )
    return NodeSnapshot(node=Node(kind=kind, name="pbx1", domain="pbx1.example.com"), tenants=(tenant, beta))
