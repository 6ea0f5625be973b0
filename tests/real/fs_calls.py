"""Calls between SIPp phones on the real FreeSWITCH 1.10 of the lab, with the tenant directory and dialplan
dialplan/ generates and the mod_db keys the control daemon writes (used by test_freeswitch_calls*.py).

The lab FreeSWITCH is the one `lab/freeswitch.sh env` names (CPBX_LAB_STATE and the port variables, see
lab/README.md); its mod_json_cdr should post to a port where nothing listens (CPBX_LAB_PORTAL_URL), so every
leg lands in the error folder, where these helpers read it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import greenswitch

from clusterpbx.dialplan import keys
from clusterpbx.dialplan.model import Extension, Node, NodeSnapshot, Tenant
from clusterpbx.dialplan.render import render_node, write_files

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parents[1] / "vagrant" / "sipp" / "register.xml"
SCENARIOS = {"answer": HERE / "uas_answer_mwi.xml", "busy": HERE / "uas_busy.xml", "ring": HERE / "uas_ring.xml",
             "press": HERE / "uas_answer_press.xml"}
UAC_XML = HERE / "uac_named.xml"

DOMAIN = "calls.lab.test"
SLUG = "calls"
# Below the kernel's ephemeral range, apart from test_freeswitch_transfer's phones (25471-25473).
PHONE_PORTS = {"201": 25511, "202": 25512, "203": 25513, "204": 25514}
CONF_PIN = "4321"


def own_folder() -> Path:
    """A work folder for the phones' SIPp logs outside pytest's numbered temporary folders, which another
    pytest run on the same machine may clean up while a call is under way."""
    return Path(tempfile.mkdtemp(prefix="cpbx-fs-calls-"))


def snapshot() -> NodeSnapshot:
    exts = tuple(
        Extension(number=n, display_name=f"User {n}", sip_username=f"u{n}", sip_password=f"pw-{n}-calls",
                  mailbox=n if n == "202" else None, voicemail_pin="9876")
        for n in PHONE_PORTS)
    tenant = Tenant(name="Calls lab", slug=SLUG, domain=DOMAIN, extensions=exts)
    return NodeSnapshot(node=Node(kind="freeswitch", name="lab", domain="lab.test"), tenants=(tenant,))


def variables(doc: Mapping[str, Any]) -> dict[str, str]:
    return {k: unquote(str(v)) for k, v in doc["variables"].items()}


class FsCalls:
    def __init__(self, lab: Mapping[str, str], sipp: str, work: Path) -> None:
        self.lab, self.sipp, self.work = lab, sipp, work
        self.sip_port = int(lab["CPBX_LAB_FS_SIP"].rpartition(":")[2])
        self.errors = Path(lab["CPBX_LAB_FS_JSON_CDR_ERRORS"])
        self.esl = greenswitch.InboundESL(host=lab["CPBX_LAB_ESL_HOST"], port=int(lab["CPBX_LAB_ESL_PORT"]),
                                          password=lab["CPBX_LAB_ESL_PASSWORD"])
        self.esl.connect()

    def api(self, command: str) -> str:
        return str(self.esl.send(f"api {command}").data).strip()

    def load(self) -> None:
        write_files(render_node(snapshot()), self.lab["CPBX_LAB_FS_CONFIG_DIR"])
        assert "+OK" in self.api("reloadxml")
        self.api("reload mod_conference")

    def set_keys(self, ext: str, **values: str | None) -> None:
        """mod_db keys of `ext` by their feature name (keys.FS_REALMS; conference options as conference_<option>),
        None deleting the key, as the daemon writes them."""
        for name, value in values.items():
            realm = keys.FS_REALMS.get(name) or f"{keys.FS_REALMS['conference']}_{name.removeprefix('conference_')}"
            key = f"{realm}/{ext}@{DOMAIN}"
            self.api(f"db delete/{key}" if value is None else f"db insert/{key}/{value}")

    def clear_keys(self) -> None:
        for ext in PHONE_PORTS:
            for realm in keys.FS_REALMS.values():
                self.api(f"db delete/{realm}/{ext}@{DOMAIN}")
            for option in ("adminpin", "userpin", "maxmembers", "wait_for_admin", "listen_only_users", "star_menu",
                           "music_on_hold", "announce_count", "announce_join_leave"):
                self.api(f"db delete/{keys.FS_REALMS['conference']}_{option}/{ext}@{DOMAIN}")

    def sipp_args(self, scenario: Path, phone: str, log: Path, *extra: str) -> list[str]:
        return [self.sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(PHONE_PORTS[phone]), *extra,
                "-nostdin", "-timeout", "60s", "-trace_logs", "-log_file", str(log),
                "-trace_msg", "-message_file", str(log.with_suffix(".msg"))]

    def register(self, phone: str, expires: int = 300) -> None:
        log = self.work / f"register-{phone}-{expires}-{time.monotonic_ns()}.log"
        result = subprocess.run(
            self.sipp_args(REGISTER_XML, phone, log, "-m", "1", "-timeout_error", "-au", f"u{phone}",
                           "-ap", f"pw-{phone}-calls", "-set", "user", f"u{phone}", "-set", "domain", DOMAIN,
                           "-set", "uas_port", str(PHONE_PORTS[phone]), "-set", "expires", str(expires),
                           f"127.0.0.1:{self.sip_port}"),
            cwd=self.work, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"REGISTER u{phone}: {result.stdout[-1500:]}"

    @contextmanager
    def phones(self, **behaviour: str) -> Iterator[dict[str, Path]]:
        """Registered phones that `behaviour` says what they do with a call (answer, busy, ring, press);
        yields their log files, stops and unregisters them on the way out."""
        logs, procs = {}, []
        for phone, what in behaviour.items():
            self.register(phone)
            logs[phone] = self.work / f"phone-{phone}-{time.monotonic_ns()}.log"
            extra = ["-set", "user", f"u{phone}"] if what == "answer" else []
            if what == "press":
                extra += ["-set", "digit", "1", "-d", "1500"]
            procs.append(subprocess.Popen(self.sipp_args(SCENARIOS[what], phone, logs[phone], *extra), cwd=self.work,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            time.sleep(0.5)
            yield logs
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
            for phone in behaviour:
                self.register(phone, 0)

    def call(self, caller: str, number: str, hold_ms: int = 3000, display: str = "") -> tuple[str, str]:
        """`caller`'s phone dials `number` (display name `display`), holds an answered call `hold_ms`;
        its SIPp log and messages."""
        self.register(caller)
        log = self.work / f"caller-{caller}-{time.monotonic_ns()}.log"
        result = subprocess.run(
            self.sipp_args(UAC_XML, caller, log, "-m", "1", "-s", number, "-au", f"u{caller}", "-ap", f"pw-{caller}-calls",
                           "-set", "caller", f"u{caller}", "-set", "display", display or f"User {caller}",
                           "-set", "domain", DOMAIN, "-d", str(hold_ms), f"127.0.0.1:{self.sip_port}"),
            cwd=self.work, capture_output=True, text=True, timeout=90)
        messages = log.with_suffix(".msg")
        return (log.read_text() if log.exists() else result.stdout[-2000:],
                messages.read_text() if messages.exists() else "")

    def clear_legs(self) -> None:
        self.errors.mkdir(parents=True, exist_ok=True)
        for old in self.errors.glob("*.cdr.json"):
            old.unlink()
        # a leg of an earlier call may still land (mod_json_cdr's retries): legs() leaves those aside
        self.cleared_at = time.time()

    def retry_window(self) -> float:
        """How late mod_json_cdr may write a leg to the error folder: its posts' retries times their delay
        (the lab's json_cdr.conf.xml; 2 x 3 s unless an instance was set to post once)."""
        conf = Path(self.lab["CPBX_LAB_FS_CONFIG_DIR"]).parent / "autoload_configs" / "json_cdr.conf.xml"
        text = conf.read_text() if conf.exists() else ""
        found = {name: int(value) for name, value in re.findall(r'name="(retries|delay)" value="(\d+)"', text)}
        return float(found.get("retries", 2) * found.get("delay", 3))

    def legs(self, minimum: int = 1, settle: float = 2.0) -> dict[str, bytes]:
        """The legs mod_json_cdr wrote since clear_legs, once `minimum` are there and no more come (for
        longer than its retries could hold one back: legs of one call otherwise arrive seconds apart)."""
        settle = max(settle, self.retry_window() + 1.0)
        deadline = time.monotonic() + 30 + settle
        count = -1
        while time.monotonic() < deadline:
            files = [f for f in sorted(self.errors.glob("*.cdr.json")) if self._since_cleared(f.read_bytes())]
            if len(files) >= minimum and len(files) == count:
                break
            count = len(files)
            time.sleep(settle)
        return {name: body for name, body in ((f.name, f.read_bytes()) for f in sorted(self.errors.glob("*.cdr.json")))
                if self._since_cleared(body)}

    def _since_cleared(self, body: bytes) -> bool:
        try:
            started = int(variables(json.loads(body)).get("start_epoch", "0") or 0)
        except ValueError:
            return True  # not ours to judge: the test sees it
        return started >= int(getattr(self, "cleared_at", 0)) - 1

    def save_legs(self, legs: Mapping[str, bytes], folder: Path) -> None:
        """Keeps the legs as a replay fixture (tests/esl_cdr/real/<case>/)."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name, body in legs.items():
            (folder / name).write_bytes(body)

    def close(self) -> None:
        self.esl.stop()


def caller_leg(legs: Mapping[str, bytes]) -> dict[str, Any]:
    """The leg of the phone that placed the call (a sofia leg without originator)."""
    docs = [json.loads(b) for b in legs.values()]
    found = [d for d in docs if not variables(d).get("originator")
             and not variables(d).get("channel_name", "").startswith("loopback/")]
    assert len(found) == 1, [variables(d).get("channel_name") for d in docs]
    return found[0]
