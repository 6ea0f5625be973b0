"""What the click-to-call, queue, conference, SMS and outbound tests of tests/real/ share: one company
("both", domain both.lab.test) rendered by dialplan/ and loaded into the running lab PBX, SIPp phones
that register as its users and answer, and the adapters of both PBXs.

The phones are SIPp processes on loopback ports of their own (below the kernel's ephemeral range);
each keeps its SIP messages in a file the test reads (``Phone.messages``)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import NodeAddress
from clusterpbx.dialplan.model import (
    ConferenceOptions,
    Extension,
    Node,
    NodeSnapshot,
    PersonalConference,
    Queue,
    Tenant,
)
from clusterpbx.dialplan.render import render_node, write_files
from clusterpbx.esl.adapter import FreeSwitchAdapter

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
UAS_XML = HERE / "uas_answer_mwi.xml"
UAC_XML = HERE / "uac_reinvite.xml"
DOMAIN = "both.lab.test"
PORTS = {"201": 26201, "202": 26202, "203": 26203, "carrier": 26210, "uac": 26220}
NAMES = {"201": "Ana Lima", "202": "Ben Roy", "203": "Chloé Dubé"}


def snapshot(kind: str, **tenant_changes: object) -> NodeSnapshot:
    tenant = Tenant(
        name="Both lab", slug="both", domain=DOMAIN, outbound_trunk="carrier", astdb_prefix="both-",
        extensions=tuple(Extension(number=n, display_name=name, sip_username=f"u{n}", sip_password=f"pw-{n}-both",
                                   mailbox=n, voicemail_pin="4242", allowed_prefixes=("1514",))
                         for n, name in NAMES.items()),
        queues=(Queue(name="support", number="600", members=("202",), ring_timeout=10),),
        conferences=(PersonalConference(owner="201", admin_pin="9999", user_pin="1234",
                                        options=ConferenceOptions(music_on_hold=True, star_menu=True)),),
    )
    tenant = replace(tenant, **tenant_changes)  # type: ignore[arg-type]
    return NodeSnapshot(node=Node(kind=kind, name="lab", domain="127.0.0.1"), tenants=(tenant,))  # type: ignore[arg-type]


def ast_adapter(env: dict[str, str]) -> AsteriskAdapter:
    return AsteriskAdapter(NodeAddress(host=env["CPBX_LAB_AMI_HOST"], port=int(env["CPBX_LAB_AMI_PORT"]),
                                       username=env["CPBX_LAB_AMI_USER"], secret=env["CPBX_LAB_AMI_SECRET"],
                                       timeout=5.0, extra={}))


def fs_adapter(env: dict[str, str]) -> FreeSwitchAdapter:
    return FreeSwitchAdapter(NodeAddress(host=env["CPBX_LAB_ESL_HOST"], port=int(env["CPBX_LAB_ESL_PORT"]),
                                         secret=env["CPBX_LAB_ESL_PASSWORD"], timeout=5.0, sip_domain="127.0.0.1",
                                         extra={"originate_wait": "3"}))


def sip_target(kind: str, env: dict[str, str]) -> str:
    return env["CPBX_LAB_AST_SIP"] if kind == "asterisk" else env["CPBX_LAB_FS_SIP"]


def config_dir(kind: str, env: dict[str, str]) -> Path:
    return Path(env["CPBX_LAB_AST_CONFIG_DIR"] if kind == "asterisk" else env["CPBX_LAB_FS_CONFIG_DIR"])


async def load(adapter: AsteriskAdapter | FreeSwitchAdapter, snap: NodeSnapshot, folder: Path) -> None:
    """The generated files in the lab's --config-dir, reloaded the way the daemon does."""
    changed = [p.name for p in write_files(render_node(snap), folder)]
    await adapter.reload_configuration(changed)
    if isinstance(adapter, FreeSwitchAdapter):
        await asyncio.sleep(0.5)


@dataclass
class Phone:
    number: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def messages(self) -> str:
        path = self.log.with_suffix(".msg")
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def events(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, word: str, seconds: float = 15) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if word in self.events:
                return True
            time.sleep(0.2)
        return False


def sipp_base(sipp: str, scenario: Path, port: int, log: Path) -> list[str]:
    return [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-timeout", "60s",
            "-trace_logs", "-log_file", str(log), "-trace_msg", "-message_file", str(log.with_suffix(".msg"))]


def register(sipp: str, kind: str, env: dict[str, str], number: str, work: Path, expires: int = 300) -> None:
    log = work / f"register-{number}-{expires}.log"
    result = subprocess.run(
        [*sipp_base(sipp, REGISTER_XML, PORTS[number], log), "-m", "1", "-timeout_error",
         "-au", f"u{number}", "-ap", f"pw-{number}-both", "-set", "user", f"u{number}", "-set", "domain", DOMAIN,
         "-set", "uas_port", str(PORTS[number]), "-set", "expires", str(expires), sip_target(kind, env)],
        cwd=work, capture_output=True, text=True, timeout=60)
    msgs = log.with_suffix(".msg")
    assert result.returncode == 0, f"REGISTER u{number}: {result.stdout[-1500:]}\n" + (
        msgs.read_text()[-3000:] if msgs.exists() else "")


@contextmanager
def phones(sipp: str, kind: str, env: dict[str, str], work: Path, *numbers: str,
           scenario: Path = UAS_XML) -> Iterator[dict[str, Phone]]:
    """Registered phones that answer every call and stay until the PBX hangs up. The REGISTER is sent
    from the phone's own port before its SIPp listens there (Asterisk rewrites the contact to the
    REGISTER's source)."""
    out: dict[str, Phone] = {}
    try:
        for n in numbers:
            phone = Phone(n, work / f"phone-{n}.log")
            # from the phone's own port: Asterisk (rewrite_contact) sends calls where the REGISTER came from
            register(sipp, kind, env, n, work)
            phone.proc = subprocess.Popen([*sipp_base(sipp, scenario, PORTS[n], phone.log), "-set", "user", f"u{n}"],
                                          cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out[n] = phone
        time.sleep(0.3)
        yield out
    finally:
        for n, phone in out.items():
            if phone.proc is not None:
                phone.proc.terminate()
                phone.proc.wait(timeout=10)
            try:
                register(sipp, kind, env, n, work, 0)
            except AssertionError:
                pass


def call(sipp: str, kind: str, env: dict[str, str], work: Path, caller: str, number: str, hold_ms: int = 2000,
         display: str = "") -> subprocess.CompletedProcess[str]:
    log = work / f"call-{caller}-{number}.log"
    return subprocess.run(
        [*sipp_base(sipp, UAC_XML, PORTS["uac"], log), "-m", "1", "-s", number, "-au", f"u{caller}", "-ap",
         f"pw-{caller}-both", "-set", "caller", f"u{caller}", "-set", "display", display or NAMES.get(caller, caller),
         "-set", "domain", DOMAIN, "-d", str(hold_ms), sip_target(kind, env)],
        cwd=work, capture_output=True, text=True, timeout=90)


def first_invite(messages: str) -> str:
    """The first INVITE a phone received, as SIPp's message file shows it."""
    start = messages.find("INVITE sip:")
    if start < 0:
        return ""
    end = messages.find("\n\n", start)
    return messages[start:end if end > 0 else None]


def header(message: str, name: str) -> str:
    for line in message.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return ""
