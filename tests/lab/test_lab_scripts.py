"""lab/: the scripts that configure, start and stop a real Asterisk and FreeSWITCH built outside the repository.

Without a build, `configure` runs against stand-in prefixes shaped like the installed ones (a dummy
binary, the stock files the scripts edit) and the test reads what was written: loopback only, the lab's
ports, the AMI user of docs/operators.md, the generated files included, secrets outside the repository.
With CPBX_LAB_REAL=1 and the PBXs built in CPBX_LAB_PREFIX (default /opt/cpbx-lab), the last test starts
both for real, checks them with panoramisk, greenswitch and SIPp (lab/check.py --register) and stops them.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import require

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "lab"
SCRIPTS = [LAB / "lib.sh", LAB / "asterisk.sh", LAB / "freeswitch.sh"]
BUILD_COMMAND = re.compile(r"(^|[\s;&|(])(make|\./configure|\./bootstrap\.sh|menuselect/menuselect|gcc|cc|cmake)(\s|$)",
                           re.M)

# Shaped like the stock files FreeSWITCH 1.10.12 installs (conf/vanilla), reduced to the lines the lab edits.
FS_VARS = """<include>
  <X-PRE-PROCESS cmd="set" data="default_password=1234"/>
  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>
  <X-PRE-PROCESS cmd="set" data="bind_server_ip=auto"/>
  <X-PRE-PROCESS cmd="stun-set" data="external_rtp_ip=stun:stun.freeswitch.org"/>
  <X-PRE-PROCESS cmd="stun-set" data="external_sip_ip=stun:stun.freeswitch.org"/>
  <X-PRE-PROCESS cmd="set" data="internal_sip_port=5060"/>
  <X-PRE-PROCESS cmd="set" data="external_sip_port=5080"/>
</include>
"""
FS_INTERNAL = """<profile name="internal">
  <settings>
    <param name="sip-port" value="$${internal_sip_port}"/>
    <param name="sip-ip" value="$${local_ip_v4}"/>
    <param name="force-register-domain" value="$${domain}"/>
    <param name="force-subscription-domain" value="$${domain}"/>
    <param name="force-register-db-domain" value="$${domain}"/>
    <!--<param name="force-subscription-expires" value="60"/>-->
  </settings>
</profile>
"""
FS_SWITCH = """<configuration name="switch.conf" description="Core Configuration">
  <settings>
    <!-- <param name="rtp-start-port" value="16384"/> -->
    <!-- <param name="rtp-end-port" value="32768"/> -->
  </settings>
</configuration>
"""
FS_CONFERENCE = """<configuration name="conference.conf" description="Audio Conference">
  <caller-controls>
    <group name="default"/>
  </caller-controls>
  <profiles>
    <profile name="default"/>
  </profiles>
</configuration>
"""
FS_CALLCENTER = """<configuration name="callcenter.conf" description="CallCenter">
  <queues>
  </queues>
  <agents>
  </agents>
  <tiers>
  </tiers>
