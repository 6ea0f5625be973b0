"""Feature codes dialled on a phone change settings behind the portal's back (*76 DND, *45/*46 queue
log-in/out): the generated dialplans keep writing the keys as before and also announce each change with
an event naming the tenant-qualified owner and the new value, which the adapters turn into the port's
FeatureChanged (and nothing else: the event stream is outside input)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from clusterpbx.ami.adapter import needed_events
from clusterpbx.ami.translate import EventTranslator as AmiTranslator
from clusterpbx.control.port import FeatureChanged
from clusterpbx.dialplan.asterisk import render_asterisk
from clusterpbx.dialplan.freeswitch import render_freeswitch
from clusterpbx.dialplan.model import NodeSnapshot
from clusterpbx.esl.connection import DEFAULT_EVENTS
from clusterpbx.esl.protocol import EslEvent
from clusterpbx.esl.translate import EventTranslator as EslTranslator
from clusterpbx.esl.translate import event_time
from tests.dialplan.sample import acme
from tests.dialplan.tracer import Dialplan, Tracer

AT = dt.datetime(2026, 12, 7, 12, 0, 0)


def prefixed(kind: str = "asterisk") -> NodeSnapshot:
    """The sample with Acme's keys under its tenant prefix too, as control.pbxnames names every tenant."""
    snap = acme(kind)
    tenants = tuple(dataclasses.replace(t, astdb_prefix="acme-") if t.slug == "acme" else t for t in snap.tenants)
    return dataclasses.replace(snap, tenants=tenants)


@pytest.fixture(scope="module")
def dialplan() -> Dialplan:
    return Dialplan.parse(render_asterisk(prefixed())["extensions_clusterpbx.conf"])


def ami_event(data: str) -> dict[str, str]:
    """The AMI event Asterisk's UserEvent(<name>,<Header: value>,...) sends (app_userevent.c)."""
    name, *fields = data.split(",")
    event = {"Event": "UserEvent", "Privilege": "user,all", "Channel": "PJSIP/acme102-00000001",
             "UserEvent": name}
    for f in fields:
        key, _, value = f.partition(":")
        event[key.strip()] = value.strip()
    return event


def user_events(t: Tracer) -> list[str]:
    return [e.data for e in t.find("UserEvent")]


# ----------------------------------------------------------------------------- Asterisk


def test_asterisk_dnd_code_announces_the_change_with_its_tenant_owner(dialplan: Dialplan) -> None:
    db: dict[str, str] = {}
    on = Tracer(dialplan, astdb=db)
    on.call("cpbx-acme", "*76", endpoint="acme102")
    assert db == {"DND/acme-102": "YES"}  # the key write is unchanged: calls work without the daemon
    assert user_events(on) == ["CPBXFeature,Owner: acme-102,Feature: dnd,Value: on"]
    off = Tracer(dialplan, astdb=db)
    off.call("cpbx-acme", "*76", endpoint="acme102")
    assert db == {}
    assert user_events(off) == ["CPBXFeature,Owner: acme-102,Feature: dnd,Value: off"]

    translator = AmiTranslator(clock=lambda: AT)
    assert translator.feed(ami_event(user_events(on)[0])) == [FeatureChanged(AT, "acme-102", "dnd", "on")]
    assert translator.feed(ami_event(user_events(off)[0])) == [FeatureChanged(AT, "acme-102", "dnd", "off")]


def test_asterisk_another_tenants_same_number_has_its_own_owner(dialplan: Dialplan) -> None:
    db: dict[str, str] = {}
    t = Tracer(dialplan, astdb=db)
    t.call("cpbx-beta", "*76", endpoint="beta101")
    assert db == {"DND/beta-101": "YES"}
    assert user_events(t) == ["CPBXFeature,Owner: beta-101,Feature: dnd,Value: on"]


