"""Presence lamps (BLF) of two companies on one real FreeSWITCH 1.10 (issue 21): a phone watches a colleague by
extension number (`202@<company domain>`, as provisioning/ configures BLF keys), so a call must carry the
presence of the number, not of the SIP account. The second company's accounts are `201-t2`/`202-t2` (the
first company's are the numbers themselves): before the fix, the second company's lamps stayed dark.

With the generated directory and dialplan of two companies loaded (dialplan/freeswitch.py), a subscriber
SUBSCRIBEs (Event: dialog) to the second company's 202 and 201 and to the first company's 202; the
second company's 201 (SIPp) calls its 202 (SIPp, answers). The NOTIFYs must light 202@second and
201@second (confirmed or early) and never 202@first. While the call is up, the adapter's snapshot of the
channels (`show channels`, what the daemon reads after a reconnect) must still name the SIP accounts as
the endpoints (presence_data) and the numbers as the numbers."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from clusterpbx.control.port import NodeAddress, PbxCall
from clusterpbx.dialplan.model import Extension, Node, NodeSnapshot, Tenant
from clusterpbx.dialplan.render import render_node, write_files
from clusterpbx.esl.adapter import FreeSwitchAdapter

pytestmark = pytest.mark.real

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
UAS_ANSWER_XML = HERE / "uas_answer_mwi.xml"
UAC_XML = HERE / "uac_named.xml"

FIRST, SECOND = "blf1.lab.test", "blf2.lab.test"
# Below the kernel's ephemeral range, apart from the other real tests' phones.
CALLEE_PORT, CALLER_PORT, WATCHER_PORT = 25531, 25532, 25533


def _ext(number: str, user: str) -> Extension:
    return Extension(number=number, display_name=f"User {user}", sip_username=user, sip_password=f"pw-{user}-blf")


def snapshot() -> NodeSnapshot:
    first = Tenant(name="First", slug="blfone", domain=FIRST, extensions=(_ext("201", "201"), _ext("202", "202")))
    second = Tenant(name="Second", slug="blftwo", domain=SECOND,
                    extensions=(_ext("201", "201-t2"), _ext("202", "202-t2")))
    return NodeSnapshot(node=Node(kind="freeswitch", name="lab", domain="lab.test"), tenants=(first, second))


class Watcher:
    """A phone's BLF keys: dialog subscriptions over UDP (digest answered), every NOTIFY answered and kept."""

    def __init__(self, pbx: tuple[str, int], user: str, domain: str, password: str):
        self.pbx, self.user, self.domain, self.password = pbx, user, domain, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", WATCHER_PORT))
        self.sock.settimeout(0.2)
        self.subscriptions: dict[str, str] = {}  # Call-ID -> watched URI user@domain
        self.accepted: dict[str, int] = {}  # Call-ID -> final status
        self.notifies: dict[str, list[str]] = {}  # watched -> NOTIFY bodies
        self._cseq: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def subscribe(self, watched: str, auth: str = "") -> None:
        call_id = next((c for c, w in self.subscriptions.items() if w == watched), "") or f"{secrets.token_hex(8)}@blf"
        self.subscriptions[call_id] = watched
        self._cseq[call_id] = self._cseq.get(call_id, 0) + 1
        lines = [f"SUBSCRIBE sip:{watched} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{WATCHER_PORT};branch=z9hG4bK{secrets.token_hex(8)};rport",
                 f"From: <sip:{self.user}@{self.domain}>;tag={call_id[:8]}", f"To: <sip:{watched}>",
                 f"Call-ID: {call_id}", f"CSeq: {self._cseq[call_id]} SUBSCRIBE",
                 f"Contact: <sip:{self.user}@127.0.0.1:{WATCHER_PORT}>", "Event: dialog",
                 "Accept: application/dialog-info+xml", "Expires: 120", "Max-Forwards: 70"]
        if auth:
            lines.append(auth)
        self.sock.sendto(("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode(), self.pbx)

    def _digest(self, challenge: str, header: str, watched: str) -> str:
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        uri = f"sip:{watched}"
        ha1 = hashlib.md5(f"{self.user}:{fields['realm']}:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"SUBSCRIBE:{uri}".encode()).hexdigest()
        value = (f'Digest username="{self.user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
                 f'uri="{uri}", algorithm=MD5')
        if "auth" in fields.get("qop", ""):
            cnonce = secrets.token_hex(8)
            digest = hashlib.md5(f"{ha1}:{fields['nonce']}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
            value += f', qop=auth, nc=00000001, cnonce="{cnonce}", response="{digest}"'
        else:
            digest = hashlib.md5(f"{ha1}:{fields['nonce']}:{ha2}".encode()).hexdigest()
            value += f', response="{digest}"'
        return f"{header}: {value}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            head, _sep, body = data.decode(errors="replace").partition("\r\n\r\n")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _colon, value = line.partition(":")
                headers.setdefault(name.strip().lower(), value.strip())
            call_id = headers.get("call-id") or headers.get("i", "")
            if lines[0].startswith("SIP/2.0"):
                status = int(lines[0].split()[1])
                watched = self.subscriptions.get(call_id, "")
                if status in (401, 407) and watched:
                    name = "www-authenticate" if status == 401 else "proxy-authenticate"
                    answer = "Authorization" if status == 401 else "Proxy-Authorization"
                    self.subscribe(watched, self._digest(headers.get(name, ""), answer, watched))
                elif status >= 200:
                    self.accepted[call_id] = status
            elif lines[0].startswith("NOTIFY"):
                reply = ["SIP/2.0 200 OK"] + [line for line in lines[1:] if line.split(":")[0].strip().lower() in
                                               ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
                self.sock.sendto(("\r\n".join([*reply, "Content-Length: 0", "", ""])).encode(), peer)
                watched = self.subscriptions.get(call_id)
                if watched:
                    self.notifies.setdefault(watched, []).append(body)

    def lit(self, watched: str) -> bool:
        return any(re.search(r"<state[^>]*>\s*(confirmed|early)\s*</state>", b) for b in self.notifies.get(watched, []))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def sipp_args(binary: str, scenario: Path, port: int, log: Path, *extra: str) -> list[str]:
    return [binary, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), *extra, "-nostdin", "-timeout", "40s",
            "-trace_logs", "-log_file", str(log), "-trace_msg", "-message_file", str(log.with_suffix(".msg"))]


def register(binary: str, pbx: str, user: str, port: int, work: Path, expires: int) -> None:
    log = work / f"register-{user}-{expires}.log"
    done = subprocess.run(sipp_args(binary, REGISTER_XML, port, log, "-m", "1", "-timeout_error", "-au", user, "-ap",
                               f"pw-{user}-blf", "-set", "user", user, "-set", "domain", SECOND, "-set", "uas_port",
                               str(port), "-set", "expires", str(expires), pbx),
                          cwd=work, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"REGISTER {user}: {done.stdout[-1500:]}"


def adapter(lab: dict[str, str]) -> FreeSwitchAdapter:
    return FreeSwitchAdapter(NodeAddress(host=lab["CPBX_LAB_ESL_HOST"], port=int(lab["CPBX_LAB_ESL_PORT"]),
                                         secret=lab["CPBX_LAB_ESL_PASSWORD"], timeout=5.0, sip_domain="lab.test"))


async def _api(lab: dict[str, str], command: str) -> str:
    fs = adapter(lab)
    await fs.start()
    try:
        return await fs.api(command)
    finally:
        await fs.stop()


async def _live_calls(lab: dict[str, str]) -> list[PbxCall]:
    fs = adapter(lab)
    await fs.start()
    try:
        return await fs.live_calls()
    finally:
        await fs.stop()


def test_a_second_companys_lamps_follow_its_numbers(freeswitch_lab: dict[str, str], sipp: str, tmp_path: Path):
    write_files(render_node(snapshot()), freeswitch_lab["CPBX_LAB_FS_CONFIG_DIR"])
    assert "+OK" in asyncio.run(_api(freeswitch_lab, "reloadxml"))
    host, port = freeswitch_lab["CPBX_LAB_FS_SIP"].split(":")
    pbx = f"{host}:{port}"
    register(sipp, pbx, "202-t2", CALLEE_PORT, tmp_path, 300)
    watcher = Watcher((host, int(port)), "201-t2", SECOND, "pw-201-t2-blf")
    callee_log, caller_log = tmp_path / "callee.log", tmp_path / "caller.log"
    callee = subprocess.Popen(sipp_args(sipp, UAS_ANSWER_XML, CALLEE_PORT, callee_log, "-set", "user", "202-t2"),
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for watched in (f"202@{SECOND}", f"201@{SECOND}", f"202@{FIRST}"):
            watcher.subscribe(watched)
        deadline = time.monotonic() + 10
        while len(watcher.accepted) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(watcher.accepted) == 3 and all(200 <= s < 300 for s in watcher.accepted.values()), \
            watcher.accepted
        caller = subprocess.Popen(
            sipp_args(sipp, UAC_XML, CALLER_PORT, caller_log, "-m", "1", "-timeout_error", "-s", "202", "-au",
                 "201-t2", "-ap", "pw-201-t2-blf", "-set", "caller", "201-t2", "-set", "display", "User 201-t2",
                 "-set", "domain", SECOND, "-d", "5000", pbx),
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        calls: list[PbxCall] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(c.answered_at for c in calls):
            time.sleep(0.5)
            calls = asyncio.run(_live_calls(freeswitch_lab))
        out, _ = caller.communicate(timeout=40)
        messages = caller_log.with_suffix(".msg")
        assert caller.returncode == 0, f"{out[-1500:]}\n{messages.read_text()[-3000:] if messages.exists() else ''}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (watcher.lit(f"202@{SECOND}") and watcher.lit(f"201@{SECOND}")):
            time.sleep(0.2)
    finally:
        callee.terminate()
        callee.wait(timeout=10)
        watcher.close()
        register(sipp, pbx, "202-t2", CALLEE_PORT, tmp_path, 0)

    bodies = "\n---\n".join(f"{w}:\n" + "\n".join(b) for w, b in watcher.notifies.items())
    assert watcher.lit(f"202@{SECOND}"), bodies
    assert watcher.lit(f"201@{SECOND}"), bodies
    assert not watcher.lit(f"202@{FIRST}"), bodies
    # the adapter's snapshot: SIP accounts as endpoints, numbers as numbers, the company's domain
    assert [(c.source_endpoint, c.destination_endpoint, c.destination_number, c.domain) for c in calls
            if c.answered_at] == [("201-t2", "202-t2", "202", SECOND)], calls