</configuration>
"""


def run(script: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(LAB / script), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def lab(tmp_path: Path) -> dict[str, str]:
    """Stand-in prefixes and a state folder; the environment the scripts run with."""
    prefix, state = tmp_path / "prefix", tmp_path / "state"
    write(prefix / "asterisk/sbin/asterisk", "#!/bin/sh\necho 'Asterisk 22.10.1'\n", 0o755)
    # A stock sample the lab must override (the stock manager.conf has the AMI off).
    write(prefix / "asterisk/etc/asterisk/manager.conf", "[general]\nenabled = no\n")
    write(prefix / "asterisk/etc/asterisk/indications.conf", "[general]\ncountry = us\n")
    (prefix / "asterisk/var/lib/asterisk/documentation").mkdir(parents=True)
    write(prefix / "freeswitch/bin/freeswitch", "#!/bin/sh\necho 'FreeSWITCH version: 1.10.12'\n", 0o755)
    conf = prefix / "freeswitch/conf"
    write(conf / "vars.xml", FS_VARS)
    write(conf / "sip_profiles/internal.xml", FS_INTERNAL)
    write(conf / "sip_profiles/internal-ipv6.xml", "<profile name=\"internal-ipv6\"/>\n")
    write(conf / "autoload_configs/switch.conf.xml", FS_SWITCH)
    write(conf / "autoload_configs/conference.conf.xml", FS_CONFERENCE)
    write(conf / "autoload_configs/callcenter.conf.xml", FS_CALLCENTER)
    write(conf / "autoload_configs/modules.conf.xml", "<configuration name=\"modules.conf\"/>\n")
    (conf / "directory/default").mkdir(parents=True)
    (conf / "dialplan").mkdir(parents=True)
    for module in ("mod_sofia", "mod_event_socket", "mod_db", "mod_commands"):
        write(prefix / f"freeswitch/mod/{module}.so", "")
    return {"PATH": os.environ["PATH"], "CPBX_LAB_PREFIX": str(prefix), "CPBX_LAB_STATE": str(state)}


def ini(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif match := re.fullmatch(r"([^=]+?)\s*=>?\s*(.*)", line):
            current[match.group(1)] = match.group(2)
    return sections


def operators_ami_classes() -> tuple[set[str], set[str]]:
    """read= and write= of the AMI user block in docs/operators.md."""
    doc = (ROOT / "docs" / "operators.md").read_text()
    block = doc.split("[clusterpbx]", 1)[1].split("```", 1)[0]
    read = re.search(r"^read = (.+)$", block, re.M)
    write_ = re.search(r"^write = (.+)$", block, re.M)
    assert read and write_
    return set(read.group(1).split(",")), set(write_.group(1).split(","))


def test_scripts_parse_and_never_build():
    for script in SCRIPTS:
        assert script.read_text().startswith("#!/usr/bin/env bash\n"), script
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"
        # Workplace rule: nothing in the repository builds the fetched code.
        code = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("#"))
        assert not BUILD_COMMAND.search(code), script


def test_scripts_pass_shellcheck():
    require("shellcheck", os.path.exists("/usr/bin/shellcheck"), "apt-get install shellcheck (bash .ci/run does it)")
    result = subprocess.run(["/usr/bin/shellcheck", "-x", *map(str, SCRIPTS)], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_a_build_the_scripts_say_so(tmp_path: Path):
    env = {"PATH": os.environ["PATH"], "CPBX_LAB_PREFIX": str(tmp_path / "nothing"),
           "CPBX_LAB_STATE": str(tmp_path / "state")}
    for script in ("asterisk.sh", "freeswitch.sh"):
        result = run(script, "start", env=env)
        assert result.returncode != 0
        assert "build it first" in result.stderr
    assert run("asterisk.sh", "bogus", env=env).returncode == 2


def test_asterisk_configuration(lab: dict[str, str]):
    result = run("asterisk.sh", "configure", env=lab)
    assert result.returncode == 0, result.stderr
    state = Path(lab["CPBX_LAB_STATE"])
    etc = state / "asterisk/etc"
    secrets = dict(line.split("=", 1) for line in (state / "secrets.env").read_text().split())
    assert stat.S_IMODE((state / "secrets.env").stat().st_mode) == 0o600
    assert all(re.fullmatch(r"[A-Za-z0-9]{20,}", value) for value in secrets.values()), secrets

    manager = ini((etc / "manager.conf").read_text())
    assert manager["general"] == {"enabled": "yes", "port": "15038", "bindaddr": "127.0.0.1",
                                  "displayconnects": "no"}
    user = manager["clusterpbx"]
    assert user["secret"] == secrets["AMI_SECRET"]
    assert user["permit"] == "127.0.0.1/255.255.255.255" and user["deny"] == "0.0.0.0/0.0.0.0"
    doc_read, doc_write = operators_ami_classes()
    # docs/operators.md's classes, plus the two real Asterisk turned out to need (shared notes).
    assert set(user["read"].split(",")) == doc_read | {"security"}
    assert set(user["write"].split(",")) == doc_write | {"user"}
    assert "command" not in user["write"] and "config" not in user["write"]
    assert stat.S_IMODE((etc / "manager.conf").stat().st_mode) == 0o600

    pjsip = (etc / "pjsip.conf").read_text()
    assert "bind = 127.0.0.1:5060" in pjsip
    assert f"password = {secrets['LAB_SIP_PASSWORD']}" in pjsip
    # Each generated file is included from the PBX's own file, on its last line, and exists (empty).
    for name in ("pjsip", "extensions", "queues", "confbridge", "voicemail"):
        own = (etc / f"{name}.conf").read_text().rstrip().splitlines()
        assert own[-1] == f"#include clusterpbx/{name}_clusterpbx.conf", name
        assert (etc / "clusterpbx" / f"{name}_clusterpbx.conf").read_text() == ""
    assert ini((etc / "queues.conf").read_text())["general"]["persistentmembers"] == "yes"
    cdr = ini((etc / "cdr.conf").read_text())
    assert cdr["csv"] == {"usegmtime": "yes", "loguniqueid": "yes", "loguserfield": "yes"}
    assert ini((etc / "cdr_manager.conf").read_text())["general"]["enabled"] == "yes"
    assert ini((etc / "http.conf").read_text())["general"]["enabled"] == "no"
    # Everything variable lives in the state folder; binaries and modules come from the prefix.
    dirs = ini((etc / "asterisk.conf").read_text())["directories"]
    prefix = lab["CPBX_LAB_PREFIX"]
    assert dirs["astmoddir"] == f"{prefix}/asterisk/lib/asterisk/modules"
    for key in ("astetcdir", "astspooldir", "astrundir", "astlogdir", "astdbdir", "astvarlibdir"):
        assert dirs[key].startswith(str(state)), key
    assert (etc / "indications.conf").exists()  # the stock samples stay the base
    assert (state / "asterisk/log/cdr-csv").is_dir()  # cdr_csv does not create it (no Master.csv otherwise)
    assert (state / "asterisk/spool/voicemail").is_dir()

    # A second configure keeps the secrets and a user's generated files.
    (etc / "clusterpbx/extensions_clusterpbx.conf").write_text("[cpbx-acme]\n")
    assert run("asterisk.sh", "configure", env=lab).returncode == 0
    assert dict(line.split("=", 1) for line in (state / "secrets.env").read_text().split()) == secrets
    assert (etc / "clusterpbx/extensions_clusterpbx.conf").read_text() == "[cpbx-acme]\n"
    env_lines = run("asterisk.sh", "env", env=lab).stdout
    assert f"CPBX_LAB_AMI_PORT=15038 CPBX_LAB_AMI_USER=clusterpbx CPBX_LAB_AMI_SECRET={secrets['AMI_SECRET']}" in env_lines


def test_freeswitch_configuration(lab: dict[str, str]):
    result = run("freeswitch.sh", "configure", env=lab)
    assert result.returncode == 0, result.stderr
    state = Path(lab["CPBX_LAB_STATE"])
    conf = state / "freeswitch/conf"
    secrets = dict(line.split("=", 1) for line in (state / "secrets.env").read_text().split())

    vars_xml = (conf / "vars.xml").read_text()
    assert '<X-PRE-PROCESS cmd="set" data="local_ip_v4=127.0.0.1"/>' in vars_xml
    assert "stun" not in vars_xml and "default_password=1234" not in vars_xml
    assert 'data="internal_sip_port=5160"' in vars_xml and 'data="external_sip_port=5180"' in vars_xml
    assert 'data="bind_server_ip=127.0.0.1"' in vars_xml
    assert not (conf / "sip_profiles/internal-ipv6.xml").exists()
    internal = (conf / "sip_profiles/internal.xml").read_text()
    assert '<param name="force-register-domain"' not in internal
    assert '<param name="force-register-db-domain"' not in internal
    assert '<param name="force-subscription-domain"' not in internal
    switch = (conf / "autoload_configs/switch.conf.xml").read_text()
    assert '\n    <param name="rtp-start-port" value="11000"/>' in switch

    esl = (conf / "autoload_configs/event_socket.conf.xml").read_text()
    assert '<param name="listen-ip" value="127.0.0.1"/>' in esl
    assert '<param name="listen-port" value="18021"/>' in esl
    assert f'<param name="password" value="{secrets["ESL_PASSWORD"]}"/>' in esl
    assert '<param name="apply-inbound-acl" value="loopback.auto"/>' in esl
    modules = (conf / "autoload_configs/modules.conf.xml").read_text()
    loaded = re.findall(r'^    <load module="(\w+)"/>$', modules, re.M)
    assert loaded == ["mod_event_socket", "mod_sofia", "mod_commands", "mod_db"]  # only what was built
    json_cdr = (conf / "autoload_configs/json_cdr.conf.xml").read_text()
    assert '<param name="url" value="http://127.0.0.1:8000/cdr/freeswitch/lab-freeswitch"/>' in json_cdr

    cpbx = conf / "clusterpbx"
    for section in ("directory", "dialplan"):
        assert f'data="{cpbx}/{section}_clusterpbx.xml"' in (conf / section / "clusterpbx.xml").read_text()
    conference = (conf / "autoload_configs/conference.conf.xml").read_text()
    assert f'<profiles>\n    <X-PRE-PROCESS cmd="include" data="{cpbx}/conference_profiles_clusterpbx.xml"/>' \
        in conference
    callcenter = (conf / "autoload_configs/callcenter.conf.xml").read_text()
    for part in ("queues", "agents", "tiers"):
        assert f'<{part}>\n    <X-PRE-PROCESS cmd="include" data="{cpbx}/callcenter_{part}_clusterpbx.xml"/>' \
            in callcenter
        assert (cpbx / f"callcenter_{part}_clusterpbx.xml").read_text() == "<include/>\n"
    user = (conf / "directory/default/cpbxlab.xml").read_text()
    assert f'<param name="password" value="{secrets["LAB_SIP_PASSWORD"]}"/>' in user
    assert not (conf / "autoload_configs/xml_curl.conf.xml").exists()  # mod_xml_curl: only on request
    assert "mod_xml_curl" not in loaded
    # The installed configuration itself is never touched.
    assert 'data="internal_sip_port=5060"' in (Path(lab["CPBX_LAB_PREFIX"]) / "freeswitch/conf/vars.xml").read_text()


def test_freeswitch_xml_curl_on_request(lab: dict[str, str]):
    """mod_xml_curl does not load without a binding URL: it is loaded, bound to the portal, only when asked."""
    write(Path(lab["CPBX_LAB_PREFIX"]) / "freeswitch/mod/mod_xml_curl.so", "")
    result = run("freeswitch.sh", "configure", env={**lab, "CPBX_LAB_XML_CURL": "1",
                                                    "CPBX_LAB_PORTAL_URL": "http://127.0.0.1:5000"})
    assert result.returncode == 0, result.stderr
    state = Path(lab["CPBX_LAB_STATE"])
    conf = state / "freeswitch/conf/autoload_configs"
    secrets = dict(line.split("=", 1) for line in (state / "secrets.env").read_text().split())
    assert '<load module="mod_xml_curl"/>' in (conf / "modules.conf.xml").read_text()
    xml_curl = (conf / "xml_curl.conf.xml").read_text()
    assert ('<param name="gateway-url" value="http://127.0.0.1:5000/freeswitch/xml-curl/lab-freeswitch" '
            'bindings="directory|dialplan"/>') in xml_curl
    assert f'<param name="gateway-credentials" value="lab-freeswitch:{secrets["ESL_PASSWORD"]}"/>' in xml_curl


def test_real_pbxs(tmp_path: Path):
    """Opt-in (CPBX_LAB_REAL=1): start the real builds, check them like the adapters connect, stop them."""
    if os.environ.get("CPBX_LAB_REAL") != "1":
        pytest.skip("set CPBX_LAB_REAL=1 to start the real Asterisk and FreeSWITCH built in CPBX_LAB_PREFIX")
    prefix = os.environ.get("CPBX_LAB_PREFIX", "/opt/cpbx-lab")
    assert os.access(f"{prefix}/asterisk/sbin/asterisk", os.X_OK) and os.access(f"{prefix}/freeswitch/bin/freeswitch",
                                                                                  os.X_OK)
    assert shutil.which("sipp"), "apt-get install sip-tester"
    # Ports of their own, so the test runs beside a lab someone started with the default ports.
    env = {"PATH": os.environ["PATH"], "CPBX_LAB_PREFIX": prefix, "CPBX_LAB_STATE": str(tmp_path / "state"),
           "CPBX_LAB_AMI_PORT": "25038", "CPBX_LAB_AST_SIP_PORT": "25060", "CPBX_LAB_ESL_PORT": "28021",
           "CPBX_LAB_FS_SIP_PORT": "25160", "CPBX_LAB_FS_EXT_SIP_PORT": "25180"}
    try:
        for script in ("asterisk.sh", "freeswitch.sh"):
            started = run(script, "start", env=env, timeout=150)
            assert started.returncode == 0, started.stdout + started.stderr
        check = subprocess.run([sys.executable, str(LAB / "check.py"), "--register"], capture_output=True,
                               text=True, env=env, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "Ping: Pong" in check.stdout and "UP " in check.stdout
    finally:
        for script in ("asterisk.sh", "freeswitch.sh"):
            run(script, "stop", env=env)
    for script in ("asterisk.sh", "freeswitch.sh"):
        assert run(script, "status", env=env).returncode == 3  # stopped