def test_asterisk_queue_codes_announce_login_and_logout(dialplan: Dialplan) -> None:
    login = Tracer(dialplan)
    login.call("cpbx-acme", "*45", endpoint="acme102")
    assert login.find("AddQueueMember")
    assert user_events(login) == ["CPBXFeature,Owner: acme-102,Feature: queue,Value: login"]
    logout = Tracer(dialplan)
    logout.call("cpbx-acme", "*46", endpoint="acme102")
    assert logout.find("RemoveQueueMember")
    assert user_events(logout) == ["CPBXFeature,Owner: acme-102,Feature: queue,Value: logout"]
    translator = AmiTranslator(clock=lambda: AT)
    assert translator.feed(ami_event(user_events(logout)[0])) == [
        FeatureChanged(AT, "acme-102", "queue", "logout")]


def test_asterisk_unknown_caller_sends_no_event(dialplan: Dialplan) -> None:
    db: dict[str, str] = {}
    t = Tracer(dialplan, astdb=db)
    t.call("cpbx-acme", "*76", endpoint="intruder")
    assert db == {} and user_events(t) == []
    t = Tracer(dialplan, astdb=db)
    t.call("cpbx-acme", "*76", endpoint="acme101-desk")  # a second phone of 101: 101's
    assert user_events(t) == ["CPBXFeature,Owner: acme-101,Feature: dnd,Value: on"]


def test_userevent_passes_the_adapters_event_filter() -> None:
    assert "UserEvent" in needed_events()


@pytest.mark.parametrize("changed", [
    {"UserEvent": "SomethingElse"},
    {"Owner": "102"},  # a bare number: whose?
    {"Owner": "acme-102@x"},
    {"Owner": "Acme-102\r\nEvent: Cdr"},
    {"Owner": "acme-"},
    {"Owner": "a" * 80 + "-102"},
    {"Feature": "forward"},
    {"Value": "YES"},
    {"Value": "login"},
    {"Value": None},
])
def test_asterisk_translator_drops_anything_not_exactly_ours(changed: dict[str, str | None]) -> None:
    ours = {"Event": "UserEvent", "UserEvent": "CPBXFeature", "Owner": "acme-102", "Feature": "dnd", "Value": "on"}
    translator = AmiTranslator(clock=lambda: AT)
    assert translator.feed(ours) == [FeatureChanged(AT, "acme-102", "dnd", "on")]
    hostile = {k: v for k, v in {**ours, **changed}.items() if v is not None}
    assert translator.feed(hostile) == []


# ----------------------------------------------------------------------------- FreeSWITCH


def fs_dialplan() -> ET.Element:
    # our own generated document
    return ET.fromstring(render_freeswitch(prefixed("freeswitch"))["dialplan_clusterpbx.xml"])  # noqa: S314


def actions(root: ET.Element, context: str, extension: str) -> list[tuple[str, str]]:
    ext = root.find(f"./context[@name='{context}']/extension[@name='{extension}']")
    assert ext is not None, extension
    return [(a.get("application", ""), a.get("data", "")) for a in ext.iter("action")]


def fired(data: str, variables: dict[str, str]) -> EslEvent:
    """The event FreeSWITCH's `event` application fires for this data (mod_dptools event_function: the
    data expanded, split at ',', each part header=value; Event-Name/Event-Subclass make it CUSTOM)."""
    for name, value in variables.items():
        data = data.replace(f"${{{name}}}", value)
    headers = {"Event-Name": "CHANNEL_APPLICATION", "Unique-ID": "a1b2", "Caller-Caller-ID-Number": "102",
               "Event-Date-Timestamp": "1796644800000000"}
    for part in data.split(","):
        key, _, value = part.partition("=")
        headers[key.strip()] = value.strip()
    return EslEvent(headers=headers, all_headers=list(headers.items()))


