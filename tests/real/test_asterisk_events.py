"""Against the real Asterisk 22 of the lab: what the AMI adapter subscribes to reaches it (issue 22
item 8: SuccessfulAuth is a `security` event, and the anchored whitelist filter is accepted), and the
CDR's caller ID is read right whatever name the phone sends (issue 22 item 6)."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import CallRecorded, NodeAddress

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
LOCAL_PORT = 5092
pytestmark = pytest.mark.real


def adapter_for(env: dict[str, str]) -> AsteriskAdapter:
    return AsteriskAdapter(NodeAddress(host=env["CPBX_LAB_AMI_HOST"], port=int(env["CPBX_LAB_AMI_PORT"]),
                                       username=env["CPBX_LAB_AMI_USER"], secret=env["CPBX_LAB_AMI_SECRET"],
                                       timeout=5.0, extra={}))


def run_sipp(sipp: str, scenario: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    target = env["CPBX_LAB_AST_SIP"]
    host = target.split(":")[0]
    user, password = env["CPBX_LAB_SIP_USER"], env["CPBX_LAB_SIP_PASSWORD"]
    with tempfile.TemporaryDirectory(prefix="cpbx-real-") as work:
        names = ("-set", "user", user, "-set", "uas_port", str(LOCAL_PORT)) if scenario == REGISTER_XML else (
            "-set", "caller", user)
        return subprocess.run([sipp, "-sf", str(scenario), "-m", "1", "-i", host, "-p", str(LOCAL_PORT),
                               "-au", user, "-ap", password, *names, "-set", "domain", host, *extra, "-nostdin",
                               "-timeout", "20s", "-timeout_error", target],
                              cwd=work, capture_output=True, text=True, timeout=60)


def test_successfulauth_reaches_the_adapter_and_gives_the_phones_address(asterisk_lab, sipp, caplog):
    async def scenario() -> None:
        adapter = adapter_for(asterisk_lab)
        raw: list[str] = []
        original = adapter._on_ami_event

        def spy(event):  # noqa: ANN001 - panoramisk's Message
            raw.append(str(event.get("Event", "")))
            original(event)

        adapter.connection._on_event = spy
        await adapter.start()
        try:
            assert adapter.connected
            result = await asyncio.to_thread(run_sipp, sipp, REGISTER_XML, asterisk_lab, "-set", "expires", "60")
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
            deadline = time.monotonic() + 10
            user = asterisk_lab["CPBX_LAB_SIP_USER"]
            while time.monotonic() < deadline and adapter.translator.contacts.get(user) is None:
                await asyncio.sleep(0.2)
            contact = adapter.translator.contacts.get(user)
            assert "SuccessfulAuth" in raw, raw
            assert contact is not None and contact.ip == "127.0.0.1", (raw, contact)
            # The whitelist filter holds on the real PBX: nothing outside it arrived.
            from clusterpbx.ami.adapter import needed_events

            allowed = set(needed_events())
            assert set(raw) <= allowed, set(raw) - allowed
            await asyncio.to_thread(run_sipp, sipp, REGISTER_XML, asterisk_lab, "-set", "expires", "0")
        finally:
            await adapter.stop()

    asyncio.run(scenario())
    assert "AMI Filter refused" not in caplog.text


def test_cdr_caller_id_with_quotes_and_backslashes_is_read_as_the_phone_sent_it(asterisk_lab, sipp):
    async def scenario() -> list[CallRecorded]:
        adapter = adapter_for(asterisk_lab)
        records: list[CallRecorded] = []
        adapter.subscribe(lambda event: records.append(event) if isinstance(event, CallRecorded) else None)
        await adapter.start()
        try:
            # 600 is the lab's echo test; a display name with escaped quotes and a backslash.
            result = await asyncio.to_thread(run_sipp, sipp, HERE / "uac_named.xml", asterisk_lab,
                                             "-s", "600", "-d", "1000",
                                             "-set", "display", 'Jean \\"le grand\\" C:\\\\x')
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not records:
                await asyncio.sleep(0.2)
        finally:
            await adapter.stop()
        return records

    records = asyncio.run(scenario())
    assert records, "no Cdr event"
    report = records[-1].record
    assert report.caller_name == 'Jean "le grand" C:\\x', report
    assert report.caller_number == "cpbxlab"


def test_the_channel_list_names_calls_as_the_events_do(asterisk_lab, sipp):
    """The live-call sweep (control/daemon/jobs.py job_live_sweep) removes what CoreShowChannels no longer
    lists: on a real Asterisk a call in progress must carry the same id in both, or the sweep would
    remove real calls."""
    async def scenario() -> tuple[set[str], set[str]]:
        adapter = adapter_for(asterisk_lab)
        await adapter.start()
        try:
            call = asyncio.create_task(asyncio.to_thread(
                run_sipp, sipp, HERE / "uac_named.xml", asterisk_lab, "-s", "600", "-d", "4000",
                "-set", "display", "Sweep test"))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not adapter.translator.live_calls():
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            from_events = {c.call_id for c in adapter.translator.live_calls()}
            from_snapshot = {c.call_id for c in await adapter.live_calls()}
            result = await call
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        finally:
            await adapter.stop()
        return from_events, from_snapshot

    from_events, from_snapshot = asyncio.run(scenario())
    assert from_events and from_events == from_snapshot
