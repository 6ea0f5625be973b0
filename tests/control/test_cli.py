"""The `clusterpbx` command against a real database file."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from clusterpbx.cli import cli
from clusterpbx.control.models import PbxNode, Tenant, User


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CLUSTERPBX_DATABASE_URL", url)
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path / "instance"))
    return url


def run(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result


def test_full_operator_flow(env, tmp_path):
    assert run("db", "upgrade").exit_code == 0
    assert run("db", "upgrade").exit_code == 0  # idempotent
    r = run("node", "add", "ast1", "--kind", "asterisk", "--username", "cpbx", "--secret-stdin", input="s3cret\n")
    assert r.exit_code == 0, r.output
    assert run("domain", "create", "Acme", "--domain", "acme.test", "--node", "ast1").exit_code == 0
    r = run("user", "create", "--domain", "acme.test", "--email", "a@acme.test", "--extension", "301",
            "--password-stdin", input="Passw0rd-X\n")
    assert r.exit_code == 0, r.output
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("email,first_name,extension\nb@acme.test,Bé,302\nbad,X,303\n", encoding="utf-8")
    r = run("user", "import", str(csv_file), "--domain", "acme.test", "--dry-run")
    assert r.exit_code != 0 and "line 3" in r.output
    csv_file.write_text("\ufeffemail,first_name,extension\nb@acme.test,Bé,302\n", encoding="utf-8")
    r = run("user", "import", str(csv_file), "--domain", "acme.test")
    assert r.exit_code == 0 and "imported 1" in r.output
    with Session(create_engine(env)) as s:
        assert s.scalar(select(PbxNode)).secret == "s3cret"
        assert s.scalar(select(Tenant)).node.name == "ast1"
        assert sorted(u.email for u in s.scalars(select(User))) == ["a@acme.test", "b@acme.test"]


def test_errors_are_clear_not_tracebacks(env):
    run("db", "upgrade")
    r = run("domain", "create", "X", "--domain", "acme.test", "--node", "missing")
    assert r.exit_code != 0 and "no node named" in r.output
    r = run("user", "create", "--domain", "nope.test", "--email", "a@nope.test", "--password-stdin", input="x\n")
    assert r.exit_code != 0 and "no tenant" in r.output


def test_control_status_without_daemon(env, monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setenv("CLUSTERPBX_CONTROL_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CLUSTERPBX_CONTROL_TIMEOUT", "1")
    run("db", "upgrade")
    run("node", "add", "ast1", "--kind", "asterisk", "--secret-stdin", input="x\n")
    r = CliRunner().invoke(cli, ["control", "--status"])
    assert r.exit_code == 1
    assert "ast1" in r.output and "disconnected" in r.output and "not reachable" in r.output


def test_every_command_loads_under_its_name_and_the_help_lists_them():
    """The root group loads each command's module when it is named (cli/cli.py `COMMANDS`)."""
    from clusterpbx.cli import COMMANDS

    r = run("--help")
    assert r.exit_code == 0
    listed = [line.split()[0] for line in r.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, name
    assert cli.get_command(ctx, "nope") is None
    assert run("nope").exit_code == 2


# What a command must not load: each costs 0.2 to 1.5 s at every start on a small machine.
HEAVY = ("sqlalchemy", "alembic", "flask", "clusterpbx.web", "clusterpbx.control.daemon", "clusterpbx.sim",
         "apscheduler", "panoramisk", "greenswitch")


@pytest.mark.parametrize(("args", "loaded"), [
    (["web", "--help"], ()),
    (["user", "--help"], ("sqlalchemy",)),
    (["dialplan", "--help"], ("sqlalchemy",)),
])
def test_a_command_loads_only_what_it_uses(args, loaded):
    """`clusterpbx web` execs gunicorn without loading the database layer; `user` and `dialplan` load
    it, but not Alembic, Flask, the daemon or sim/. In a new interpreter, as the console script runs."""
    code = ("import sys; from clusterpbx.cli import cli\n"
            f"try:\n    cli.main({args!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == repr(sorted(loaded))