def test_freeswitch_dnd_code_fires_the_feature_event_after_writing_the_key() -> None:
    root = fs_dialplan()
    on = actions(root, "cpbx-acme", "cpbx-dnd-on")
    off = actions(root, "cpbx-acme", "cpbx-dnd-toggle")
    # the key writes stay as they were, the event follows them
    assert on[0] == ("db", "insert/cpbx_dnd/${cpbx_ext}@acme.example.com/true")
    assert off[0] == ("db", "delete/cpbx_dnd/${cpbx_ext}@acme.example.com")
    translator = EslTranslator()
    for acts, value in ((on, "on"), (off, "off")):
        events = [data for app, data in acts if app == "event"]
        assert len(events) == 1 and [a for a, _d in acts].index("event") > [a for a, _d in acts].index("db")
        ev = fired(events[0], {"cpbx_ext": "102"})
        assert (ev.name, ev.subclass) == ("CUSTOM", "cpbx::feature")
        assert translator.feed(ev) == [FeatureChanged(ev_time(ev), "102@acme.example.com", "dnd", value)]
    # another tenant's *76 names its own domain
    beta = [d for a, d in actions(root, "cpbx-beta", "cpbx-dnd-on") if a == "event"]
    assert beta and "owner=${cpbx_ext}@beta.example.com," in beta[0]


def ev_time(ev: EslEvent) -> dt.datetime:
    return event_time(ev)


def test_freeswitch_queue_codes_fire_events_and_login_puts_the_tiers_back() -> None:
    root = fs_dialplan()
    # 102 is an agent of support: *45 re-adds its tier (a portal log-out deleted it) before it is Available
    login = actions(root, "cpbx-acme", "cpbx-agent-45-102")
    assert [d for a, d in login if a == "set"] == [
        "res=${callcenter_config(tier add cpbx-acme-support acme-102 1 1)}",
        "res=${callcenter_config(agent set status acme-${cpbx_ext} 'Available')}",
    ]
    ext = root.find("./context[@name='cpbx-acme']/extension[@name='cpbx-agent-45-102']")
    assert ext is not None
    conditions = [(c.get("field"), c.get("expression")) for c in ext.iter("condition")]
    assert conditions == [("${cpbx_ext}", "^102$"), ("destination_number", r"^\*45$")]
    context = root.find("./context[@name='cpbx-acme']")
    assert context is not None
    names = [e.get("name") for e in context]
    assert names.index("cpbx-agent-45-102") < names.index("cpbx-agent-45")  # the agent's own first
    translator = EslTranslator()
    for extension, value in (("cpbx-agent-45-102", "login"), ("cpbx-agent-45", "login"),
                             ("cpbx-agent-46", "logout")):
        events = [d for a, d in actions(root, "cpbx-acme", extension) if a == "event"]
        assert len(events) == 1, extension
        ev = fired(events[0], {"cpbx_ext": "102"})
        assert translator.feed(ev) == [FeatureChanged(ev_time(ev), "102@acme.example.com", "queue", value)]


def test_freeswitch_adapter_subscribes_to_the_feature_events() -> None:
    assert "cpbx::feature" in DEFAULT_EVENTS[DEFAULT_EVENTS.index("CUSTOM"):]


@pytest.mark.parametrize("changed", [
    {"owner": "102"},  # a bare number: whose?
    {"owner": "acme-102"},
    {"owner": "102@acme.example.com\nX: y"},
    {"owner": "102@-acme.example.com"},
    {"owner": "102@" + "a" * 300 + ".com"},
    {"feature": "cf"},
    {"feature": "queue"},  # "on" is no queue value
    {"value": "true"},
    {"value": None},
    {"Event-Subclass": "other::feature"},
])
def test_freeswitch_translator_drops_anything_not_exactly_ours(changed: dict[str, str | None]) -> None:
    ours = {"Event-Name": "CUSTOM", "Event-Subclass": "cpbx::feature", "Event-Date-Timestamp": "1796644800000000",
            "owner": "102@acme.example.com", "feature": "dnd", "value": "on"}
    translator = EslTranslator()
    ev = EslEvent(headers=ours, all_headers=list(ours.items()))
    assert translator.feed(ev) == [FeatureChanged(ev_time(ev), "102@acme.example.com", "dnd", "on")]
    hostile = {k: v for k, v in {**ours, **changed}.items() if v is not None}
    assert translator.feed(EslEvent(headers=hostile, all_headers=list(hostile.items()))) == []
