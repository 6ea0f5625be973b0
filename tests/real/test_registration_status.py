"""Registration and the phone's status on the home page, against the real PBXs (issue 19: "registration
and phone status"), with two companies on the node that both have a 4731: the second company's phone
(SIP account `4731-t<id>`) registers with the configuration the portal generated for the node, the control
daemon projects it, and that company's user sees "Téléphone connecté" while the first company's 4731 stays
disconnected; the phone unregisters and the status follows."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clusterpbx.control.accounts import add_node
from clusterpbx.control.models import Extension, Registration
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node, write_files
from tests.daemon_harness import running_daemon
from tests.real.conftest import until

pytestmark = pytest.mark.real
SECRET = "real-regs-s3cret"  # noqa: S105 - the test daemon's command-channel secret
PHONE_PORT = 25551  # below the ephemeral range, apart from the other real tests' phones
REGISTER_XML = Path(__file__).resolve().parents[2] / "vagrant" / "sipp" / "register.xml"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_a_second_companys_phone_registers_and_its_user_sees_it(kind, request, sipp, app, client, auth, engine, db,
                                                                world, tmp_path):
    env: dict[str, str] = request.getfixturevalue(f"{kind}_lab")
    if kind == "asterisk":
        node = add_node(db, "lab-asterisk", "asterisk", env["CPBX_LAB_AMI_HOST"], int(env["CPBX_LAB_AMI_PORT"]),
                        env["CPBX_LAB_AMI_USER"], env["CPBX_LAB_AMI_SECRET"])
        config_dir, sip = env["CPBX_LAB_AST_CONFIG_DIR"], env["CPBX_LAB_AST_SIP"]
    else:
        node = add_node(db, "lab-freeswitch", "freeswitch", env["CPBX_LAB_ESL_HOST"], int(env["CPBX_LAB_ESL_PORT"]),
                        secret=env["CPBX_LAB_ESL_PASSWORD"], sip_domain="127.0.0.1")
        config_dir, sip = env["CPBX_LAB_FS_CONFIG_DIR"], env["CPBX_LAB_FS_SIP"]
    db.commit()
    first, second = world.tenant("regsone.test"), world.tenant("regstwo.test")
    first.node_id = second.node_id = node.id
    db.commit()
    theirs, mine = world.user(first, extension="4731"), world.user(second, extension="4731")
    account = db.scalar(select(Extension).where(Extension.user_id == mine.id))
    assert account is not None and account.sip_username == f"4731-t{second.id}"
    # the PBX side, as `clusterpbx dialplan apply` writes it
    changed = [p.name for p in write_files(render_node(node_snapshot(db, node)), config_dir)]
    domain = "127.0.0.1" if kind == "asterisk" else "regstwo.test"

    def register(expires: int) -> None:
        log = tmp_path / f"register-{expires}.log"
        done = subprocess.run([sipp, "-sf", str(REGISTER_XML), "-i", "127.0.0.1", "-p", str(PHONE_PORT), "-m", "1",
                               "-timeout_error", "-au", account.sip_username, "-ap", account.sip_password,
                               "-set", "user", account.sip_username, "-set", "domain", domain, "-set", "uas_port",
                               str(PHONE_PORT), "-set", "expires", str(expires), "-nostdin", "-timeout", "20s",
                               "-trace_msg", "-message_file", str(log), sip],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{done.stdout[-1500:]}\n{log.read_text()[-3000:] if log.exists() else ''}"

    def status_of(user: Any) -> str:
        auth.login(user.email)
        page = client.get("/home").data.decode()
        auth.logout()
        return page

    def registered() -> bool | None:
        db.expire_all()
        row = db.scalar(select(Registration).where(Registration.node_id == node.id,
                                                   Registration.endpoint == account.sip_username))
        return None if row is None else row.registered

    with running_daemon(app, engine, SECRET) as (daemon, on_loop):
        runner = next(iter(daemon.nodes.values()))
        until("connected and resynced", lambda: runner.port.connected and runner.resynced.is_set(), 60)
        on_loop(runner.port.reload_configuration(changed))
        register(120)
        try:
            until("the registration projected", lambda: registered() is True)
            assert "status-registered" in status_of(mine)
            assert "status-registered" not in status_of(theirs)
        finally:
            register(0)
        until("the unregistration projected", lambda: registered() is not True)
        assert "status-registered" not in status_of(mine)
