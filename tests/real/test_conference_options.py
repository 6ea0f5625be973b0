"""The personal conference's options ("Ma conférence personnelle", "Options" of the user guide) on the real
Asterisk 22 (ConfBridge) and FreeSWITCH 1.10 (mod_conference) of the lab (issue 19): the settings are the
ones the daemon writes (the port's write_conference under PbxNames.feature_owner), read by the generated
dialplan at call time; SIPp phones dial the conference code (*99201) and key a PIN as RFC 4733 events.

- the organiser's (admin) PIN joins as admin, the users' PIN as a user;
- "wait for the organiser": a user is held (cannot be heard) until the admin joins;
- "listen only (users only)": a user joins muted, the admin does not;
- the owner calling from their own phone joins as admin without a PIN;
- join/leave announcements: the caller records their name, which the others hear as "<name> has joined"
  (Asterisk: ConfBridge's announce_join_leave; FreeSWITCH: the member's enter and exit sounds);
- the maximum number of members: one more than the maximum is refused.

The room's members are read with the adapter's conference_participants, as the portal does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import struct
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clusterpbx.control.port import ConferenceParticipant, ConferenceSettings, PbxRefused
from tests.real.both_lab import (
    DOMAIN,
    HERE,
    ast_adapter,
    config_dir,
    fs_adapter,
    load,
    sip_target,
    sipp_base,
    snapshot,
)
from tests.real.test_conference_real import owner, prompts

pytestmark = pytest.mark.real
UAC_PIN = HERE / "uac_conference_pin.xml"
ROOM = "cpbx-both-201"  # control/conference.py room_name
# distinct digits: SIPp replays one pcap per digit, and the same pcap twice is one RFC 4733 event to Asterisk
ADMIN_PIN, USER_PIN = "5678", "1234"
BASE = ConferenceSettings(enabled=True, admin_pin=ADMIN_PIN, user_pin=USER_PIN, max_members=10, announce_count=False,
                          music_on_hold=True, star_menu=True)
CALLERS = {"201": "pw-201-both", "202": "pw-202-both", "203": "pw-203-both"}
_port = iter(range(28300, 28400))  # the phones' own SIP ports (28xxx: this file's)


def ulaw_silence_pcap(path: Path, seconds: int) -> Path:
    """A pcap SIPp can play (play_pcap_audio): `seconds` of RTP PCMU (payload 0) silence, 20 ms a packet."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet link type
    for n in range(seconds * 50):
        rtp = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, n * 160, 0x43505258) + b"\xff" * 160
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\0" * 12 + b"\x08\x00" + ip
        usec = n * 20000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


