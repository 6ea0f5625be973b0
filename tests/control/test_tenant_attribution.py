"""Tenants are namespaces on the PBX (issue 21): two companies on one node both have an extension 201
(and a 202); a live call and a call record on either company's 201 belong to that company and its
user, never to whichever tenant has the number first, nor to a "default tenant" of the node.

Asterisk: the real AsteriskAdapter over the AMI sim, whose endpoints live in the generated dialplan's
tenant contexts (cpbx-acme, cpbx-globex) with the caller id number of their extension, as
pjsip_clusterpbx.conf configures them; the second company's 201 is the endpoint 201-t<id>
(control/admin/users.py). Its domain events go through the daemon's Projector into the database.

FreeSWITCH: the ESL sim writes every leg in its one lab domain and context, so it cannot show two
tenants; the events are the recorded FreeSWITCH templates (sim/data/esl_templates.json) with the headers a
real FreeSWITCH sets for a phone of the directory domain globex.test (user_name, domain_name, the
user_context cpbx-globex, dialed_user/dialed_domain on the legs it dials), fed to the real
EventTranslator and the Projector; and mod_json_cdr's documents posted to the portal's endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.daemon.projection import Projector
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallRecord, Extension, LiveCall, NodeKind, PbxNode, Tenant, User
from clusterpbx.control.port import (
    CallAnswered,
    CallEnded,
    CallRecorded,
    NodeAddress,
    PbxEvent,
)
from clusterpbx.esl.protocol import EslEvent
from clusterpbx.esl.translate import EventTranslator
from clusterpbx.sim.esl.events import EventFactory
from clusterpbx.sim.runner import SimPBX

NOW = int(dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC).timestamp())


class Company:
    def __init__(self, tenant: Tenant, users: dict[str, User], endpoints: dict[str, str]):
        self.tenant = tenant
        self.users = users  # number -> user
        self.endpoints = endpoints  # number -> SIP username


def two_companies(db: Any, world: Any, kind: NodeKind) -> tuple[PbxNode, Company, Company]:
    """Acme (created first: its 201 is the endpoint "201") and Globex (its 201 is "201-t<id>") on one node."""
    node = PbxNode(name="n1", kind=kind, host="127.0.0.1", port=5038, sip_domain="pbx.example")
    db.add(node)
    db.flush()
    out = []
    for domain, names in (("acme.test", ("Alice", "Bob")), ("globex.test", ("Gina", "Hank"))):
        tenant = world.tenant(domain)
        tenant.node_id = node.id
        db.commit()
        users = {number: world.user(tenant, extension=number, first_name=name, last_name=domain.split(".")[0])
                 for number, name in zip(("201", "202"), names, strict=True)}
        endpoints = {number: db.scalar(select(Extension.sip_username).where(Extension.user_id == u.id))
                     for number, u in users.items()}
        out.append(Company(tenant, users, endpoints))
    acme, globex = out
    # the premise: the same numbers, different endpoint names
    assert acme.endpoints == {"201": "201", "202": "202"}
    assert globex.endpoints == {"201": f"201-t{globex.tenant.id}", "202": f"202-t{globex.tenant.id}"}
    return node, acme, globex


def live_tenants(db: Any) -> dict[str, int | None]:
    db.expire_all()
    return {r.pbx_call_id: r.tenant_id for r in db.scalars(select(LiveCall))}


def records(db: Any, call_ids: set[str] | None = None) -> set[tuple[int, int | None, str]]:
    """(tenant, user, call type) of the stored rows, for the given PBX call ids."""
    db.expire_all()
    return {(r.tenant_id, r.user_id, r.call_type) for r in db.scalars(select(CallRecord))
            if call_ids is None or r.pbx_call_id.split("|")[0] in call_ids}


# ------------------------------------------------------------------------------------------ Asterisk


def test_asterisk_live_calls_and_records_of_two_tenants_201(engine, db, world, tmp_path: Path) -> None:
    node, acme, globex = two_companies(db, world, NodeKind.ASTERISK)
    projector = Projector(make_session_factory(engine), node.id)
    spool = tmp_path / "spool"
    sim = SimPBX(lab="asterisk", spool_dir=spool, esl_port=None).start()
    try:
        def namespaces() -> None:
            for company, slug in ((acme, "acme"), (globex, "globex")):
                for number, endpoint in company.endpoints.items():
                    sim.model.add_endpoint(endpoint, name=company.users[number].first_name,
                                           context=f"cpbx-{slug}", number=number)
                    sim.model.register(endpoint, f"sip:{endpoint}@10.0.0.{len(endpoint)}:5060")

        sim.call_soon(namespaces)
        address = NodeAddress(host="127.0.0.1", port=sim.ami_port, username="portal", secret="portalsecret",
                              spool_path=str(spool), sip_domain="pbx.test", timeout=2.0)
        events: list[PbxEvent] = []

        def on_event(event: PbxEvent) -> None:
            events.append(event)
            projector.handle(event)

        async def wait(pred: Any) -> None:
            for _ in range(2000):
                if pred():
                    return
                await asyncio.sleep(0.01)
            raise AssertionError(f"condition not met; events: {events!r}")

        def of(kind: type) -> list[Any]:
            return [e for e in events if isinstance(e, kind)]

        calls: dict[str, Any] = {}
        missed: dict[str, Any] = {}

        async def scenario() -> None:
            port = AsteriskAdapter(address, backoff_initial=0.05)
            port.subscribe(on_event)
            await port.start()
            try:
                await wait(lambda: port.connected)

                def answered_call(company: Company) -> Any:
                    call = sim.model.start_call(company.endpoints["201"], "202")  # 201 calls 202, in its context
                    call.ring()
                    call.answer()
                    return call

                for company in (acme, globex):
                    calls[company.tenant.domain] = sim.call_soon(answered_call, company)
                await wait(lambda: len(of(CallAnswered)) >= 2)
                projector.flush()
                # both calls up: each on its own company's "Appels en cours"
                expected = {calls["acme.test"].caller.linkedid: acme.tenant.id,
                            calls["globex.test"].caller.linkedid: globex.tenant.id}
                assert live_tenants(db) == expected
                # the same from the snapshot the daemon takes after a reconnect (CoreShowChannels)
                projector.reconcile_calls(await port.live_calls())
                projector.flush()
                assert live_tenants(db) == expected
                for call in calls.values():
                    sim.call_soon(call.hangup)
                await wait(lambda: len(of(CallEnded)) >= 2 and len(of(CallRecorded)) >= 2)

                # Globex's 202 is away: Globex's 201 calls 202, nobody rings; the record names only the
                # number dialled (202) and the context it was dialled in.
                def unanswered() -> Any:
                    sim.model.unregister(globex.endpoints["202"])
                    call = sim.model.start_call(globex.endpoints["201"], "202")
                    assert call.ring() is None
                    call.hangup(cause=18)
                    return call

                missed["call"] = sim.call_soon(unanswered)
                await wait(lambda: len(of(CallRecorded)) >= 3)
                await asyncio.sleep(0.2)  # any further record of these calls
            finally:
                await port.stop()

        asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        sim.stop()
    projector.flush()

    ids = {company: {calls[company.tenant.domain].caller.uniqueid} for company in (acme, globex)}
    assert records(db, ids[acme]) == {(acme.tenant.id, acme.users["201"].id, "internal"),
                                      (acme.tenant.id, acme.users["202"].id, "internal")}
    assert records(db, ids[globex]) == {(globex.tenant.id, globex.users["201"].id, "internal"),
                                        (globex.tenant.id, globex.users["202"].id, "internal")}
    # the missed call is Globex's 202's (dialled in cpbx-globex), never Acme's 202's
    assert records(db, {missed["call"].caller.uniqueid}) == {
        (globex.tenant.id, globex.users["201"].id, "internal"), (globex.tenant.id, globex.users["202"].id, "internal")}


# ---------------------------------------------------------------------------------------- FreeSWITCH


FACTORY = EventFactory()


def fs_event(key: str, **headers: str) -> EslEvent:
    """A recorded FreeSWITCH event (sim/data/esl_templates.json) with the given headers set."""
    h = dict(FACTORY.from_template(key, {}).headers)
    h.update(headers)
    return EslEvent(h, list(h.items()))


def phone_leg(company: Company, domain: str, slug: str, uuid: str, dialled: str) -> dict[str, str]:
    """The headers FreeSWITCH sets on a leg of the company's 201 (authenticated as its directory user)."""
    user = company.endpoints["201"]
    return {"Unique-ID": uuid, "Channel-Name": f"sofia/internal/{user}@{domain}", "Call-Direction": "inbound",
            "Caller-Caller-ID-Number": "201", "Caller-Caller-ID-Name": company.users["201"].first_name,
            "Caller-Destination-Number": dialled, "Caller-Context": f"cpbx-{slug}", "Caller-Username": user,
            "Caller-Channel-Created-Time": str(NOW * 1_000_000),
            "variable_user_name": user, "variable_domain_name": domain, "variable_user_context": f"cpbx-{slug}",
            "variable_sip_authorized": "true", "variable_presence_id": f"{user}@{domain}",
            "variable_uuid": uuid, "variable_call_uuid": uuid}


