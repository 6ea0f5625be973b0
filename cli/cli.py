"""The `clusterpbx` command: run the demo, serve the portal, manage the database, tenants, users, nodes."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clusterpbx.control import apitokens, migrate
from clusterpbx.control.admin import Actor, Invalid, resource
from clusterpbx.control.admin.csvio import export_devices, export_users, import_devices, import_users
from clusterpbx.control.admin.nodes import OPTION_KEYS
from clusterpbx.control.commands import CommandError, ControlClient, channel_address, channel_secret
from clusterpbx.control.config import Settings, load_settings
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import (
    ApiToken,
    CallSettings,
    NodeHealth,
    PbxNode,
    Role,
    SyncState,
    Tenant,
    User,
    utcnow,
)
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node, write_files
from clusterpbx.provisioning.cli import provision

# Imported inside the commands that need them, so that `clusterpbx user add` and the like start quickly
# (each takes 0.5 to 1.5 s to import on a small machine): the daemon with its adapters and scheduler
# (`control`), Flask and every blueprint (`run`), the demo's data, its stand-in for Google and its
# embedded PBX, sim/ (`run`).


def _settings() -> Settings:
    return load_settings()


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    db = factory()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()
        engine.dispose()


def _invalid(exc: Invalid) -> click.ClickException:
    return click.ClickException("; ".join(f"{k}: {v}" if k else v for k, v in exc.errors.items()))


def _tenant(db: Session, domain: str) -> Tenant:
    tenant = db.scalar(select(Tenant).where(Tenant.domain == domain.lower()))
    if tenant is None:
        raise click.ClickException(f"no tenant with domain {domain!r}")
    return tenant


@click.group()
def cli() -> None:
    """ClusterPBX command line."""
    logging.basicConfig(level=os.environ.get("CLUSTERPBX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations."""
    settings = _settings()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    click.echo("database is up to date")


@cli.group()
def domain() -> None:
    """Tenants (the guide's "Domaine")."""


@domain.command("create")
@click.argument("name")
@click.option("--domain", "domain_name", required=True, help="SIP/portal domain, e.g. acme.example.com")
@click.option("--node", help="name of the PBX node this tenant lives on")
@click.option("--email-domains", default="", help="comma-separated e-mail domains accepted for sign-up")
def domain_create(name: str, domain_name: str, node: str | None, email_domains: str) -> None:
    with _session(_settings()) as s:
        pbx = None
        if node:
            pbx = s.scalar(select(PbxNode).where(PbxNode.name == node))
            if pbx is None:
                raise click.ClickException(f"no node named {node!r}")
        data = {"name": name, "domain": domain_name, "node_id": pbx.id if pbx else None,
                "email_domains": email_domains}
        try:
            t = resource("tenants").create(s, Actor.command_line(), data)
        except Invalid as exc:
            raise _invalid(exc) from None
        click.echo(f"created tenant {t.name} ({t.domain})")


@cli.group()
def user() -> None:
    """Users and their extensions."""


@user.command("create")
@click.option("--domain", "domain_name", required=True)
@click.option("--email", required=True)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--extension", default="")
@click.option("--department", default="")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr")
@click.option("--role", type=click.Choice(["user", "tenant_admin", "operator"]), default="user")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_create(domain_name: str, email: str, first_name: str, last_name: str, extension: str, department: str,
                language: str, role: str, password_stdin: bool) -> None:
    """Create a user (the password is prompted for, never taken on the command line)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("Password: ")
    with _session(_settings()) as s:
        data = {"tenant_id": _tenant(s, domain_name).id, "email": email, "first_name": first_name,
                "last_name": last_name, "password": password, "extension": extension, "department": department,
                "language": language, "role": role}
        try:
            u = resource("users").create(s, Actor.command_line(), data)
        except Invalid as exc:
            raise _invalid(exc) from None
        click.echo(f"created user {u.email}")


@user.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--domain", "domain_name", required=True)
@click.option("--dry-run", is_flag=True, help="check every line and report, write nothing")
def user_import(csv_file: Any, domain_name: str, dry_run: bool) -> None:
    """Import users from CSV (the columns of `user export`, plus password, sip_password, vm_pin; only email
    is required). A line whose e-mail exists in the tenant updates that user. Every line is checked first;
    nothing is written if any line is wrong."""
    _import(import_users, csv_file, domain_name, dry_run, "user")


def _export(export: Any, domain_name: str, output: Any) -> None:
    """Write one tenant's CSV export (users or phones) as the command line."""
    with _session(_settings()) as s:
        output.write(export(s, Actor.command_line(), _tenant(s, domain_name).id))


