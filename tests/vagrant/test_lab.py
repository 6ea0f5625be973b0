"""The Vagrant lab (vagrant/): what can be checked without a VM engine.

No VM runs here. These tests check that the scripts parse and pass shellcheck, that the SIPp scenarios
are well formed, use only the lab's accounts and really work (against SIPp stand-ins for the PBX on
loopback), and that what the provisioning feeds ClusterPBX (configuration file, systemd units, the
`clusterpbx` commands of lab_accounts.sh, lab_data.py) is accepted by the real command and loader and
yields the generated files the PBX configuration includes.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy.engine import make_url

from clusterpbx.control.config import load_settings
from tests.components import require

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "vagrant"
SIPP_DIR = LAB / "sipp"
FIXTURES = Path(__file__).resolve().parent / "sipp"
SCRIPTS = sorted([*LAB.glob("*.sh"), *(LAB / "provision").glob("*.sh"), LAB / "config" / "portal" / "cpbx"])
SECRETS = {"AMI_SECRET": "ami-test-secret", "ESL_PASSWORD": "esl-test-password",
           "LAB_USER_PASSWORD": "Lab-0123abcdef-7"}


def lab_env() -> dict[str, str]:
    """lab.env as bash reads it (the scripts source it)."""
    out = subprocess.run(["bash", "-c", 'set -a; . "$1"; env -0', "_", str(LAB / "lab.env")],
                         capture_output=True, check=True, env={"PATH": os.environ["PATH"]})
    env = dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    keys = {line.split("=", 1)[0] for line in (LAB / "lab.env").read_text().splitlines()
            if line and not line.startswith("#")}
    return {k: env[k] for k in keys}


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "clusterpbx"
    return [str(script)] if script.exists() else [sys.executable, "-m", "clusterpbx"]


def test_lab_env_is_plain_key_values():
    """The Vagrantfile and lab_data.py read lab.env without a shell: it must mean the same to them."""
    text = (LAB / "lab.env").read_text()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=[^\s\"'$`]+", line), line
    sys.path.insert(0, str(LAB / "provision"))
    try:
        import lab_data
    finally:
        sys.path.pop(0)
    assert lab_data.lab_env() == lab_env()


def test_scripts_parse():
    assert len(SCRIPTS) >= 6, SCRIPTS
    for script in SCRIPTS:
        assert script.read_text().startswith("#!/usr/bin/env bash\n"), script
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def test_scripts_pass_shellcheck():
    require("shellcheck", os.path.exists("/usr/bin/shellcheck"), "apt-get install shellcheck (bash .ci/run does it)")
    # From another folder: the source directives must not depend on where shellcheck runs.
    result = subprocess.run(["/usr/bin/shellcheck", "-x", *map(str, SCRIPTS)], capture_output=True, text=True,
                            cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr


# ---- SIPp scenarios -------------------------------------------------------------------------------

SCENARIOS = sorted(SIPP_DIR.glob("*.xml"))


def scenario_variables(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(declared globals, variables assigned by actions, variables used as [$name])."""
    root = ET.parse(path).getroot()
    declared = set()
    for g in root.iter("Global"):
        declared |= {v.strip() for v in g.get("variables", "").split(",") if v.strip()}
    assigned = set()
    for el in root.iter():
        if el.get("assign_to"):
            assigned |= {v.strip() for v in el.get("assign_to").split(",")}
    used = set(re.findall(r"\[\$([A-Za-z_][A-Za-z0-9_]*)\]", path.read_text()))
    return declared, assigned, used


def smoke_set_options(scenario: str) -> set[str]:
    """The -set names smoke.sh passes to one scenario (its sipp command lines)."""
    text = (LAB / "smoke.sh").read_text().replace("\\\n", " ")
    names: set[str] = set()
    for line in text.splitlines():
        if scenario in line:
            names |= set(re.findall(r"-set (\w+)", line))
    return names


def test_sipp_scenarios_are_well_formed():
    assert {p.name for p in SCENARIOS} == {"register.xml", "uac_call.xml", "uas_answer.xml"}
    for path in [*SCENARIOS, *FIXTURES.glob("*.xml")]:
        root = ET.parse(path).getroot()
        assert root.tag == "scenario", path
        declared, assigned, used = scenario_variables(path)
        # SIPp refuses a scenario that uses a variable nobody sets.
        assert used <= declared | assigned, (path, used - declared - assigned)