def dialled_leg(company: Company, domain: str, slug: str, uuid: str, a_uuid: str) -> dict[str, str]:
    """A leg the dialplan's user/<202's SIP username>@<domain> bridge created."""
    user = company.endpoints["202"]
    return {"Unique-ID": uuid, "Channel-Name": f"sofia/internal/{user}@10.0.0.9", "Call-Direction": "outbound",
            "Caller-Destination-Number": user, "Caller-Context": f"cpbx-{slug}", "variable_originator": a_uuid,
            "variable_dialed_user": user, "variable_dialed_domain": domain,
            "variable_presence_id": f"{user}@{domain}", "variable_uuid": uuid}


def timing(answered: bool) -> dict[str, str]:
    return {"variable_start_epoch": str(NOW), "variable_answer_epoch": str(NOW + 2 if answered else 0),
            "variable_end_epoch": str(NOW + 62), "variable_duration": "62",
            "variable_billsec": "60" if answered else "0"}


def test_freeswitch_live_calls_and_records_of_two_tenants_201(engine, db, world) -> None:
    node, acme, globex = two_companies(db, world, NodeKind.FREESWITCH)
    projector = Projector(make_session_factory(engine), node.id)
    tr = EventTranslator(domain="pbx.example")
    out: list[PbxEvent] = []

    def feed(event: EslEvent) -> None:
        for e in tr.feed(event):
            out.append(e)
            projector.handle(e)

    for company, domain, slug in ((acme, "acme.test", "acme"), (globex, "globex.test", "globex")):
        a, b = f"a-{slug}", f"b-{slug}"
        feed(fs_event("CHANNEL_CREATE/inbound", **phone_leg(company, domain, slug, a, "202")))
        feed(fs_event("CHANNEL_PROGRESS/outbound", **dialled_leg(company, domain, slug, b, a)))
        feed(fs_event("CHANNEL_ANSWER/outbound", **dialled_leg(company, domain, slug, b, a)))
    projector.flush()
    assert live_tenants(db) == {"a-acme": acme.tenant.id, "a-globex": globex.tenant.id}
    # the same from the snapshot the daemon takes after a reconnect (show channels as json). The
    # generated directory gives a phone's legs presence by extension number (what BLF lamps watch) and
    # the directory user in presence_data: Globex's legs are 201@globex.test / 202@globex.test, numbers
    # that are also Acme's endpoint names, so reading presence_id as the endpoint would show Globex's
    # call to Acme. Channels of an older directory have only presence_id, the directory user.
    for by_number in (True, False):
        rows = []
        for company, domain, slug in ((acme, "acme.test", "acme"), (globex, "globex.test", "globex")):
            a, b = f"a-{slug}", f"b-{slug}"
            caller, callee = company.endpoints["201"], company.endpoints["202"]
            presence = ({"presence_id": f"201@{domain}", "presence_data": f"{caller}@{domain}"},
                        {"presence_id": f"202@{domain}", "presence_data": f"{callee}@{domain}"}) if by_number else (
                        {"presence_id": f"{caller}@{domain}"}, {"presence_id": f"{callee}@{domain}"})
            rows += [{"uuid": a, "call_uuid": a, "direction": "inbound", "created_epoch": str(NOW),
                      "name": f"sofia/internal/{caller}@{domain}", "cid_num": "201", "dest": "202",
                      "context": "", "callstate": "ACTIVE", **presence[0]},
                     {"uuid": b, "call_uuid": a, "direction": "outbound", "created_epoch": str(NOW + 2),
                      "name": f"sofia/internal/{callee}@10.0.0.9", "cid_num": "201", "dest": callee,
                      "context": "", "callstate": "ACTIVE", **presence[1]}]
        # no context on the rows: the endpoints must name the tenant before the domain does
        calls = EventTranslator(domain="pbx.example").load_channels(rows)
        assert {c.call_id: (c.source_endpoint, c.destination_endpoint, c.destination_number) for c in calls} == {
            f"a-{slug}": (company.endpoints["201"], company.endpoints["202"],
                          "202" if by_number else company.endpoints["202"])
            for company, slug in ((acme, "acme"), (globex, "globex"))}, by_number
        projector.reconcile_calls(calls)
        projector.flush()
        assert live_tenants(db) == {"a-acme": acme.tenant.id, "a-globex": globex.tenant.id}, by_number

    for company, domain, slug in ((acme, "acme.test", "acme"), (globex, "globex.test", "globex")):
        a, b = f"a-{slug}", f"b-{slug}"
        feed(fs_event("CHANNEL_HANGUP_COMPLETE/outbound", **dialled_leg(company, domain, slug, b, a),
                      **timing(True)))
        feed(fs_event("CHANNEL_HANGUP_COMPLETE/inbound", **phone_leg(company, domain, slug, a, "202"),
                      **timing(True), variable_dialed_user=company.endpoints["202"],
                      variable_dialed_domain=domain, variable_DIALSTATUS="SUCCESS",
                      variable_bridge_channel=f"sofia/internal/{company.endpoints['202']}@10.0.0.9",
                      **{"Other-Type": "originatee", "Hangup-Cause": "NORMAL_CLEARING"}))
    # Globex's 202 has DND on: Globex's 201 calls 202 and the dialplan sends the call to voicemail
    # without dialling anyone; the record names only the number dialled, in Globex's domain.
    feed(fs_event("CHANNEL_CREATE/inbound", **phone_leg(globex, "globex.test", "globex", "a-dnd", "202")))
    feed(fs_event("CHANNEL_HANGUP_COMPLETE/inbound", **phone_leg(globex, "globex.test", "globex", "a-dnd", "202"),
                  **timing(False), variable_dialed_user="", variable_dialed_domain="",
                  variable_bridge_channel="", variable_DIALSTATUS="",
                  **{"Other-Type": "", "Hangup-Cause": "NORMAL_CLEARING"}))
    assert len([e for e in out if isinstance(e, CallRecorded)]) == 3
    projector.flush()
    assert live_tenants(db) == {}

    # answered calls: the endpoints (SIP usernames) named both parties, right before this fix too
    assert records(db, {"a-acme"}) == {(acme.tenant.id, acme.users["201"].id, "internal"),
                                       (acme.tenant.id, acme.users["202"].id, "internal")}
    assert records(db, {"a-globex"}) == {(globex.tenant.id, globex.users["201"].id, "internal"),
                                         (globex.tenant.id, globex.users["202"].id, "internal")}
    # the missed call is Globex's 202's, found by number in Globex's domain, not Acme's 202's
    assert records(db, {"a-dnd"}) == {(globex.tenant.id, globex.users["201"].id, "internal"),
                                      (globex.tenant.id, globex.users["202"].id, "internal")}


