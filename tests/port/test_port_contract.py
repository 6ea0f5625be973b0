"""The PbxPort contract: the same behavioural checks run against the Asterisk adapter (AMI) and the
FreeSWITCH adapter (ESL), each on the sim in its lab, so that the port means the same thing on both PBXs.

The fixture is parametrized over ["asterisk", "freeswitch"]; only the lab's numbering differs (Harness).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clusterpbx.control.port import (
    CallAnswered,
    CallEnded,
    CallRecorded,
    CallStarted,
    CallState,
    ExtensionFeatures,
    MailboxChanged,
    MailboxCounts,
    MailboxFolder,
    NodeAddress,
    PbxEvent,
    PbxPort,
    PhoneVendor,
    QueueMemberChanged,
    RegistrationChanged,
)
from clusterpbx.control.validation import InvalidValue
from clusterpbx.sim.runner import SimPBX


@dataclass
class Harness:
    kind: str
    sim: SimPBX
    make: Callable[[], PbxPort]
    caller: str  # an endpoint that places calls
    callee: str  # an endpoint that answers
    other: str  # a third registered endpoint
    queue: str
    vm_box: str  # the mailbox as the port names it
    vm_context: str  # the mailbox context in the sim's model
    events: list[PbxEvent] = field(default_factory=list)

    def run(self, scenario: Callable[[PbxPort], Awaitable[None]], timeout: float = 20.0) -> None:
        async def go() -> None:
            port = self.make()
            port.subscribe(self.events.append)
            await port.start()
            try:
                await scenario(port)
            finally:
                await port.stop()

        async def bounded() -> None:
            await asyncio.wait_for(go(), timeout)

        asyncio.run(bounded())

    async def wait(self, pred: Callable[[], bool], timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not pred():
            if loop.time() > end:
                raise AssertionError(f"condition not met; events: {self.events!r}")
            await asyncio.sleep(0.01)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def _asterisk(tmp_path: Path) -> tuple[SimPBX, Callable[[], PbxPort]]:
    try:
        mod = importlib.import_module("clusterpbx.ami.adapter")
    except ImportError as exc:  # the other engineer's adapter: fail loudly, never skip
        raise ImportError(f"clusterpbx.ami.adapter (AsteriskAdapter) does not exist yet: {exc}") from exc
    spool = tmp_path / "spool"
    sim = SimPBX(lab="asterisk", spool_dir=spool, esl_port=None).start()
    address = NodeAddress(host="127.0.0.1", port=sim.ami_port, username="portal", secret="portalsecret",
                          spool_path=str(spool), sip_domain="pbx.test", timeout=2.0)
    return sim, lambda: mod.AsteriskAdapter(address, backoff_initial=0.05)


def _freeswitch(tmp_path: Path) -> tuple[SimPBX, Callable[[], PbxPort]]:
    from clusterpbx.esl.adapter import FreeSwitchAdapter

    sim = SimPBX(lab="freeswitch", ami_port=0, esl_port=0).start()
    address = NodeAddress(host="127.0.0.1", port=sim.esl_port, secret="ClueCon", sip_domain="127.0.0.1",
                          timeout=2.0)
    return sim, lambda: FreeSwitchAdapter(address, backoff_initial=0.05)


@pytest.fixture(params=["asterisk", "freeswitch"])
def pbx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "asterisk":
        sim, make = _asterisk(tmp_path)
        h = Harness("asterisk", sim, make, caller="101", callee="102", other="103", queue="support",
                    vm_box="103", vm_context="default")
    else:
        sim, make = _freeswitch(tmp_path)
        h = Harness("freeswitch", sim, make, caller="1000", callee="1001", other="1003",
                    queue="support@default", vm_box="1003", vm_context="127.0.0.1")
    try:
        yield h
    finally:
        sim.stop()


def test_features_round_trip(pbx: Harness) -> None:
    wanted = ExtensionFeatures(call_waiting=False, dnd=True, forward_busy=pbx.other, forward_noanswer="0612345678",
                               forward_noanswer_delay=25, followme_enabled=True,
                               followme_numbers=(pbx.other, "0612345678"), followme_delay=30, followme_confirm=True,
                               language="en", out_of_office=True)

    async def scenario(port: PbxPort) -> None:
        assert await port.read_features(pbx.callee) == ExtensionFeatures(call_waiting=False)
        await port.write_features(pbx.callee, wanted)
        assert await port.read_features(pbx.callee) == wanted
        await port.write_features(pbx.callee, ExtensionFeatures())
        assert await port.read_features(pbx.callee) == ExtensionFeatures()

    pbx.run(scenario)


def test_queue_login_pause_resume_logout(pbx: Harness) -> None:
    iface = f"PJSIP/{pbx.callee}"

    def member_events() -> list[Any]:
        return [e for e in pbx.of(QueueMemberChanged) if e.member.interface == iface]

    async def scenario(port: PbxPort) -> None:
        await port.queue_login(pbx.queue, iface, "Queue Agent")
        members = {m.interface: m for m in await port.queue_members(pbx.queue)}
        assert members[iface].logged_in and not members[iface].paused
        await pbx.wait(lambda: any(not e.removed and e.member.queue == pbx.queue for e in member_events()))

        await port.queue_pause(pbx.queue, iface, "Lunch")
        m = {m.interface: m for m in await port.queue_members(pbx.queue)}[iface]
        assert m.paused and m.pause_reason == "Lunch"
        await pbx.wait(lambda: any(e.member.paused and e.member.pause_reason == "Lunch" for e in member_events()))

        await port.queue_resume(pbx.queue, iface)
        m = {m.interface: m for m in await port.queue_members(pbx.queue)}[iface]
        assert not m.paused
        await pbx.wait(lambda: not member_events()[-1].member.paused)

        await port.queue_logout(pbx.queue, iface)
        assert iface not in {m.interface for m in await port.queue_members(pbx.queue)}
        await pbx.wait(lambda: any(e.removed for e in member_events()))

    pbx.run(scenario)


def test_live_calls_and_call_events(pbx: Harness) -> None:
    async def scenario(port: PbxPort) -> None:
        assert await port.live_calls() == []
        call = pbx.sim.call_soon(pbx.sim.model.start_call, pbx.caller, pbx.callee)
        pbx.sim.call_soon(call.ring)
        pbx.sim.call_soon(call.answer)
        (live,) = await port.live_calls()
        assert live.state == CallState.ANSWERED
        assert live.source_number == pbx.caller and live.destination_number == pbx.callee
        pbx.sim.call_soon(call.hangup)
        await pbx.wait(lambda: bool(pbx.of(CallEnded)) and bool(pbx.of(CallRecorded)))
        started = pbx.of(CallStarted)[0]
        assert started.call.call_id == live.call_id
        assert pbx.of(CallAnswered)[0].call_id == live.call_id
        assert pbx.of(CallEnded)[0].call_id == live.call_id
        record = pbx.of(CallRecorded)[0].record
        assert record.caller_number == pbx.caller and record.dialed_number == pbx.callee
        assert await port.live_calls() == []

    pbx.run(scenario)


def test_registrations(pbx: Harness) -> None:
    async def scenario(port: PbxPort) -> None:
        regs = {r.endpoint: r for r in await port.registrations()}
        assert regs[pbx.callee].registered and regs[pbx.callee].contact.startswith(f"sip:{pbx.callee}@")
        pbx.sim.call_soon(pbx.sim.model.unregister, pbx.callee)
        await pbx.wait(lambda: any(e.state.endpoint == pbx.callee and not e.state.registered
                                   for e in pbx.of(RegistrationChanged)))
        after = {r.endpoint: r for r in await port.registrations()}
        assert pbx.callee not in after or not after[pbx.callee].registered

    pbx.run(scenario)


def test_resync_phone_sends_check_sync(pbx: Harness) -> None:
    async def scenario(port: PbxPort) -> None:
        await port.resync_phone(pbx.callee, PhoneVendor.POLYCOM)
        notify = pbx.sim.call_soon(lambda: pbx.sim.model.notifies[-1])
        assert notify.endpoint == pbx.callee and notify.event == "check-sync"

    pbx.run(scenario)


def test_click_to_call_rings_the_users_phone(pbx: Harness) -> None:
    async def scenario(port: PbxPort) -> None:
        await port.click_to_call(pbx.callee, pbx.other)
        await pbx.wait(lambda: bool(pbx.of(CallStarted)))
        started = pbx.of(CallStarted)[0].call
        assert started.source_number == pbx.callee  # the user is the one calling
        (live,) = await port.live_calls()
        assert live.call_id == started.call_id and live.source_number == pbx.callee
        # Once the user answers, the PBX dials the number: one call, from the user to it.
        await pbx.wait(lambda: bool(pbx.sim.call_soon(
            lambda: [c for c in pbx.sim.model.channels.values() if c.endpoint == pbx.other])))
        (live,) = await port.live_calls()
        assert (live.call_id, live.source_number, live.destination_number) == (
            started.call_id, pbx.callee, pbx.other)

    pbx.run(scenario)


def test_send_message(pbx: Harness) -> None:
    async def scenario(port: PbxPort) -> None:
        await port.send_message(pbx.caller, pbx.callee, "Bonjour à tous")
        msg = pbx.sim.call_soon(lambda: pbx.sim.model.messages[-1])
        assert msg.body == "Bonjour à tous" and pbx.callee in msg.to and pbx.caller in msg.from_

    pbx.run(scenario)


def test_voicemail_list_delete_refresh_counts(pbx: Harness) -> None:
    model = pbx.sim.model

    async def scenario(port: PbxPort) -> None:
        assert await port.voicemail_messages(pbx.vm_box) == []
        pbx.sim.call_soon(model.leave_voicemail, pbx.vm_box, '"Alice" <100>', 5, pbx.vm_context)
        pbx.sim.call_soon(model.leave_voicemail, pbx.vm_box, '"Bob" <101>', 3, pbx.vm_context)
        msgs = await port.voicemail_messages(pbx.vm_box)
        assert [(m.caller_id, m.duration_seconds, m.folder) for m in msgs] == [
            ('"Alice" <100>', 5, MailboxFolder.INBOX), ('"Bob" <101>', 3, MailboxFolder.INBOX)]
        assert await port.mailbox_counts(pbx.vm_box) == MailboxCounts(new=2, old=0)
        await port.voicemail_delete(pbx.vm_box, [msgs[0].message_id])
        assert [m.message_id for m in await port.voicemail_messages(pbx.vm_box)] == [msgs[1].message_id]
        assert await port.mailbox_counts(pbx.vm_box) == MailboxCounts(new=1, old=0)
        # the delete announced the new count; a refresh is accepted (Asterisk only re-announces a change)
        await port.voicemail_refresh(pbx.vm_box)
        await pbx.wait(lambda: any(e.mailbox == pbx.vm_box and e.counts.new == 1 for e in pbx.of(MailboxChanged)))

    pbx.run(scenario)


@pytest.mark.parametrize("attempt", [
    "queue_login", "click_to_call", "write_features", "resync_phone", "conference_kick", "send_message_to"])
def test_injection_is_refused(pbx: Harness, attempt: str) -> None:
    evil = "1\r\nAction: Originate\n\napi fsctl shutdown"

    async def scenario(port: PbxPort) -> None:
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "queue_login": lambda: port.queue_login(pbx.queue, "PJSIP/" + evil),
            "click_to_call": lambda: port.click_to_call(pbx.callee, evil),
            "write_features": lambda: port.write_features(evil, ExtensionFeatures()),
            "resync_phone": lambda: port.resync_phone("10 1", PhoneVendor.OTHER),
            "conference_kick": lambda: port.conference_kick("room one", "1"),
            "send_message_to": lambda: port.send_message(pbx.caller, evil, "hi"),
        }
        with pytest.raises(InvalidValue):
            await calls[attempt]()
        assert port.connected

    pbx.run(scenario)


def test_conference_settings_written_where_the_dialplan_reads_them(pbx: Harness) -> None:
    from clusterpbx.control.port import ConferenceSettings

    def conf_keys() -> dict[str, str]:
        db = pbx.sim.call_soon(lambda: dict(pbx.sim.model.db))
        return {k: v for k, v in db.items() if "conf" in k and pbx.callee in k}

    async def scenario(port: PbxPort) -> None:
        await port.write_conference(pbx.callee, ConferenceSettings(enabled=True, admin_pin="4821", user_pin="1357",
                                                                   max_members=8, wait_for_admin=True))
        written = conf_keys()
        assert "4821" in written.values() and "1357" in written.values() and "8" in written.values()
        await port.write_conference(pbx.callee, ConferenceSettings(enabled=False))
        assert conf_keys() == {}
        with pytest.raises(InvalidValue):
            await port.write_conference(pbx.callee, ConferenceSettings(enabled=True, admin_pin="12\n34"))

    pbx.run(scenario)
