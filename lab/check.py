"""Check the lab PBXs started by lab/asterisk.sh and lab/freeswitch.sh, with the libraries the adapters use.

    .venv/bin/python lab/check.py [asterisk] [freeswitch] [--register]

Asterisk: log in to the AMI with panoramisk as the ClusterPBX user, then CoreSettings, CoreStatus and
Ping. FreeSWITCH: authenticate on the event socket with greenswitch, then `api version` and
`api status`. With --register, SIPp (Debian's sip-tester) registers the lab account on each PBX with
vagrant/sipp/register.xml (digest authentication), the PBX is asked whether it sees the contact, and the
account is unregistered again. Prints what it got; exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
REGISTER_XML = HERE.parent / "vagrant" / "sipp" / "register.xml"


def free_udp_port(host: str) -> int:
    """A UDP port nobody uses right now, for SIPp (several checks may run at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def lab_env(script: str) -> dict[str, str]:
    """The connection settings printed by `lab/<script> env` (export lines)."""
    out = subprocess.run(["bash", str(HERE / script), "env"], capture_output=True, text=True, check=True).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if words and words[0] == "export":
            for word in words[1:]:
                name, sep, value = word.partition("=")
                if sep:
                    env[name] = value
    return env


def fail(message: str) -> NoReturn:
    print(f"FAILED: {message}")
    sys.exit(1)


async def ami_actions(env: dict[str, str], actions: list[dict[str, str]]) -> list[Any]:
    from panoramisk import Manager

    manager = Manager(loop=asyncio.get_running_loop(), host=env["CPBX_LAB_AMI_HOST"],
                      port=int(env["CPBX_LAB_AMI_PORT"]), username=env["CPBX_LAB_AMI_USER"],
                      secret=env["CPBX_LAB_AMI_SECRET"], events="off", ping_delay=3600)
    await manager.connect()
    try:
        for _ in range(50):
            if manager.authenticated:
                break
            await asyncio.sleep(0.1)
        else:
            fail("AMI login refused or not answered")
        # panoramisk sees from "EventList: start" that a list follows; an error (e.g. "No Contacts found")
        # is a single message (as_list=True would wait for a list that never comes).
        return [await asyncio.wait_for(manager.send_action(action), 10) for action in actions]
    finally:
        manager.close()


def check_asterisk(env: dict[str, str]) -> None:
    settings, status, ping = asyncio.run(ami_actions(env, [
        {"Action": "CoreSettings"}, {"Action": "CoreStatus"}, {"Action": "Ping"}]))
    for name, reply in (("CoreSettings", settings), ("CoreStatus", status), ("Ping", ping)):
        if reply.get("Response") != "Success":
            fail(f"AMI {name}: {dict(reply)}")
    print(f"AMI {env['CPBX_LAB_AMI_HOST']}:{env['CPBX_LAB_AMI_PORT']} as {env['CPBX_LAB_AMI_USER']}: "
          f"Asterisk {settings.get('AsteriskVersion')}, "
          f"up since {status.get('CoreStartupDate')} {status.get('CoreStartupTime')}, "
          f"{status.get('CoreCurrentCalls')} calls; Ping: {ping.get('Ping')}")


def esl_api(env: dict[str, str], commands: list[str]) -> list[str]:
    from greenswitch.esl import InboundESL

    conn = InboundESL(env["CPBX_LAB_ESL_HOST"], int(env["CPBX_LAB_ESL_PORT"]), env["CPBX_LAB_ESL_PASSWORD"])
    conn.connect()
    try:
        return [conn.send(f"api {command}").data or "" for command in commands]
    finally:
        conn.stop()


def check_freeswitch(env: dict[str, str]) -> None:
    version, status = esl_api(env, ["version", "status"])
    if not status.startswith("UP "):
        fail(f"ESL api status: {status!r}")
    print(f"ESL {env['CPBX_LAB_ESL_HOST']}:{env['CPBX_LAB_ESL_PORT']}: {version.strip()}")
    print("  " + status.strip().replace("\n", "\n  "))


def sipp_register(target: str, env: dict[str, str], expires: int) -> None:
    sipp = shutil.which("sipp")
    if sipp is None:
        fail("sipp not found (apt-get install sip-tester)")
    host = target.split(":")[0]
    user, password = env["CPBX_LAB_SIP_USER"], env["CPBX_LAB_SIP_PASSWORD"]
    port = free_udp_port(host)
    with tempfile.TemporaryDirectory(prefix="cpbx-lab-sipp-") as work:
        result = subprocess.run(
            [sipp, "-sf", str(REGISTER_XML), "-m", "1", "-i", host, "-p", str(port),
             "-au", user, "-ap", password, "-set", "user", user, "-set", "domain", host,
             "-set", "uas_port", str(port), "-set", "expires", str(expires), "-nostdin",
             "-timeout", "20s", "-timeout_error", "-trace_err", "-trace_logs", target],
            cwd=work, capture_output=True, text=True)
        if result.returncode != 0:
            logs = "".join(p.read_text(errors="replace") for p in Path(work).glob("*.log"))
            fail(f"SIPp REGISTER (expires {expires}) to {target}: rc={result.returncode}\n{logs[-3000:]}")
    print(f"SIPp REGISTER {user}@{host} -> {target} expires {expires}: 200 OK")


def asterisk_contacts(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """The lab account's contacts by Call-ID of their REGISTER."""
    (contacts,) = asyncio.run(ami_actions(env, [{"Action": "PJSIPShowContacts"}]))
    if not isinstance(contacts, list):  # no contact at all: one "Response: Error" message
        return {}
    return {c.get("CallId", ""): dict(c) for c in contacts
            if c.get("Event") == "ContactList" and c.get("Endpoint") == env["CPBX_LAB_SIP_USER"]}


def register_asterisk(env: dict[str, str]) -> None:
    user = env["CPBX_LAB_SIP_USER"]
    before = set(asterisk_contacts(env))
    sipp_register(env["CPBX_LAB_AST_SIP"], env, 60)
    new = {k: v for k, v in asterisk_contacts(env).items() if k not in before}
    if not new:
        fail(f"Asterisk lists no new contact for {user} after the REGISTER")
    contact = next(iter(new.values()))
    print(f"  Asterisk PJSIPShowContacts: {contact.get('Uri')} status {contact.get('Status')}")
    sipp_register(env["CPBX_LAB_AST_SIP"], env, 0)


def freeswitch_registrations(env: dict[str, str]) -> dict[str, str]:
    """The lab account's rows of `show registrations` by token (the Call-ID of their REGISTER)."""
    (regs,) = esl_api(env, ["show registrations"])
    prefix = env["CPBX_LAB_SIP_USER"] + ","
    return {line.split(",")[2]: line for line in regs.splitlines() if line.startswith(prefix)}


def register_freeswitch(env: dict[str, str]) -> None:
    user = env["CPBX_LAB_SIP_USER"]
    before = set(freeswitch_registrations(env))
    sipp_register(env["CPBX_LAB_FS_SIP"], env, 60)
    for _ in range(20):  # FreeSWITCH writes the core's registration table through a queue: give it a moment
        new = {k: v for k, v in freeswitch_registrations(env).items() if k not in before}
        if new:
            break
        time.sleep(0.5)
    else:
        fail(f"FreeSWITCH lists no new registration for {user} after the REGISTER")
    print("  FreeSWITCH show registrations: " + next(iter(new.values())))
    sipp_register(env["CPBX_LAB_FS_SIP"], env, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pbx", nargs="*", help="asterisk and/or freeswitch (default: both)")
    parser.add_argument("--register", action="store_true", help="also REGISTER the lab account with SIPp")
    args = parser.parse_args()
    unknown = set(args.pbx) - {"asterisk", "freeswitch"}
    if unknown:
        parser.error(f"unknown PBX {', '.join(sorted(unknown))} (asterisk or freeswitch)")
    for pbx in args.pbx or ["asterisk", "freeswitch"]:
        if pbx == "asterisk":
            env = lab_env("asterisk.sh")
            check_asterisk(env)
            if args.register:
                register_asterisk(env)
        else:
            env = lab_env("freeswitch.sh")
            check_freeswitch(env)
            if args.register:
                register_freeswitch(env)
    print("OK")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
