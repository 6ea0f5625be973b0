"""The `clusterpbx` command: run the demo, serve the portal, manage the database, tenants, users, nodes.

Each command lives in a module of its own (`cli/cmd_*.py`, `provisioning/cli.py`), loaded only when
that command runs (click's lazy loading of subcommands): `clusterpbx web` starts gunicorn without
loading the database layer, `clusterpbx user create` loads neither Alembic, Flask, the daemon nor
sim/. On this 2-core machine that is a second or more per command, which the lab's provisioning
scripts (some twenty commands) and every service start pay. `clusterpbx --help` loads them all."""

from __future__ import annotations

import importlib
import logging
import os

import click

# Command name -> "module:object". tests/control/test_cli.py checks that each one loads and is named so.
COMMANDS = {
    "api": "clusterpbx.cmd_api:api_group",
    "control": "clusterpbx.cmd_control:control",
    "db": "clusterpbx.cmd_db:db",
    "device": "clusterpbx.cmd_accounts:device",
    "dialplan": "clusterpbx.cmd_nodes:dialplan",
    "domain": "clusterpbx.cmd_accounts:domain",
    "node": "clusterpbx.cmd_nodes:node",
    "provision": "clusterpbx.provisioning.cli:provision",
    "run": "clusterpbx.cmd_run:run",
    "user": "clusterpbx.cmd_accounts:user",
    "web": "clusterpbx.cmd_web:web",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when named (click's documented "lazy loading" pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, name = COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(module), name)
        if not isinstance(command, click.Command):
            raise TypeError(f"{COMMANDS[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup)
def cli() -> None:
    """ClusterPBX command line."""
    logging.basicConfig(level=os.environ.get("CLUSTERPBX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