def json_cdr_body(uuid: str, context: str, dialed: str, caller: str, **variables: str) -> bytes:
    """A mod_json_cdr document of a caller's leg (encode=false: URL-encoded variables)."""
    v = {"uuid": uuid, "call_uuid": uuid, "start_epoch": str(NOW), "answer_epoch": "0",
         "end_epoch": str(NOW + 20), "duration": "20", "billsec": "0", **variables}
    doc = {"variables": {k: quote(val, safe="") for k, val in v.items()},
           "callflow": [{"caller_profile": {"caller_id_name": "", "caller_id_number": caller,
                                            "destination_number": dialed, "context": context}}]}
    return json.dumps(doc).encode()


def test_freeswitch_posted_records_of_two_tenants_201(client, db, world) -> None:
    """mod_json_cdr posts (web/cdr): an outside caller reaches each company's 201, which is not
    dialled (DND: straight to voicemail); the leg ran in the company's context, and for a phone's
    call its domain says the company too."""
    node, acme, globex = two_companies(db, world, NodeKind.FREESWITCH)
    node.secret = "ClueCon"
    db.commit()
    auth = {"Authorization": "Basic " + base64.b64encode(b"n1:ClueCon").decode(),
            "Content-Type": "application/json"}
    bodies = {
        "in-acme": json_cdr_body("in-acme", "cpbx-acme", "201", "5145550000"),
        "in-globex": json_cdr_body("in-globex", "cpbx-globex", "201", "5145550000"),
        # Globex's 202 calls 201 (DND): found by its domain, the context being the profile's
        "out-globex": json_cdr_body("out-globex", "", "201", "202", user_name=globex.endpoints["202"],
                                    sip_authorized="true", domain_name="globex.test"),
    }
    for body in bodies.values():
        assert client.post("/cdr/freeswitch/n1", data=body, headers=auth).status_code == 200
    assert records(db, {"in-acme"}) == {(acme.tenant.id, acme.users["201"].id, "incoming")}
    assert records(db, {"in-globex"}) == {(globex.tenant.id, globex.users["201"].id, "incoming")}
    assert records(db, {"out-globex"}) == {(globex.tenant.id, globex.users["202"].id, "internal"),
                                           (globex.tenant.id, globex.users["201"].id, "internal")}