def test_smoke_passes_exactly_the_variables_the_scenarios_declare():
    for name in ("register.xml", "uac_call.xml", "uas_answer.xml"):
        declared, _assigned, _used = scenario_variables(SIPP_DIR / name)
        assert smoke_set_options(name) == declared, name


def test_sipp_uses_only_the_accounts_the_provisioning_creates():
    env = lab_env()
    # No account is written into a scenario: the numbers come from smoke.sh's options.
    for path in SCENARIOS:
        assert not re.search(r"sip:\d+@", path.read_text()), f"{path} names an account"
    # smoke.sh's accounts are lab.env's, the ones lab_accounts.sh creates (one line per user).
    smoke = (LAB / "smoke.sh").read_text()
    used = set(re.findall(r"\b(?:a|b|email_a|email_b)=\$([A-Z_]+)", smoke))
    accounts = (LAB / "provision" / "lab_accounts.sh").read_text()
    users_block = accounts.split("<<USERS\n", 1)[1].split("\nUSERS", 1)[0]
    created = set()
    for line in users_block.splitlines():
        domain, ext, email = line.split()[:3]
        created |= {ext.lstrip("$"), email.lstrip("$")}
        assert env[ext.lstrip("$")].isdigit() and env[email.lstrip("$")].endswith("@" + env[domain.lstrip("$")])
    assert used == created == {"AST_EXT_A", "AST_EXT_B", "FS_EXT_A", "FS_EXT_B",
                               "AST_EMAIL_A", "AST_EMAIL_B", "FS_EMAIL_A", "FS_EMAIL_B"}
    assert len({env[k] for k in created if "_EXT_" in k}) == 4


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sipp_path() -> str:
    path = shutil.which("sipp") or "/usr/bin/sipp"
    require("sipp", os.path.exists(path), "apt-get install sip-tester (Debian's SIPp)")
    return path


