"""Helpers of the test_asterisk_calls*.py files: a company with six extensions loaded into the lab Asterisk
with the configuration dialplan/ generates, SIPp phones that register and answer / ring / refuse
(uas_phone.xml), a SIPp caller (uac_named.xml), and the records those calls give.

Local SIP ports 5270-5289 belong to these tests (other real tests use 5092-5094)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.callrecords import Directory, _one_per_key, rows_for
from clusterpbx.control.port import CallRecorded, CallRecordReport, ExtensionFeatures
from clusterpbx.dialplan.asterisk import CONTEXT_PARTS
from clusterpbx.dialplan.model import Extension, Node, NodeSnapshot, Tenant
from clusterpbx.dialplan.render import render_node, write_files
from tests.real.test_asterisk_events import adapter_for

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
PHONE_XML = HERE / "uas_phone.xml"
CALLER_XML = HERE / "uac_named.xml"
SLUG = "calls"
PREFIX = f"{SLUG}-"
NUMBERS = ("201", "202", "203", "204", "205", "206")
NAMES = {"201": "Amélie Roy", "202": "Bruno Côté", "203": "Chloé Girard", "204": "David Nguyen",
         "205": "Élise Tremblay", "206": "Félix Gagnon"}
PORTS = {n: 5270 + i for i, n in enumerate(NUMBERS)}
CALLER_PORT = 5285
USER_IDS = {n: 100 + int(n) for n in NUMBERS}  # the portal user of each extension (in DIRECTORY)


def sip_user(number: str) -> str:
    return f"calls{number}"


def password(number: str) -> str:
    return f"calls-{number}-secret-pw"


def snapshot() -> NodeSnapshot:
    tenant = Tenant(
        name="Calls Inc", slug=SLUG, domain="calls.example.com", astdb_prefix=PREFIX,
        extensions=tuple(
            Extension(number=n, display_name=NAMES[n], sip_username=sip_user(n), sip_password=password(n),
                      mailbox=n, voicemail_pin="4321", language="en")
            for n in NUMBERS),
    )
    return NodeSnapshot(node=Node(kind="asterisk", name="lab", domain="127.0.0.1"), tenants=(tenant,))


def directory() -> Directory:
    """The portal's directory of the company (what Directory.load reads from the database)."""
    parties = {n: (1, USER_IDS[n], NAMES[n]) for n in NUMBERS}
    return Directory(by_endpoint={sip_user(n): parties[n] for n in NUMBERS}, rates={1: []}, default_tenant_id=None,
                     by_number={n: {1: parties[n]} for n in NUMBERS},
                     tenant_by_context={f"cpbx-{SLUG}" + (f"-{p}" if p else ""): 1 for p in CONTEXT_PARTS})


def rows_by_number(reports: list[CallRecordReport]) -> dict[str, list[dict[str, object]]]:
    """Every call_records row the reports give, by the extension of the user it belongs to."""
    by_user = {uid: n for n, uid in USER_IDS.items()}
    out: dict[str, list[dict[str, object]]] = {n: [] for n in NUMBERS}
    d = directory()
    # stored as insert_ignoring_duplicates stores them: one row per id and user, the answered one first
    for row in _one_per_key([row for report in reports for row in rows_for(report, 1, d)]):
        out[by_user[row["user_id"]]].append(row)  # type: ignore[index]
    return out


