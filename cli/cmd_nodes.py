"""`clusterpbx node add` and `clusterpbx dialplan render|apply`: PBX nodes and their generated
configuration."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.control.admin.nodes import OPTION_KEYS
from clusterpbx.control.commands import CommandError, ControlClient
from clusterpbx.control.config import load_settings
from clusterpbx.control.models import PbxNode
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node, write_files

from .common import create, session


@click.group()
def node() -> None:
    """PBX nodes."""


@node.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["asterisk", "freeswitch"]), required=True)
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int)
@click.option("--username", default="", help="AMI username (Asterisk)")
@click.option("--secret-stdin", is_flag=True, help="read the AMI secret / ESL password from standard input")
@click.option("--spool", default="", help="voicemail spool path as seen from the control daemon")
@click.option("--sip-domain", default="")
@click.option("--config-dir", default="", help="where `clusterpbx dialplan apply` writes the generated files")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="adapter option: context, voicemail_context, cdr_csv, timezone, json_cdr_error_dir")
def node_add(name: str, kind: str, host: str, port: int | None, username: str, secret_stdin: bool, spool: str,
             sip_domain: str, config_dir: str, options: tuple[str, ...]) -> None:
    for item in options:
        key, sep, _value = item.partition("=")
        if not sep or key not in OPTION_KEYS:
            raise click.ClickException(f"--option takes KEY=VALUE with KEY one of {', '.join(sorted(OPTION_KEYS))}")
    secret = sys.stdin.readline().rstrip("\n") if secret_stdin else getpass.getpass("Secret: ")
    data = {"name": name, "kind": kind, "host": host, "port": port, "username": username, "secret": secret,
            "spool_path": spool, "sip_domain": sip_domain, "config_dir": config_dir, "options": "\n".join(options)}
    with session(load_settings()) as s:
        n = create(s, "nodes", data)
        click.echo(f"added {n.kind} node {n.name} at {n.host}:{n.port}")


@click.group()
def dialplan() -> None:
    """Generated PBX configuration (Asterisk .conf files, FreeSWITCH XML)."""


def _node(s: Session, name: str) -> PbxNode:
    node = s.scalar(select(PbxNode).where(PbxNode.name == name))
    if node is None:
        raise click.ClickException(f"no node named {name!r}")
    return node


@dialplan.command("render")
@click.option("--node", "node_name", required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
def dialplan_render(node_name: str, out_dir: str) -> None:
    """Write the node's generated files into OUT (only ClusterPBX's own file names)."""
    with session(load_settings()) as s:
        files = render_node(node_snapshot(s, _node(s, node_name)))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for path in write_files(files, out_dir):
        click.echo(f"wrote {path}")
    click.echo(f"{len(files)} file(s) for node {node_name} in {out_dir}")


@dialplan.command("apply")
@click.option("--node", "node_name", required=True)
def dialplan_apply(node_name: str) -> None:
    """Write the files into the node's configured folder and ask the PBX (through the daemon) to reload."""
    settings = load_settings()
    with session(settings) as s:
        node = _node(s, node_name)
        if not node.config_dir:
            raise click.ClickException(f"node {node_name} has no configuration folder (config_dir) set")
        files = render_node(node_snapshot(s, node))
        target = node.config_dir
    Path(target).mkdir(parents=True, exist_ok=True)
    changed = write_files(files, target)
    click.echo(f"{len(changed)} file(s) changed in {target}")
    if not changed:
        click.echo("nothing to reload")
        return
    try:
        ControlClient.from_settings(settings).call("reload_node", node=node_name, files=[p.name for p in changed])
        click.echo(f"node {node_name} reloaded")
    except CommandError as exc:
        raise click.ClickException(f"files written, but the reload failed: {exc}") from None
