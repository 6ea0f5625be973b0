"""Voicemail on the real FreeSWITCH 1.10 (issue 19: "voicemail delete and lamp"), with the generated directory
of a company on its own domain: a message left in 301's box (FreeSWITCH's `vm_inject`, what mod_voicemail
does at the end of a recorded message) lights the lamp of 301's registered phone (NOTIFY Messages-Waiting:
yes) and is listed by the adapter with its audio; marked heard it moves to the old messages; deleted through
the adapter (what the portal's "Supprimer" does) it is gone from the list and the counts, and the phone's
lamp goes out (NOTIFY Messages-Waiting: no)."""

from __future__ import annotations

import asyncio
import subprocess
import time
import wave
from pathlib import Path

import pytest

from clusterpbx.control.port import MailboxChanged, MailboxFolder, NodeAddress, PbxEvent
from clusterpbx.dialplan.model import Extension, Node, NodeSnapshot, Tenant
from clusterpbx.dialplan.render import render_node, write_files
from clusterpbx.esl.adapter import FreeSwitchAdapter

pytestmark = pytest.mark.real
HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
UAS_MWI_XML = HERE / "uas_answer_mwi.xml"
DOMAIN = "vm.lab.test"
PHONE_PORT = 25561  # below the ephemeral range, apart from the other real tests' phones
USER, PASSWORD = "vm301", "pw-vm301-lab"


def snapshot() -> NodeSnapshot:
    tenant = Tenant(name="Voicemail lab", slug="vmlab", domain=DOMAIN, extensions=(
        Extension(number="301", display_name="Vera Messagerie", sip_username=USER, sip_password=PASSWORD,
                  mailbox="301", voicemail_pin="4826"),))
    return NodeSnapshot(node=Node(kind="freeswitch", name="lab", domain="lab.test"), tenants=(tenant,))


def test_a_message_lights_the_lamp_and_deleting_it_puts_it_out(freeswitch_lab, sipp, tmp_path):
    host, port = freeswitch_lab["CPBX_LAB_FS_SIP"].split(":")
    recording = tmp_path / "message.wav"
    with wave.open(str(recording), "wb") as w:  # one second of silence, 8 kHz mono
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000)
    box = f"{USER}@{DOMAIN}"  # the directory user's box in the company's domain (control/pbxnames.py)
    phone_log = tmp_path / "phone.msg"

    def register(expires: int) -> None:
        done = subprocess.run([sipp, "-sf", str(REGISTER_XML), "-i", host, "-p", str(PHONE_PORT), "-m", "1",
                               "-timeout_error", "-au", USER, "-ap", PASSWORD, "-set", "user", USER,
                               "-set", "domain", DOMAIN, "-set", "uas_port", str(PHONE_PORT), "-set", "expires",
                               str(expires), "-nostdin", "-timeout", "20s", f"{host}:{port}"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout[-1500:]

    async def scenario() -> dict[str, object]:
        adapter = FreeSwitchAdapter(NodeAddress(host=freeswitch_lab["CPBX_LAB_ESL_HOST"],
                                                port=int(freeswitch_lab["CPBX_LAB_ESL_PORT"]),
                                                secret=freeswitch_lab["CPBX_LAB_ESL_PASSWORD"], timeout=5.0,
                                                sip_domain="lab.test"))
        events: list[PbxEvent] = []
        adapter.subscribe(lambda e: events.append(e) if isinstance(e, MailboxChanged) else None)
        await adapter.start()
        out: dict[str, object] = {}
        try:
            changed = [p.name for p in write_files(render_node(snapshot()), freeswitch_lab["CPBX_LAB_FS_CONFIG_DIR"])]
            await adapter.reload_configuration(changed)
            for old in await adapter.voicemail_messages(box):  # a message an earlier run left
                await adapter.voicemail_delete(box, [old.message_id])
            await asyncio.to_thread(register, 120)
            phone = subprocess.Popen([sipp, "-sf", str(UAS_MWI_XML), "-i", host, "-p", str(PHONE_PORT),
                                      "-set", "user", USER, "-nostdin", "-timeout", "40s", "-trace_msg",
                                      "-message_file", str(phone_log)],
                                     cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                await asyncio.sleep(0.5)
                out["inject"] = await adapter.api(f"vm_inject {box} {recording}")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not await adapter.voicemail_messages(box):
                    await asyncio.sleep(0.3)
                messages = await adapter.voicemail_messages(box)
                out["listed"] = [(m.folder, m.duration_seconds) for m in messages]
                out["counts_new"] = await adapter.mailbox_counts(box)
                out["audio"] = len(await adapter.voicemail_audio(box, messages[0].message_id)) if messages else 0
                await asyncio.sleep(1.5)
                out["lit"] = "Messages-Waiting: yes" in (phone_log.read_text() if phone_log.exists() else "")
                if messages:
                    await adapter.voicemail_move(box, [messages[0].message_id], MailboxFolder.OLD)
                    out["heard"] = [m.folder for m in await adapter.voicemail_messages(box)]
                    await adapter.voicemail_delete(box, [messages[0].message_id])
                out["after"] = await adapter.voicemail_messages(box)
                out["counts_after"] = await adapter.mailbox_counts(box)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    text = phone_log.read_text() if phone_log.exists() else ""
                    if "Messages-Waiting: no" in text.split("Messages-Waiting: yes", 1)[-1]:
                        break
                    await asyncio.sleep(0.3)
                text = phone_log.read_text() if phone_log.exists() else ""
                out["out"] = "Messages-Waiting: no" in text.split("Messages-Waiting: yes", 1)[-1]
                out["log"] = text[-4000:]
            finally:
                phone.terminate()
                phone.wait(timeout=10)
                await asyncio.to_thread(register, 0)
            out["events"] = [(e.mailbox, e.counts) for e in events]
            return out
        finally:
            await adapter.stop()

    out = asyncio.run(scenario())
    assert out["listed"] and out["listed"][0][0] is MailboxFolder.INBOX, out
    assert out["counts_new"].new == 1, out  # type: ignore[attr-defined]
    assert out["audio"] > 1000, out
    assert out["lit"], out["log"]
    assert out["heard"] == [MailboxFolder.OLD], out
    assert out["after"] == [] and out["counts_after"].new == 0 and out["counts_after"].old == 0, out  # type: ignore[attr-defined]
    assert out["out"], out["log"]