def run_pair(tmp_path: Path, server: list[str], client: list[str]) -> tuple[str, str]:
    """Start a SIPp server scenario, run a client against it, return both logs."""
    sipp = sipp_path()
    common = ["-m", "1", "-i", "127.0.0.1", "-nostdin", "-timeout", "20s", "-timeout_error"]
    server_port, client_port = free_udp_port(), free_udp_port()
    srv = subprocess.Popen([sipp, *server, *common, "-p", str(server_port), "-trace_logs",
                            "-log_file", str(tmp_path / "server.log"), "-trace_err",
                            "-error_file", str(tmp_path / "server.err")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        time.sleep(0.5)
        cli = subprocess.run([sipp, *client, *common, "-p", str(client_port), "-trace_logs",
                              "-log_file", str(tmp_path / "client.log"), "-trace_err",
                              "-error_file", str(tmp_path / "client.err"), f"127.0.0.1:{server_port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, timeout=40)
        assert srv.wait(timeout=20) == 0, _read(tmp_path / "server.err")
        assert cli.returncode == 0, _read(tmp_path / "client.err")
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    return _read(tmp_path / "client.log"), _read(tmp_path / "server.log")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_uac_answers_a_401_challenge_with_the_right_digest_and_handles_busy(tmp_path):
    client, server = run_pair(
        tmp_path,
        ["-sf", str(FIXTURES / "fake_pbx_refuse.xml"), "-set", "user", "1101", "-set", "password", "s3cret"],
        ["-sf", str(SIPP_DIR / "uac_call.xml"), "-s", "1102", "-au", "1101", "-ap", "s3cret",
         "-set", "caller", "1101", "-set", "domain", "ast.lab.clusterpbx.test", "-d", "500"])
    assert "AUTH true" in server  # SIPp's verifyauth recomputed the digest with the password
    assert "INVITE for 1102" in server
    assert "FINAL 486" in client and "FINAL 200" not in client


def test_uac_wrong_password_is_detected_by_the_stand_in(tmp_path):
    """The check above can fail: the same stand-in says false for a wrong password."""
    _client, server = run_pair(
        tmp_path,
        ["-sf", str(FIXTURES / "fake_pbx_refuse.xml"), "-set", "user", "1101", "-set", "password", "s3cret"],
        ["-sf", str(SIPP_DIR / "uac_call.xml"), "-s", "1102", "-au", "1101", "-ap", "wrong",
         "-set", "caller", "1101", "-set", "domain", "ast.lab.clusterpbx.test", "-d", "500"])
    assert "AUTH false" in server


def test_uac_answers_a_407_challenge_talks_and_hangs_up(tmp_path):
    client, server = run_pair(
        tmp_path,
        ["-sf", str(FIXTURES / "fake_pbx_answer.xml")],
        ["-sf", str(SIPP_DIR / "uac_call.xml"), "-s", "1202", "-au", "1201", "-ap", "pw",
         "-set", "caller", "1201", "-set", "domain", "fs.lab.clusterpbx.test", "-d", "500"])
    assert re.search(r"PROXY-AUTH user 1201 response [0-9a-f]{32}", server), server
    assert "INVITE for 1202" in server
    assert client.splitlines() == ["FINAL 200", "HUNG UP"]


def test_register_authenticates_and_points_the_contact_at_the_uas(tmp_path):
    client, server = run_pair(
        tmp_path,
        ["-sf", str(FIXTURES / "fake_registrar.xml"), "-set", "user", "1102", "-set", "password", "pw2"],
        ["-sf", str(SIPP_DIR / "register.xml"), "-au", "1102", "-ap", "pw2", "-set", "user", "1102",
         "-set", "domain", "ast.lab.clusterpbx.test", "-set", "uas_port", "5071", "-set", "expires", "0"])
    assert "AUTH true" in server
    assert "CONTACT user 1102 port 5071" in server and "EXPIRES 0" in server
    assert "REGISTERED 1102@ast.lab.clusterpbx.test expires 0" in client


def test_uas_rings_answers_and_logs_the_hang_up(tmp_path):
    client, server = run_pair(tmp_path, ["-sf", str(SIPP_DIR / "uas_answer.xml")],
                              ["-sn", "uac", "-s", "1102", "-d", "500"])
    assert server.splitlines() == ["RUNG", "ANSWERED", "HUNG UP"]


def test_uas_answers_the_pbx_keepalive_options(tmp_path):
    """Asterisk qualifies the contact (OPTIONS): an unanswered one makes the contact unreachable."""
    client, server = run_pair(tmp_path, ["-sf", str(SIPP_DIR / "uas_answer.xml")],
                              ["-sf", str(FIXTURES / "options_ping.xml"), "-s", "1102"])
    assert server.splitlines() == ["OPTIONS answered"]
    assert client.splitlines() == ["PONG"]


# ---- what the provisioning gives ClusterPBX --------------------------------------------------------

def test_lab_configuration_file_is_accepted_by_the_loader(monkeypatch):
    env = lab_env()
    monkeypatch.setenv("CLUSTERPBX_CONFIG", str(LAB / "config" / "portal" / "clusterpbx.toml"))
    for key in list(os.environ):
        if key.startswith("CLUSTERPBX_") and key != "CLUSTERPBX_CONFIG":
            monkeypatch.delenv(key)
    settings = load_settings({"secret_key": "test"})  # no secret generated into /var/lib/clusterpbx
    assert settings.extra == {}, "unknown keys in the lab's clusterpbx.toml"
    assert settings.instance_path == "/var/lib/clusterpbx"
    assert settings.session_cookie_secure is False
    assert settings.public_url == f"http://{env['LAB_PORTAL_IP']}:{env['PORTAL_PORT']}"
    url = make_url(settings.database_url)
    assert (url.drivername, url.username, url.database) == ("postgresql+psycopg", "clusterpbx", "clusterpbx")
    assert url.query["host"] == "/var/run/postgresql" and url.password is None


def test_systemd_units_run_commands_the_cli_accepts():
    env = lab_env()
    cpbx = (LAB / "config" / "portal" / "cpbx").read_text()
    for unit, sub in (("clusterpbx-web.service", "web"), ("clusterpbx-control.service", "control")):
        text = (LAB / "config" / "portal" / unit).read_text()
        assert "Environment=CLUSTERPBX_CONFIG=/etc/clusterpbx/clusterpbx.toml" in text
        line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
        argv = line.removeprefix("ExecStart=").split()
        assert argv[0] == "/opt/clusterpbx/venv/bin/clusterpbx" and argv[0] in cpbx and argv[1] == sub
        if sub == "web":
            assert f"0.0.0.0:{env['PORTAL_PORT']}" in argv
        # Click parses every option before --help: an unknown option fails here.
        result = subprocess.run([*cli_command(), *argv[1:], "--help"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def render_template(name: str, extra: dict[str, str]) -> str:
    out = subprocess.run(["bash", "-c", '. "$1"; render "$2"', "_", str(LAB / "provision" / "common.sh"),
                          str(LAB / "config" / name)],
                         capture_output=True, text=True, env={**os.environ, **extra})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_pbx_configuration_templates_render_completely():
    env = lab_env()
    for name in ("asterisk/manager.conf", "asterisk/pjsip.conf", "asterisk/cdr.conf", "asterisk/cdr_manager.conf",
                 "freeswitch/event_socket.conf.xml", "freeswitch/json_cdr.conf.xml"):
        text = render_template(name, {**env, **SECRETS})
        assert not re.search(r"@[A-Z_]+@", text), name
        if name.endswith(".xml"):
            ET.fromstring(text)
    manager = render_template("asterisk/manager.conf", {**env, **SECRETS})
    assert f"secret = {SECRETS['AMI_SECRET']}" in manager
    assert f"permit = {env['LAB_PORTAL_IP']}/255.255.255.255" in manager
    assert f"bindaddr = {env['LAB_ASTERISK_IP']}" in manager
    # The AMI classes are exactly the ones docs/operators.md asks for.
    docs = (ROOT / "docs" / "operators.md").read_text()
    for key in ("read", "write"):
        wanted = re.search(rf"^{key} = (.+)$", docs, re.M).group(1)
        assert f"{key} = {wanted}" in manager
    json_cdr = ET.fromstring(render_template("freeswitch/json_cdr.conf.xml", {**env, **SECRETS}))
    params = {p.get("name"): p.get("value") for p in json_cdr.iter("param")}
    assert params["url"] == f"http://127.0.0.1:{env['PORTAL_PORT']}/cdr/freeswitch/{env['FS_NODE']}"
    assert params["cred"] == f"{env['FS_NODE']}:{SECRETS['ESL_PASSWORD']}"
    # A missing variable stops the provisioning instead of writing "@NAME@" into a PBX file.
    bad = subprocess.run(["bash", "-c", '. "$1"; render "$2"', "_", str(LAB / "provision" / "common.sh"),
                          str(LAB / "config" / "asterisk" / "manager.conf")],
                         capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert bad.returncode != 0 and "AMI_SECRET" in bad.stderr


def edit(tmp_path: Path, function: str, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one function of provision/edit.sh on a sample file; returns the process, file in .stdout."""
    path = tmp_path / "sample"
    path.write_text(text)
    result = subprocess.run(["bash", "-c", 'set -euo pipefail; . "$1"; shift; "$@"; cat "$2"', "_",
                             str(LAB / "provision" / "edit.sh"), function, str(path), *args],
                            capture_output=True, text=True)
    return result


VARS_SAMPLE = """<include>
  <!-- Preprocessor variables -->
  <X-PRE-PROCESS cmd="set" data="default_password=1234"/>
  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>
  <X-PRE-PROCESS cmd="stun-set" data="external_rtp_ip=stun:stun.freeswitch.org"/>
  <X-PRE-PROCESS cmd="set" data="external_sip_ip=stun:stun.freeswitch.org"/>
</include>
"""


def test_freeswitch_vars_edit_binds_the_lab_address_and_is_repeatable(tmp_path):
    once = edit(tmp_path, "fs_vars", VARS_SAMPLE, "192.168.56.12")
    assert once.returncode == 0, once.stderr
    root = ET.fromstring(once.stdout)
    sets = [el.get("data") for el in root.iter("X-PRE-PROCESS")]
    assert sets[0] == "local_ip_v4=192.168.56.12"  # before anything that uses it
    assert "external_rtp_ip=192.168.56.12" in sets and "external_sip_ip=192.168.56.12" in sets
    assert "stun" not in once.stdout and "default_password=1234" not in once.stdout
    password = next(s for s in sets if s.startswith("default_password="))
    assert re.fullmatch(r"default_password=[A-Za-z0-9]{16,}", password)
    again = edit(tmp_path, "fs_vars", once.stdout, "192.168.56.13")  # a second run, with a new address
    assert again.returncode == 0, again.stderr
    sets_again = [el.get("data") for el in ET.fromstring(again.stdout).iter("X-PRE-PROCESS")]
    assert [s for s in sets_again if s.startswith("local_ip_v4=")] == ["local_ip_v4=192.168.56.13"]
    assert password in sets_again  # the random password is kept


MODULES_SAMPLE = """<configuration name="modules.conf" description="Modules">
  <modules>
    <load module="mod_sofia"/>
    <load module="mod_verto"/>
    <load module="mod_db"/>
    <load module="mod_lua"/>
    <!--<load module="mod_callcenter"/>-->
  </modules>
</configuration>
"""


def test_freeswitch_modules_edit(tmp_path):
    skipped = edit(tmp_path, "fs_skip_modules", MODULES_SAMPLE, "mod_verto", "mod_lua")
    assert skipped.returncode == 0, skipped.stderr
    loaded = edit(tmp_path, "fs_load_modules", skipped.stdout, "mod_db", "mod_callcenter", "mod_json_cdr")
    twice = edit(tmp_path, "fs_load_modules", loaded.stdout, "mod_db", "mod_callcenter", "mod_json_cdr")
    assert twice.stdout == loaded.stdout
    modules = [el.get("module") for el in ET.fromstring(twice.stdout).iter("load")]  # comments are not elements
    assert modules == ["mod_sofia", "mod_db", "mod_callcenter", "mod_json_cdr"]


CALLCENTER_SAMPLE = """<configuration name="callcenter.conf" description="CallCenter">
  <queues>
    <queue name="support@default">
      <param name="strategy" value="longest-idle-agent"/>
    </queue>
  </queues>
  <agents>
    <!--<agent name="1000@default" type="callback"/>-->
  </agents>
  <tiers>
  </tiers>
</configuration>
"""


def test_freeswitch_include_edit(tmp_path):
    text = CALLCENTER_SAMPLE
    for tag in ("queues", "agents", "tiers", "queues"):  # the second "queues" must change nothing
        r = edit(tmp_path, "fs_include_after", text, tag, f"/conf/clusterpbx/callcenter_{tag}_clusterpbx.xml")
        assert r.returncode == 0, r.stderr
        text = r.stdout
    root = ET.fromstring(text)
    for tag in ("queues", "agents", "tiers"):
        includes = [el.get("data") for el in root.find(tag).findall("X-PRE-PROCESS")]
        assert includes == [f"/conf/clusterpbx/callcenter_{tag}_clusterpbx.xml"], tag
    assert root.find("queues").find("queue").get("name") == "support@default"
    missing = edit(tmp_path, "fs_include_after", CALLCENTER_SAMPLE, "profiles", "/x.xml")
    assert missing.returncode != 0 and "no <profiles> line" in missing.stderr


def test_asterisk_persistent_members_edit(tmp_path):
    for sample in ("[general]\npersistentmembers = no\nautofill = yes\n", "[general]\nautofill = yes\n",
                   "[general]\n;persistentmembers = yes\n"):
        r = edit(tmp_path, "ast_persistent_members", sample)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "[general]" and lines.count("persistentmembers = yes") == 1, r.stdout
        assert edit(tmp_path, "ast_persistent_members", r.stdout).stdout == r.stdout


def loop_words(script: str, marker: str) -> set[str]:
    """The words of the `for f in ...; do` loop that follows `marker` in a provisioning script."""
    text = (LAB / "provision" / script).read_text().replace("\\\n", " ")
    after = text.split(marker, 1)[1]
    match = re.search(r"for f in ([^;]+); do", after)
    assert match, (script, marker)
    return set(match.group(1).split())


def test_readme_is_honest_about_what_ran():
    readme = (LAB / "README.md").read_text()
    assert "never been run" in readme
    for name in ("smoke.sh", "lab.env", ".secrets.env", "vagrant up", "5060", "5038", "8021", "8000"):
        assert name in readme, name


PROFILE_SAMPLE = """<profile name="internal">
  <settings>
    <param name="auth-calls" value="$${internal_auth_calls}"/>
    <!--<param name="force-register-domain" value="$${domain}"/>-->
    <param name="force-register-domain" value="$${domain}"/>
    <param name="force-subscription-domain" value="$${domain}"/>
    <!--all inbound reg will stored in the db using this domain -->
    <param name="force-register-db-domain" value="$${domain}"/>
    <param name="challenge-realm" value="auto_from"/>
  </settings>
</profile>
"""


def test_freeswitch_profile_edit_lets_every_tenant_domain_register(tmp_path):
    once = edit(tmp_path, "fs_multi_domain_profile", PROFILE_SAMPLE)
    assert once.returncode == 0, once.stderr
    params = {p.get("name"): p.get("value") for p in ET.fromstring(once.stdout).iter("param")}
    assert params == {"auth-calls": "$${internal_auth_calls}", "challenge-realm": "auto_from"}
    assert edit(tmp_path, "fs_multi_domain_profile", once.stdout).stdout == once.stdout
    # the Vagrant lab and the local lab both run it on the internal profile
    for script in (LAB / "provision" / "freeswitch.sh", LAB.parent / "lab" / "freeswitch.sh"):
        assert re.search(r'^\s*fs_multi_domain_profile "\$CONF/sip_profiles/internal.xml"$', script.read_text(), re.M)
