"""The Vagrant lab's provisioning with the real `clusterpbx` command (tests/vagrant/test_lab.py has the
rest): lab_accounts.sh and lab_data.py against a real database, then `clusterpbx dialplan render` for
both lab nodes. A file of its own: some twenty runs of the command take minutes, and under
`--dist loadfile` a file is the unit a worker takes (tests/conftest.py sends it out first)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.vagrant.test_lab import LAB, SECRETS, cli_command, lab_env, loop_words


@pytest.mark.timeout(600)  # some twenty runs of the real command, each a new Python process (171-300 s on a loaded 2-core machine)
def test_lab_accounts_and_data_with_the_real_cli(tmp_path, database_url):
    """lab_accounts.sh and lab_data.py against a real database with the real `clusterpbx` command, then
    `clusterpbx dialplan render` for both lab nodes: the files the PBX configuration includes exist."""
    env = lab_env()
    wrapper = tmp_path / "cpbx"
    run_env = {**os.environ, "CLUSTERPBX_DATABASE_URL": database_url,
               "CLUSTERPBX_INSTANCE": str(tmp_path / "instance"), "CLUSTERPBX_LOG_LEVEL": "WARNING"}
    run_env.pop("CLUSTERPBX_CONFIG", None)
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{c}'" for c in cli_command()) + ' "$@"\n')
    wrapper.chmod(0o755)
    assert subprocess.run([str(wrapper), "db", "upgrade"], env=run_env, capture_output=True).returncode == 0
    script_env = {**run_env, **SECRETS, "CPBX": str(wrapper), "MNT": str(tmp_path / "mnt"),
                  "FS_CONF_DIR": str(tmp_path / "fsconf")}
    first = subprocess.run(["bash", str(LAB / "provision" / "lab_accounts.sh")], env=script_env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("created user") == 4 and "(kept)" not in first.stdout
    if database_url.startswith("sqlite"):  # once is enough to show a second run keeps everything
        again = subprocess.run(["bash", str(LAB / "provision" / "lab_accounts.sh")], env=script_env,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.count("(kept)") == 8 and "created" not in again.stdout
    data = [sys.executable, str(LAB / "provision" / "lab_data.py")]
    for _ in range(2):
        queues = subprocess.run([*data, "queues"], env=run_env, capture_output=True, text=True)
        assert queues.returncode == 0, queues.stderr
    assert queues.stdout.count("queue support") == 2
    accounts = subprocess.run([*data, "accounts"], env=run_env, capture_output=True, text=True)
    assert accounts.returncode == 0, accounts.stderr
    rows = [line.split("\t") for line in accounts.stdout.splitlines()]
    header, rows = rows[0], rows[1:]
    assert header == ["node", "kind", "server", "domain", "extension", "sip_username", "sip_password", "email"]
    assert {(r[0], r[4], r[7]) for r in rows} == {
        (env["AST_NODE"], env["AST_EXT_A"], env["AST_EMAIL_A"]), (env["AST_NODE"], env["AST_EXT_B"], env["AST_EMAIL_B"]),
        (env["FS_NODE"], env["FS_EXT_A"], env["FS_EMAIL_A"]), (env["FS_NODE"], env["FS_EXT_B"], env["FS_EMAIL_B"])}
    servers = {r[0]: r[2] for r in rows}
    assert servers == {env["AST_NODE"]: f"{env['LAB_ASTERISK_IP']}:5060", env["FS_NODE"]: f"{env['LAB_PORTAL_IP']}:5060"}
    # smoke.sh reads the password from column 7 by domain (column 4) and extension (column 5).
    smoke = (LAB / "smoke.sh").read_text()
    assert "$4 == d && $5 == e { print $7 }" in smoke

    files = {}
    for node in (env["AST_NODE"], env["FS_NODE"]):
        out = tmp_path / node
        r = subprocess.run([str(wrapper), "dialplan", "render", "--node", node, "--out", str(out)], env=run_env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        files[node] = {p.name: p.read_text() for p in out.iterdir()}
    ast, fs = files[env["AST_NODE"]], files[env["FS_NODE"]]
    # The Asterisk VM's placeholders and #include lines name exactly the generated files.
    assert {f"{w}_clusterpbx.conf" for w in loop_words("asterisk.sh", "folder ClusterPBX writes")} == set(ast)
    assert {f"{w}_clusterpbx.conf" for w in loop_words("asterisk.sh", "get one #include")} | {
        "pjsip_clusterpbx.conf"} == set(ast)
    assert "#include clusterpbx/pjsip_clusterpbx.conf" in (LAB / "config" / "asterisk" / "pjsip.conf").read_text()
    fs_words = re.search(r"for f in (directory dialplan[^;]+); do",
                         (LAB / "provision" / "freeswitch.sh").read_text().replace("\\\n", " ")).group(1).split()
    assert {f"{w}_clusterpbx.xml" for w in fs_words} == set(fs)
    # The lab accounts are in them, with the passwords lab_data.py reports (what smoke.sh and softphones use).
    pw = {r[4]: r[6] for r in rows}
    for ext in (env["AST_EXT_A"], env["AST_EXT_B"]):
        assert f"[{ext}-auth]\ntype=auth\nauth_type=userpass\nusername={ext}\npassword={pw[ext]}\n" in \
            ast["pjsip_clusterpbx.conf"]
    assert "[cpbx-ast-support]" in ast["queues_clusterpbx.conf"]
    directory = ET.fromstring(fs["directory_clusterpbx.xml"])
    domain = directory.find("domain")
    assert domain.get("name") == env["FS_DOMAIN"]
    users = {u.get("id"): {p.get("name"): p.get("value") for p in u.iter("param")} for u in domain.iter("user")}
    assert {k: v["password"] for k, v in users.items()} == {env["FS_EXT_A"]: pw[env["FS_EXT_A"]],
                                                             env["FS_EXT_B"]: pw[env["FS_EXT_B"]]}
    tiers = ET.fromstring(fs["callcenter_tiers_clusterpbx.xml"])
    assert len(list(tiers.iter("tier"))) == 2
    for name in fs:
        ET.fromstring(fs[name])