class Room:
    """One lab PBX with the test company loaded and the conference settings written; SIPp callers."""

    def __init__(self, kind: str, env: dict[str, str], sipp: str, work: Path) -> None:
        self.kind, self.env, self.sipp, self.work = kind, env, sipp, work
        self.adapter: Any = ast_adapter(env) if kind == "asterisk" else fs_adapter(env)
        self.procs: list[tuple[subprocess.Popen[str], Path]] = []
        self.sound_prefix = ""

    async def start(self, settings: ConferenceSettings) -> None:
        await self.adapter.start()
        await load(self.adapter, snapshot(self.kind), config_dir(self.kind, self.env))
        await self.kick_all()
        await self.adapter.write_conference(owner(self.kind), settings)
        if self.kind == "freeswitch":  # silent PIN prompts: the lab FreeSWITCH has no sounds
            self.sound_prefix = (await self.adapter.api("global_getvar sound_prefix")).strip()
            folder = prompts(self.env)
            for name in ("ivr/ivr-say_name", "conference/conf-has_joined", "conference/conf-has_left"):
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(folder / "conference" / "conf-pin.wav", folder / f"{name}.wav")
            await self.adapter.api(f"global_setvar sound_prefix={folder}")

    async def kick_all(self) -> None:
        """Nobody left in the room (a SIPp phone stopped without its BYE would stay in it), twice in a
        row (a caller of the test before may still be recording its name)."""
        empty = 0
        for _ in range(30):
            people = await self.members()
            empty = 0 if people else empty + 1
            if empty == 2:
                return
            for p in people:
                if self.kind == "asterisk":  # ConfbridgeKick finds no channel that is still waiting
                    await self.adapter._action({"Action": "Hangup", "Channel": p.participant_id},
                                               ok=("No such channel",))
                else:
                    await self.adapter.conference_kick(ROOM, p.participant_id)
            await asyncio.sleep(1)

    async def stop(self) -> None:
        with contextlib.suppress(PbxRefused):  # the phones are stopped below anyway
            await self.kick_all()
        for proc, _log in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        try:
            if self.kind == "freeswitch" and self.sound_prefix:
                await self.adapter.api(f"global_setvar sound_prefix={self.sound_prefix}")
            await self.adapter.write_conference(owner(self.kind), ConferenceSettings(enabled=False))
        finally:
            await self.adapter.stop()

    def dial(self, caller: str, pin: str, hold_ms: int = 30000, talk: bool = False) -> Path:
        """`caller` dials *99201 and keys `pin` then #; stays `hold_ms` in the call. Its SIPp log. With
        `talk`, the phone then sends 28 s of audio (Asterisk drops a caller whose name it records and
        who sends none: "No audio available")."""
        port = next(_port)
        log = self.work / f"conf-{caller}-{port}.log"
        scenario = UAC_PIN.read_text()
        for i, digit in enumerate(pin, 1):
            scenario = scenario.replace(f"@D{i}@", digit)
        if talk:
            audio = ulaw_silence_pcap(self.work / "talk.pcap", 28)
            sent = '<nop><action><log message="PIN SENT" /></action></nop>'
            scenario = scenario.replace(sent, f'{sent}\n  <pause milliseconds="1500" />'  # the # ends first
                                        f'\n  <nop><action><exec play_pcap_audio="{audio}" /></action></nop>')
        xml = self.work / f"uac_pin_{pin}{'_talk' if talk else ''}.xml"
        xml.write_text(scenario)
        proc = subprocess.Popen(
            [*sipp_base(self.sipp, xml, port, log), "-m", "1", "-s", "*99201", "-au", f"u{caller}",
             "-ap", CALLERS[caller], "-set", "caller", f"u{caller}", "-set", "display", f"User {caller}",
             "-set", "domain", DOMAIN, "-d", str(hold_ms), sip_target(self.kind, self.env)],
            cwd=self.work, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True)
        self.procs.append((proc, log))
        return log

    async def members(self) -> list[ConferenceParticipant]:
        out: list[ConferenceParticipant] = []
        for room in await self.adapter.conference_rooms():
            if ROOM in room.name:
                out += await self.adapter.conference_participants(room.name)
        return out

    async def wait_members(self, count: int, seconds: float = 25) -> list[ConferenceParticipant]:
        deadline = time.monotonic() + seconds
        found: list[ConferenceParticipant] = []
        while time.monotonic() < deadline:
            found = await self.members()
            if len(found) >= count:
                await asyncio.sleep(1)  # flags settle after the join
                return await self.members()
            await asyncio.sleep(0.5)
        return found


def by_number(people: list[ConferenceParticipant], number: str) -> list[ConferenceParticipant]:
    return [p for p in people if p.caller_number in (number, f"u{number}")]


def run(kind: str, request: pytest.FixtureRequest, sipp: str, work: Path, settings: ConferenceSettings,
        body: Any) -> dict[str, Any]:
    env = request.getfixturevalue(f"{kind}_lab")
    room = Room(kind, env, sipp, work)
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        await room.start(settings)
        try:
            await body(room, seen)
        finally:
            await room.stop()
        seen["logs"] = {log.name: log.read_text(errors="replace") for _p, log in room.procs if log.exists()}

    asyncio.run(scenario())
    return seen