@user.command("export")
@click.option("--domain", "domain_name", required=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="file to write (default: standard output)")
def user_export(domain_name: str, output: Any) -> None:
    """Export the tenant's users as CSV (re-importable with `user import`; no passwords)."""
    _export(export_users, domain_name, output)


def _import(service: Any, csv_file: Any, domain_name: str, dry_run: bool, noun: str) -> None:
    with _session(_settings()) as s:
        report = service(s, Actor.command_line(), _tenant(s, domain_name).id, csv_file.read(), dry_run)
        for line, message in report.by_line():
            click.echo(f"line {line}: {message}", err=True)
        if report.errors:
            s.rollback()
            raise click.ClickException(f"{len(report.by_line())} line(s) in error; nothing was imported")
        counts = f"{report.created} to create, {report.updated} to update, {report.unchanged} unchanged"
        if dry_run:
            click.echo(f"dry run: every line is valid ({counts}); nothing was written")
        else:
            click.echo(f"imported {report.created + report.updated} {noun}(s): {report.created} created, "
                       f"{report.updated} updated, {report.unchanged} unchanged")


@cli.group()
def device() -> None:
    """Desk phones (devices)."""


@device.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--domain", "domain_name", required=True)
@click.option("--dry-run", is_flag=True, help="check every line and report, write nothing")
def device_import(csv_file: Any, domain_name: str, dry_run: bool) -> None:
    """Import phones from CSV (columns: mac, vendor, model, label, owner (user e-mail), prov_username,
    prov_password). A line whose MAC exists in the tenant updates that phone. Nothing is written if any
    line is wrong."""
    _import(import_devices, csv_file, domain_name, dry_run, "phone")


@device.command("export")
@click.option("--domain", "domain_name", required=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="file to write (default: standard output)")
def device_export(domain_name: str, output: Any) -> None:
    """Export the tenant's phones as CSV (re-importable with `device import`; no passwords)."""
    _export(export_devices, domain_name, output)


@cli.group()
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
    with _session(_settings()) as s:
        try:
            n = resource("nodes").create(s, Actor.command_line(), data)
        except Invalid as exc:
            raise _invalid(exc) from None
        click.echo(f"added {n.kind} node {n.name} at {n.host}:{n.port}")


@cli.group()
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
    with _session(_settings()) as s:
        files = render_node(node_snapshot(s, _node(s, node_name)))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for path in write_files(files, out_dir):
        click.echo(f"wrote {path}")
    click.echo(f"{len(files)} file(s) for node {node_name} in {out_dir}")


@dialplan.command("apply")
@click.option("--node", "node_name", required=True)
def dialplan_apply(node_name: str) -> None:
    """Write the files into the node's configured folder and ask the PBX (through the daemon) to reload."""
    settings = _settings()
    with _session(settings) as s:
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


cli.add_command(provision)


# ---- REST API tokens ------------------------------------------------------------------------

@cli.group("api")
def api_group() -> None:
    """REST API tokens (docs/api.md)."""


@api_group.group("token")
def api_token() -> None:
    """Create, list and revoke API tokens."""


@api_token.command("create")
@click.option("--name", required=True, help="what the token is for")
@click.option("--user", "email", help="a personal token acting as this user (e-mail)")
@click.option("--integration", "integration", help="an integration token's name (no user)")
@click.option("--tenant", "domain_name", help="the integration token's tenant (domain)")
@click.option("--role", type=click.Choice(["tenant_admin", "operator"]), help="the integration token's role")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="expire after this many days")
def api_token_create(name: str, email: str | None, integration: str | None, domain_name: str | None,
                     role: str | None, expires_days: int | None) -> None:
    """Print a new token once (only its hash is stored)."""
    if bool(email) == bool(integration):
        raise click.UsageError("give either --user EMAIL or --integration NAME")
    expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
    with _session(_settings()) as s:
        try:
            if email:
                u = s.scalar(select(User).where(User.email == email.strip().lower()))
                if u is None:
                    raise click.ClickException(f"no user with e-mail {email!r}")
                _row, secret = apitokens.create_user_token(s, u, name, expires)
            else:
                if role is None:
                    raise click.UsageError("an integration token needs --role tenant_admin|operator")
                tenant = _tenant(s, domain_name) if domain_name else None
                label = f"{integration}: {name}" if integration != name else name
                _row, secret = apitokens.create_integration_token(s, label, Role(role), tenant, expires)
        except apitokens.TokenRefused as exc:
            raise click.ClickException(exc.message) from None
    click.echo(secret)


