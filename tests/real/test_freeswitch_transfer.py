"""A blind transfer made by a phone (SIP REFER) on the real FreeSWITCH 1.10 of the lab, and the call records
esl/json_cdr.py makes of the legs mod_json_cdr wrote (issue 22 item 7): every answered leg a user took part
in is a record of that user's.

1000 calls 1001; 1001's phone answers, talks, sends REFER (Refer-To: 1002), takes the 202 and the NOTIFYs
and hangs up; 1002 answers; 1000 hangs up a few seconds later. The tenant's directory and dialplan are the
ones dialplan/ generates (users u1000..u1002 in their own domain, context cpbx-xfer).

The test runs a FreeSWITCH of its own from the lab build (lab/freeswitch.sh with its own state folder and
ports: no WebSocket bindings, RTP 12000-12998, mod_json_cdr posting to a closed port so every leg lands in
the error folder at once), so the lab FreeSWITCH that may be running for someone else is not touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterpbx.dialplan.model import Extension, Node, NodeSnapshot, Tenant
from clusterpbx.dialplan.render import render_node, write_files
from tests.esl_cdr.test_real_blind_transfer import LEGS, check_blind_transfer_legs
from tests.real.conftest import LAB

pytestmark = pytest.mark.real

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
UAS_ANSWER_XML = HERE / "uas_answer_mwi.xml"
UAS_TRANSFER_XML = HERE / "uas_blind_transfer.xml"
UAC_XML = HERE / "uac_named.xml"

# Below the kernel's ephemeral range (32768-60999): a client socket can hold a port there and make
# sofia's TCP bind fail. Apart from the lab's own ports (18021, 5160, 5180) and test_lab_scripts' ones.
ESL_PORT, SIP_PORT, EXT_SIP_PORT = 28461, 25461, 25481
PHONE_PORTS = {"1000": 25471, "1001": 25472, "1002": 25473}
DOMAIN = "xfer.lab.test"
TALK_BEFORE_TRANSFER_MS = 3000
CALLER_HOLDS_MS = 9000  # from the caller's answer to its BYE: 1002 talks for the rest


def snapshot() -> NodeSnapshot:
    tenant = Tenant(name="Transfer lab", slug="xfer", domain=DOMAIN, extensions=tuple(
        Extension(number=n, display_name=f"User {n}", sip_username=f"u{n}", sip_password=f"pw-{n}-lab")
        for n in PHONE_PORTS))
    return NodeSnapshot(node=Node(kind="freeswitch", name="lab", domain="lab.test"), tenants=(tenant,))


def _lab(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(LAB / "freeswitch.sh"), command], env=env, capture_output=True, text=True,
                          timeout=150)


@pytest.fixture(scope="module")
def own_freeswitch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    prefix = os.environ.get("CPBX_LAB_PREFIX", "/opt/cpbx-lab")
    assert Path(prefix, "freeswitch/bin/freeswitch").exists(), f"no FreeSWITCH built in {prefix} (lab/README.md)"
    state = tmp_path_factory.mktemp("fs-xfer-state")
    env = {"PATH": os.environ["PATH"], "CPBX_LAB_PREFIX": prefix, "CPBX_LAB_STATE": str(state),
           "CPBX_LAB_ESL_PORT": str(ESL_PORT), "CPBX_LAB_FS_SIP_PORT": str(SIP_PORT),
           "CPBX_LAB_FS_EXT_SIP_PORT": str(EXT_SIP_PORT), "CPBX_LAB_PORTAL_URL": "http://127.0.0.1:9",
           "CPBX_LAB_FS_NODE": "fs-xfer"}
    configured = _lab(env, "configure")
    assert configured.returncode == 0, configured.stderr
    conf = state / "freeswitch" / "conf"
    # The lab FreeSWITCH already holds the stock WebSocket ports (5066, 7443) and RTP 11000-11998.
    internal = conf / "sip_profiles" / "internal.xml"
    internal.write_text("\n".join(line for line in internal.read_text().splitlines()
                                  if 'name="ws-binding"' not in line and 'name="wss-binding"' not in line))
    switch_conf = conf / "autoload_configs" / "switch.conf.xml"
    switch_conf.write_text(switch_conf.read_text().replace('value="11000"', 'value="12000"')
                           .replace('value="11998"', 'value="12998"'))
    json_cdr = conf / "autoload_configs" / "json_cdr.conf.xml"  # nothing listens: no retry, no delay
    json_cdr.write_text(json_cdr.read_text().replace('name="retries" value="2"', 'name="retries" value="0"')
                        .replace('name="delay" value="3"', 'name="delay" value="0"'))
    printed = _lab(env, "env").stdout
    lab = {**env, **dict(word.split("=", 1) for line in printed.splitlines() if line.startswith("export ")
                         for word in shlex.split(line)[1:])}
    write_files(render_node(snapshot()), lab["CPBX_LAB_FS_CONFIG_DIR"])
    started = _lab(env, "start")
    try:
        assert started.returncode == 0, f"{started.stdout}\n{started.stderr}"
        yield lab
    finally:
        _lab(env, "stop")


def sipp_args(sipp: str, scenario: Path, phone: str, log: Path, *extra: str) -> list[str]:
    return [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(PHONE_PORTS[phone]), *extra,
            "-nostdin", "-timeout", "40s", "-trace_logs", "-log_file", str(log),
            "-trace_msg", "-message_file", str(log.with_suffix(".msg"))]


def register(sipp: str, phone: str, work: Path, expires: int) -> None:
    port = str(PHONE_PORTS[phone])
    log = work / f"register-{phone}-{expires}.log"
    result = subprocess.run(
        sipp_args(sipp, REGISTER_XML, phone, log, "-m", "1", "-timeout_error", "-au", f"u{phone}", "-ap", f"pw-{phone}-lab", "-set", "user",
                  f"u{phone}", "-set", "domain", DOMAIN, "-set", "uas_port", port, "-set", "expires", str(expires),
                  f"127.0.0.1:{SIP_PORT}"),
        cwd=work, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"REGISTER u{phone}: {result.stdout[-2000:]}\n{log.with_suffix('.msg').read_text()[-3000:]}"


def wait_for(logs: dict[str, Path], words: dict[str, str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(logs[p].exists() and word in logs[p].read_text() for p, word in words.items()):
            return
        time.sleep(0.3)


def blind_transfer_call(sipp: str, work: Path) -> dict[str, str]:
    """Runs the call; the SIPp logs of the three phones by phone."""
    for phone in ("1001", "1002"):
        register(sipp, phone, work, 300)
    logs = {phone: work / f"phone-{phone}.log" for phone in PHONE_PORTS}
    # The phones run without -m (the NOTIFY of their voicemail state is a "call" of its own) and are
    # stopped here once their log says the call is over.
    phones = [
        subprocess.Popen(sipp_args(sipp, UAS_TRANSFER_XML, "1001", logs["1001"], "-d", str(TALK_BEFORE_TRANSFER_MS),
                                   "-set", "user", "u1001", "-set", "target", "1002", "-set", "domain", DOMAIN),
                         cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(sipp_args(sipp, UAS_ANSWER_XML, "1002", logs["1002"], "-set", "user", "u1002"),
                         cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        time.sleep(0.5)
        caller = subprocess.run(
            sipp_args(sipp, UAC_XML, "1000", logs["1000"], "-m", "1", "-timeout_error", "-s", "1001", "-au", "u1000",
                      "-ap", "pw-1000-lab", "-set", "caller", "u1000", "-set", "display", "User 1000",
                      "-set", "domain", DOMAIN, "-d", str(CALLER_HOLDS_MS), f"127.0.0.1:{SIP_PORT}"),
            cwd=work, capture_output=True, text=True, timeout=60)
        wait_for(logs, {"1001": "HUNG UP", "1002": "HUNG UP"}, 15)
    finally:
        for proc in phones:
            proc.terminate()
            proc.wait(timeout=10)
        for phone in ("1001", "1002"):
            register(sipp, phone, work, 0)
    out = {phone: log.read_text() if log.exists() else "" for phone, log in logs.items()}
    detail = "\n".join(f"--- {p}\n{out[p]}\n{log.with_suffix('.msg').read_text()[-6000:]}"
                       for p, log in logs.items() if log.with_suffix(".msg").exists())
    assert caller.returncode == 0, f"{caller.stdout[-1500:]}\n{detail}"
    return out


def collect_legs(folder: Path, count: int) -> list[Path]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.cdr.json"))
        if len(files) >= count:
            time.sleep(1)  # a late leg
            return sorted(folder.glob("*.cdr.json"))
        time.sleep(0.5)
    return sorted(folder.glob("*.cdr.json"))


def test_blind_transfer_by_refer_gives_every_answered_leg_its_record(own_freeswitch: dict[str, str], sipp: str,
                                                                    tmp_path: Path):
    errors = Path(own_freeswitch["CPBX_LAB_FS_JSON_CDR_ERRORS"])
    for old in errors.glob("*.cdr.json"):
        old.unlink()
    logs = blind_transfer_call(sipp, tmp_path)  # the SIPp logs and messages stay in tmp_path
    assert "REFER 202" in logs["1001"] and "HUNG UP" in logs["1001"], logs["1001"]
    assert "NOTIFY SIP/2.0 200" in logs["1001"], logs["1001"]
    assert "ANSWERED" in logs["1002"] and "HUNG UP" in logs["1002"], logs["1002"]
    files = collect_legs(errors, 3)
    if os.environ.get("CPBX_REAL_SAVE_LEGS") == "1":  # to refresh tests/esl_cdr/real/ (replayed by test_real_blind_transfer)
        LEGS.mkdir(parents=True, exist_ok=True)
        for old in LEGS.glob("*.cdr.json"):
            old.unlink()
        for f in files:
            shutil.copy(f, LEGS / f.name)
    bodies = {f.name: f.read_bytes() for f in files}
    assert len(bodies) == 3, sorted(bodies)
    check_blind_transfer_legs(bodies)
