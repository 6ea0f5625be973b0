"""A phone registers in its company's own SIP domain on the real FreeSWITCH 1.10 with the stock `internal`
profile once `fs_multi_domain_profile` (vagrant/provision/edit.sh, used by the Vagrant lab and lab/) has
taken its force-*-domain parameters out, and is refused (403) with the stock profile as installed
(issue 19 item 11, docs/operators.md).

Two extra sofia profiles are started on the lab FreeSWITCH for the test, both copies of the installed
stock internal.xml on ports of their own (WebSocket and TLS bindings left out): as installed, and edited.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.conftest import LAB
from tests.real.fs_calls import DOMAIN, REGISTER_XML, FsCalls

pytestmark = pytest.mark.real

EDIT_SH = LAB.parent / "vagrant" / "provision" / "edit.sh"
PORTS = {"cpbx-stock": 25591, "cpbx-edited": 25592}
PHONE_PORT = 25593


def profile_copy(stock: str, name: str, port: int) -> str:
    text = stock.replace('<profile name="internal">', f'<profile name="{name}">')
    text = re.sub(r'<param name="sip-port" value="[^"]*"/>', f'<param name="sip-port" value="{port}"/>', text)
    text = re.sub(r'^\s*<param name="(ws|wss|tls)-binding".*$\n?', "", text, flags=re.M)
    text = re.sub(r'<param name="tls" value="[^"]*"/>', '<param name="tls" value="false"/>', text)
    text = re.sub(r'<param name="odbc-dsn"[^>]*/>', "", text)
    return text.replace('alias="true"', 'alias="false"')


@pytest.fixture(scope="module")
def profiles(freeswitch_lab: dict[str, str], sipp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FsCalls]:
    work = tmp_path_factory.mktemp("fs-register")
    fs = FsCalls(freeswitch_lab, sipp, work)
    fs.load()
    prefix = os.environ.get("CPBX_LAB_PREFIX", "/opt/cpbx-lab")
    stock = Path(prefix, "freeswitch", "conf", "sip_profiles", "internal.xml").read_text()
    assert 'name="force-register-domain"' in stock  # what operators start from
    edited_path = work / "edited.xml"
    edited_path.write_text(stock)
    subprocess.run(["bash", "-c", '. "$1"; fs_multi_domain_profile "$2"', "_", str(EDIT_SH), str(edited_path)],
                   check=True)
    folder = Path(freeswitch_lab["CPBX_LAB_FS_CONFIG_DIR"]).parent / "sip_profiles"
    files = {name: folder / f"{name}.xml" for name in PORTS}
    files["cpbx-stock"].write_text(profile_copy(stock, "cpbx-stock", PORTS["cpbx-stock"]))
    files["cpbx-edited"].write_text(profile_copy(edited_path.read_text(), "cpbx-edited", PORTS["cpbx-edited"]))
    try:
        fs.api("reloadxml")
        for name in PORTS:
            fs.api(f"sofia profile {name} start")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(f"{n} " in fs.api("sofia status") for n in PORTS):
            time.sleep(0.5)
        yield fs
    finally:
        for name, path in files.items():
            fs.api(f"sofia profile {name} stop")
            path.unlink(missing_ok=True)
        fs.api("reloadxml")
        fs.close()


def register_answer(fs: FsCalls, port: int) -> str:
    """The final answer to u201's REGISTER in calls.lab.test sent to `port`."""
    log = fs.work / f"register-{port}.log"
    subprocess.run([fs.sipp, "-sf", str(REGISTER_XML), "-i", "127.0.0.1", "-p", str(PHONE_PORT), "-m", "1",
                    "-nostdin", "-timeout", "20s", "-au", "u201", "-ap", "pw-201-calls", "-set", "user", "u201",
                    "-set", "domain", DOMAIN, "-set", "uas_port", str(PHONE_PORT), "-set", "expires", "60",
                    "-trace_msg", "-message_file", str(log.with_suffix(".msg")), f"127.0.0.1:{port}"],
                   cwd=fs.work, capture_output=True, text=True, timeout=40)
    answers = re.findall(r"^SIP/2\.0 (\d{3})", log.with_suffix(".msg").read_text(), re.M)
    final = [a for a in answers if a not in ("100", "401", "407")]
    return final[-1] if final else ",".join(answers)


def test_the_stock_profile_refuses_a_tenant_domain_and_the_edited_one_registers_it(profiles: FsCalls):
    assert register_answer(profiles, PORTS["cpbx-stock"]) == "403"
    assert register_answer(profiles, PORTS["cpbx-edited"]) == "200"
    registered = profiles.api("sofia status profile cpbx-edited reg")
    assert f"u201@{DOMAIN}" in registered, registered