def _sipp(sipp: str, scenario: Path, port: int, env: dict[str, str], *extra: str,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    target = env["CPBX_LAB_AST_SIP"]
    with tempfile.TemporaryDirectory(prefix="cpbx-real-") as work:
        return subprocess.run([sipp, "-sf", str(scenario), "-m", "1", "-i", "127.0.0.1", "-p", str(port), *extra,
                               "-nostdin", "-timeout", f"{int(timeout)}s", target],
                              cwd=work, capture_output=True, text=True, timeout=timeout + 15)


def register(sipp: str, env: dict[str, str], number: str, expires: int = 300) -> None:
    result = _sipp(sipp, REGISTER_XML, PORTS[number], env, "-au", sip_user(number), "-ap", password(number),
                   "-set", "user", sip_user(number), "-set", "domain", "127.0.0.1",
                   "-set", "uas_port", str(PORTS[number]), "-set", "expires", str(expires), timeout=20)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def dial(sipp: str, env: dict[str, str], caller: str, number: str, hold_ms: int = 2000,
         timeout: float = 60, port: int = CALLER_PORT) -> subprocess.CompletedProcess[str]:
    """`caller` calls `number` from its phone (not registered: only the call), holding an answered call
    `hold_ms`; the log says FINAL 200 / 486 / 480 / 603."""
    with tempfile.TemporaryDirectory(prefix="cpbx-real-dial-") as work:
        log = Path(work) / "uac.log"
        result = _sipp(sipp, CALLER_XML, port, env, "-au", sip_user(caller), "-ap", password(caller),
                       "-set", "caller", sip_user(caller), "-set", "display", NAMES[caller],
                       "-set", "domain", "127.0.0.1", "-s", number, "-d", str(hold_ms),
                       "-trace_logs", "-log_file", str(log), timeout=timeout)
        text = log.read_text() if log.exists() else ""
    return subprocess.CompletedProcess(result.args, result.returncode, text + result.stdout[-1500:],
                                       result.stderr[-1500:])


@dataclass
class Phone:
    """A registered phone of `number` behaving as `mode` (uas_phone.xml)."""

    sipp: str
    env: dict[str, str]
    number: str
    mode: str = "answer"
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cpbx-real-phone-")))
    process: subprocess.Popen[bytes] | None = None
    seen: dict[str, float] = field(default_factory=dict)
    since: int = 0  # log lines before this one belong to earlier calls

    @property
    def log(self) -> Path:
        return self.work / "phone.log"

    def start(self) -> Phone:
        register(self.sipp, self.env, self.number)
        self.process = subprocess.Popen(
            [self.sipp, "-sf", str(PHONE_XML), "-i", "127.0.0.1", "-p", str(PORTS[self.number]),
             "-set", "mode", self.mode, "-trace_logs", "-log_file", str(self.log), "-nostdin",
             ],
            cwd=self.work, stdout=subprocess.DEVNULL, stderr=open(self.work / "stderr.txt", "w"))
        return self

    def lines(self) -> list[str]:
        if not self.log.exists():
            return []
        return [line.strip() for line in self.log.read_text(errors="replace").splitlines() if line.strip()]

    def mark(self) -> None:
        """Forget what earlier calls logged."""
        self.since, self.seen = len(self.lines()), {}

    def watch(self) -> None:
        """Note when each step first appeared in the log since `mark` (call it while a call runs)."""
        now = time.monotonic()
        for line in self.lines()[self.since:]:
            self.seen.setdefault(line, now)

    def did(self, step: str) -> bool:
        return any(line.startswith(step) for line in self.seen)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            register(self.sipp, self.env, self.number, expires=0)
        shutil.rmtree(self.work, ignore_errors=True)


@contextlib.contextmanager
def phones(sipp: str, env: dict[str, str], modes: dict[str, str]) -> Iterator[dict[str, Phone]]:
    started: dict[str, Phone] = {}
    try:
        for number, mode in modes.items():
            started[number] = Phone(sipp, env, number, mode).start()
        time.sleep(1.0)  # the first qualify and MWI NOTIFY
        for phone in started.values():
            assert phone.process is not None and phone.process.poll() is None, f"phone {phone.number} stopped"
        yield started
    finally:
        for phone in started.values():
            phone.stop()


@contextlib.asynccontextmanager
async def company(env: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[AsteriskAdapter, list[CallRecordReport]]]:
    """The company's generated configuration loaded into the lab Asterisk (the lab's own files put back
    afterwards), a started adapter and the records it receives. Every extension's settings start off."""
    target = Path(env["CPBX_LAB_AST_CONFIG_DIR"])
    saved = Path(tempfile.mkdtemp(dir=tmp_path)) / "saved-config"
    shutil.copytree(target, saved)
    adapter = adapter_for(env)
    records: list[CallRecordReport] = []
    adapter.subscribe(lambda e: records.append(e.record) if isinstance(e, CallRecorded) else None)
    await adapter.start()
    changed = [p.name for p in write_files(render_node(snapshot()), target)]
    try:
        await adapter.reload_configuration(changed)
        for n in NUMBERS:
            await adapter.write_features(f"{PREFIX}{n}", ExtensionFeatures())
        yield adapter, records
    finally:
        for n in NUMBERS:
            with contextlib.suppress(Exception):
                await adapter.write_features(f"{PREFIX}{n}", ExtensionFeatures())
        shutil.rmtree(target)
        shutil.copytree(saved, target)
        with contextlib.suppress(Exception):
            await adapter.reload_configuration(changed)
        await adapter.stop()


async def settle(records: list[CallRecordReport], call_ids: int = 1, quiet: float = 2.0,
                 deadline: float = 30.0) -> list[CallRecordReport]:
    """Wait until records stop arriving: `call_ids` callers' records came (a forward's leg writes its own
    records, which may come before the caller's), then `quiet` seconds without a new one."""
    end = time.monotonic() + deadline
    count, last_change = len(records), time.monotonic()
    while time.monotonic() < end:
        await asyncio.sleep(0.2)
        callers = {r.call_id for r in records if r.source_endpoint}
        if len(records) != count:
            count, last_change = len(records), time.monotonic()
        elif len(callers) >= call_ids and time.monotonic() - last_change > quiet:
            break
    return list(records)


async def call(sipp: str, env: dict[str, str], devices: dict[str, Phone], caller: str, number: str,
               hold_ms: int = 2000, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`caller` calls `number` while the phones' logs are watched (Phone.seen: when each step appeared)."""
    for phone in devices.values():
        phone.mark()
    task = asyncio.create_task(asyncio.to_thread(dial, sipp, env, caller, number, hold_ms, timeout))
    while not task.done():
        for phone in devices.values():
            phone.watch()
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    for phone in devices.values():
        phone.watch()
    return await task


def summary(rows: dict[str, list[dict[str, object]]]) -> dict[str, list[tuple[object, object]]]:
    """(call type, status) of each user's rows, users without rows left out."""
    return {n: sorted((r["call_type"], r["status"]) for r in rs) for n, rs in rows.items() if rs}