KINDS = ["asterisk", "freeswitch"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_admin_pin_joins_as_admin_and_the_user_pin_as_a_user(kind, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        room.dial("203", USER_PIN)
        seen["user"] = await room.wait_members(1)
        room.dial("202", ADMIN_PIN)
        seen["both"] = await room.wait_members(2)

    seen = run(kind, request, sipp, tmp_path, BASE, body)
    assert [p.admin for p in by_number(seen["user"], "203")] == [False], seen
    people = seen["both"]
    assert [p.admin for p in by_number(people, "202")] == [True], seen  # 202 is not the owner: the PIN made it admin
    assert [p.admin for p in by_number(people, "203")] == [False], seen
    assert not any(p.muted for p in people), seen


@pytest.mark.parametrize("kind", KINDS)
def test_users_wait_for_the_organiser(kind, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        room.dial("203", USER_PIN)
        seen["alone"] = await room.wait_members(1)
        await asyncio.sleep(2)
        seen["still"] = await room.members()
        room.dial("202", ADMIN_PIN)
        seen["with_admin"] = await room.wait_members(2)
        await asyncio.sleep(1.5)
        seen["with_admin"] = await room.members()

    seen = run(kind, request, sipp, tmp_path, replace(BASE, wait_for_admin=True), body)
    for moment in ("alone", "still"):
        assert [p.muted for p in by_number(seen[moment], "203")] == [True], seen  # waits, nobody hears it
    assert [(p.admin, p.muted) for p in by_number(seen["with_admin"], "202")] == [(True, False)], seen
    assert [p.muted for p in by_number(seen["with_admin"], "203")] == [False], seen  # the organiser came


@pytest.mark.parametrize("kind", KINDS)
def test_listen_only_mutes_the_users_and_not_the_admin(kind, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        room.dial("203", USER_PIN)
        room.dial("202", ADMIN_PIN)
        seen["people"] = await room.wait_members(2)

    seen = run(kind, request, sipp, tmp_path, replace(BASE, listen_only=True), body)
    people = seen["people"]
    assert [(p.admin, p.muted) for p in by_number(people, "203")] == [(False, True)], seen
    assert [(p.admin, p.muted) for p in by_number(people, "202")] == [(True, False)], seen


@pytest.mark.parametrize("kind", KINDS)
def test_one_more_than_the_maximum_is_refused(kind, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        room.dial("202", ADMIN_PIN)  # the guide's maximum counts the organiser
        room.dial("203", USER_PIN)
        seen["full"] = await room.wait_members(2)
        room.dial("203", USER_PIN)
        await asyncio.sleep(12)
        seen["after"] = await room.members()

    seen = run(kind, request, sipp, tmp_path, replace(BASE, max_members=2), body)
    assert len(seen["full"]) == 2, seen
    assert len(seen["after"]) == 2, seen


@pytest.mark.parametrize("kind", KINDS)
def test_the_owners_own_phone_joins_as_admin_without_a_pin(kind, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        room.dial("201", "5686")  # keyed once in the room: no control of either PBX has these digits
        seen["people"] = await room.wait_members(1)

    seen = run(kind, request, sipp, tmp_path, BASE, body)
    assert [(p.admin, p.muted) for p in by_number(seen["people"], "201")] == [(True, False)], seen


def spool_names(room: Room) -> set[str]:
    return {p.name for p in (Path(room.env["CPBX_LAB_AST_SPOOL"]) / "confbridge").glob(f"confbridge-name-{ROOM}-*")}


async def name_announcement(room: Room, number: str, before: set[str]) -> str:
    """What the PBX holds to announce `number`'s arrival: the recorded name (Asterisk: ConfBridge's file in
    the spool, not one of `before`; FreeSWITCH: the member channel's conference_enter_sound), or ""."""
    if room.kind == "asterisk":
        return " ".join(sorted(spool_names(room) - before))
    listing = json.loads(await room.adapter.api(f"conference {ROOM} json_list"))
    for member in listing[0]["members"]:
        if member.get("caller_id_number") in (number, f"u{number}"):
            value = (await room.adapter.api(f"uuid_getvar {member['uuid']} conference_enter_sound")).strip()
            return "" if value in ("_undef_", "") or value.startswith("-ERR") else value
    return ""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("announce", [True, False])
def test_join_and_leave_announcements_record_the_callers_name(kind, announce, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        before = spool_names(room) if room.kind == "asterisk" else set()  # an earlier call's may linger
        room.dial("203", USER_PIN, talk=True)
        seen["people"] = await room.wait_members(1, seconds=40)  # a name is recorded first (5-10 s)
        seen["name"] = await name_announcement(room, "203", before)

    seen = run(kind, request, sipp, tmp_path, replace(BASE, announce_join_leave=announce), body)
    assert len(by_number(seen["people"], "203")) == 1, seen
    if not announce:
        assert seen["name"] == "", seen
    elif kind == "asterisk":
        assert "confbridge-name-" in seen["name"], seen
    else:
        assert seen["name"].startswith("file_string://") and "cpbx-conf-name-" in seen["name"], seen
        assert seen["name"].endswith("!conference/conf-has_joined.wav"), seen


@pytest.mark.parametrize("kind", KINDS)
def test_users_waiting_for_the_organiser_count_towards_the_maximum(kind, request, sipp, tmp_path: Path):
    async def body(room: Room, seen: dict[str, Any]) -> None:
        room.dial("203", USER_PIN)
        room.dial("202", USER_PIN)
        seen["full"] = await room.wait_members(2)
        room.dial("203", USER_PIN)
        await asyncio.sleep(12)
        seen["after"] = await room.members()

    seen = run(kind, request, sipp, tmp_path, replace(BASE, max_members=2, wait_for_admin=True), body)
    assert len(seen["full"]) == 2 and all(p.muted for p in seen["full"]), seen  # both wait
    assert len(seen["after"]) == 2, seen