@api_token.command("list")
def api_token_list() -> None:
    """Every token: id, prefix, name, who it acts as, state."""
    with _session(_settings()) as s:
        for t in apitokens.all_tokens(s):
            if t.user_id is not None:
                u = s.get(User, t.user_id)
                who = f"user {u.email if u else t.user_id}"
            else:
                tenant = s.get(Tenant, t.tenant_id) if t.tenant_id else None
                who = f"integration {t.role.value if t.role else '?'}" + (f" in {tenant.domain}" if tenant else "")
            state = "revoked" if t.revoked_at else ("active" if apitokens.is_usable(t) else "expired")
            click.echo(f"{t.id}\t{t.prefix}...\t{t.name}\t{who}\t{state}")


@api_token.command("revoke")
@click.argument("token_id", type=int)
def api_token_revoke(token_id: int) -> None:
    with _session(_settings()) as s:
        t = s.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
        if t is None:
            raise click.ClickException(f"no token with id {token_id}")
        apitokens.revoke(s, t)
    click.echo(f"token {token_id} revoked")


@cli.command("web")
@click.option("--bind", default="127.0.0.1:8000")
@click.option("--workers", type=int, default=2)
@click.option("--threads", type=int, default=16, help="threads per worker for the Flask pages")
def web(bind: str, workers: int, threads: int) -> None:
    """Serve the portal with gunicorn (production)."""
    os.execvp(sys.executable, web_argv(bind, workers, threads))  # noqa: S606 (an argv list, no shell)


def web_argv(bind: str, workers: int, threads: int) -> list[str]:
    """gunicorn's asyncio (ASGI) worker: the Flask pages run on `threads` threads per worker, while an open
    "Appels en cours" page is a parked coroutine that holds no thread (web/asgi.py, docs/live.md)."""
    os.environ["CLUSTERPBX_WEB_THREADS"] = str(threads)
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
            "--worker-class", "asgi", "--worker-connections", "2000", "--graceful-timeout", "5", "--no-control-socket",
            "--access-logfile", "-", "clusterpbx.web.asgi:make_app()"]


def _daemon(settings: Settings) -> Any:
    from clusterpbx.control.daemon import ControlDaemon

    host, port = channel_address(settings)
    factory = make_session_factory(make_engine(settings.database_url))
    return ControlDaemon(factory, channel_secret(settings), host=host, port=port, timeout=settings.control_timeout,
                         cluster=settings.control_cluster, advertise=settings.control_advertise,
                         node_lease_seconds=settings.control_node_lease)


def start_daemon_thread(settings: Settings) -> Any:
    """Run the control daemon on its own asyncio loop in a background thread (the demo's way)."""
    daemon = _daemon(settings)
    ready = threading.Event()

    def main() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(daemon.start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=main, name="control-daemon", daemon=True).start()
    ready.wait(30)
    return daemon


@cli.command("control")
@click.option("--status", is_flag=True, help="print the running daemon's view of each node and exit")
def control(status: bool) -> None:
    """The control daemon: PBX connections, live state, call records, desired state, jobs."""
    settings = _settings()
    if settings.control_cluster:
        from clusterpbx.control.cluster import refusal

        refused = refusal(settings.database_url)
        if refused:
            click.echo(f"Error: {refused}", err=True)
            raise SystemExit(2)
    if status:
        _print_status(settings)
        if settings.control_cluster:
            _print_cluster_status(settings)
        try:
            reply = ControlClient.from_settings(settings).call("ping")
            click.echo(f"daemon: running ({reply['holder']}, jobs leader: {reply['leader']})")
        except CommandError as exc:
            click.echo(f"daemon: not reachable ({exc})")
            raise SystemExit(1) from None
        return
    from clusterpbx.control.daemon import run_forever

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_forever(_daemon(settings), stop)

    asyncio.run(main())


