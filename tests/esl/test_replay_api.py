"""The adapter's port operations answered by real FreeSWITCH replies: a raw server plays back what
FreeSWITCH 1.10.12 answered to the same commands in the captures (sofia status, mod_callcenter lists,
vm_list with its two uuids, conference json_list, show channels as json)."""

from __future__ import annotations

import datetime as dt

from clusterpbx.control.port import CallState, MailboxCounts, MailboxFolder

from .capture import recorded_responder
from .conftest import adapter_for, run, settle
from .rawserver import RawServer


def test_operations_on_recorded_answers(raw: RawServer) -> None:
    raw.responder = recorded_responder("15_sofia_status.txt", "10_callcenter_config.txt", "14_voicemail_api.txt",
                                       "12_conference.txt", "04_show_channels_json_bridged.txt")

    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            await settle(a)
            regs = {r.endpoint: r for r in await a.registrations()}
            assert set(regs) >= {"1000", "1001", "1002"}
            assert regs["1002"].contact == "sip:1002@127.0.0.1:25072" and regs["1002"].user_agent == "SIPp-lab"
            assert all(r.registered for r in regs.values())

            members = await a.queue_members("support@default")
            assert [(m.queue, m.interface, m.logged_in, m.paused) for m in members] == [
                ("support@default", "PJSIP/1001", False, False)]

            msgs = await a.voicemail_messages("1002")
            assert [m.message_id for m in msgs][:1] == ["9b31074d-4a37-4902-9a29-cb5df988a8ae"]  # field 7
            assert msgs[0].caller_id == '"Extension 1000" <1000>' and msgs[0].duration_seconds == 3
            assert msgs[0].folder == MailboxFolder.INBOX
            assert msgs[0].received_at == dt.datetime(2026, 11, 27, 16, 45, 47)
            assert await a.mailbox_counts("1002") == MailboxCounts(new=2, old=0)
            await a.voicemail_refresh("1002")

            (room,) = await a.conference_rooms()
            assert room.name == "3000-127.0.0.1" and room.participants == 1
            (p,) = await a.conference_participants("3000-127.0.0.1")
            assert (p.participant_id, p.caller_number, p.muted) == ("1", "1000", False)
            await a.conference_mute("3000-127.0.0.1", "1", True)
            await a.conference_kick("3000-127.0.0.1", "1")

            (live,) = await a.live_calls()
            assert live.state == CallState.ANSWERED and live.destination_number == "1001"
        finally:
            await a.stop()

    run(go())