def _print_status(settings: Settings) -> None:
    with _session(settings) as s:
        pending = s.scalar(select(func.count()).select_from(CallSettings)
                           .where(CallSettings.sync_state == SyncState.PENDING))
        for n in s.scalars(select(PbxNode).order_by(PbxNode.name)):
            h = s.get(NodeHealth, n.id)
            state = "connected" if h and h.connected else "disconnected"
            since = h.since.isoformat(timespec="seconds") if h and h.since else "-"
            last = h.last_event_at.isoformat(timespec="seconds") if h and h.last_event_at else "-"
            click.echo(f"{n.name:20} {n.kind:10} {n.host}:{n.port:<6} {state:12} since {since}  last event {last}")
        click.echo(f"pending call-setting changes: {pending}")


def _print_cluster_status(settings: Settings) -> None:
    """Which daemon owns which node (cluster mode), and the live daemons."""
    from clusterpbx.control.cluster import ownership

    with _session(settings) as s:
        nodes, live = ownership(s, settings.control_node_lease)
    click.echo("node owners:")
    for n in nodes:
        if n.expires_in is None:
            click.echo(f"  {n.node:20} no owner (never leased)")
        elif n.expires_in < 0:
            click.echo(f"  {n.node:20} no owner (lease of {n.holder} lapsed {-n.expires_in:.0f} s ago)")
        else:
            click.echo(f"  {n.node:20} {n.holder} at {n.address or '?'} (lease expires in {n.expires_in:.1f} s)")
    click.echo(f"live daemons: {len(live)}")
    for holder, address, ago in live:
        click.echo(f"  {holder} at {address} (seen {ago:.1f} s ago)")


def demo_portal_config(settings: Settings, host: str, port: int, oidc_port: int) -> dict[str, Any]:
    """create_app's configuration for the demo portal; starts the demo's OpenID provider standing in for
    Google unless a real Google client is configured."""
    # Plain HTTP on loopback for the demo: a Secure cookie would not come back over http://.
    overrides: dict[str, Any] = {"session_cookie_secure": False}
    if settings.public_url == Settings.public_url:  # not configured: where this demo serves
        overrides["public_url"] = f"http://{host}:{port}"
    config: dict[str, Any] = {"SETTINGS": overrides}
    if not settings.google_client_id:
        # "Connexion avec Gmail" against the demo's own OpenID provider (Google's code path, another
        # discovery URL and client), labelled as such on the login page.
        from .demo_oidc import DemoOidcProvider

        public = str(overrides.get("public_url", settings.public_url)).rstrip("/")
        provider = DemoOidcProvider(public + "/login/google/callback", port=oidc_port).start()
        overrides.update(provider.portal_settings())
        config["DEMO_OIDC_PROVIDER"] = provider.url
        config["DEMO_OIDC"] = provider
        click.echo(f"Demo OpenID provider standing in for Google on {provider.url}/")
    return config


@cli.command("run")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8000)
@click.option("--ami-port", type=int, default=5038)
@click.option("--esl-port", type=int, default=8021)
@click.option("--oidc-port", type=int, default=8001,
              help="the demo's local OpenID provider standing in for Google (loopback)")
def run(host: str, port: int, ami_port: int, esl_port: int, oidc_port: int) -> None:
    """The demo: database, demo company, embedded PBX and portal, in one command."""
    from clusterpbx.control.demo import seed_demo, seed_lived_in
    from clusterpbx.web import create_app

    settings = _settings()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    spool = str(Path(settings.instance_path) / "spool")
    with _session(settings) as s:
        tenant = seed_demo(s, ami_port=ami_port, esl_port=esl_port, spool_path=spool)
        seed_lived_in(s, tenant)
    from .demo_runtime import start_embedded_pbx

    with _session(settings) as s:
        sim = start_embedded_pbx(s, ami_port=ami_port, esl_port=esl_port, spool=spool)
    daemon = start_daemon_thread(settings)
    if sim is not None:
        from .demo_runtime import announce_voicemail_when_connected

        announce_voicemail_when_connected(sim, daemon)
    app = create_app(demo_portal_config(settings, host, port, oidc_port))
    click.echo(f"ClusterPBX demo portal on http://{host}:{port}/ (logins in README.md)")
    from clusterpbx.web.asgi import serve

    serve(app, host, port)  # as `clusterpbx web` serves it: live pages hold no thread (docs/live.md)
