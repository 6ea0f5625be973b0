"""`clusterpbx domain|user|device ...`: tenants, users and phones, through the administration services
the portal's screens and API use (acting as the command line)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click
from sqlalchemy import select

from clusterpbx.control.admin import Actor
from clusterpbx.control.admin.csvio import export_devices, export_users, import_devices, import_users
from clusterpbx.control.config import load_settings
from clusterpbx.control.models import PbxNode

from .common import create, session, tenant_by_domain


@click.group()
def domain() -> None:
    """Tenants (the guide's "Domaine")."""


@domain.command("create")
@click.argument("name")
@click.option("--domain", "domain_name", required=True, help="SIP/portal domain, e.g. acme.example.com")
@click.option("--node", help="name of the PBX node this tenant lives on")
@click.option("--email-domains", default="", help="comma-separated e-mail domains accepted for sign-up")
def domain_create(name: str, domain_name: str, node: str | None, email_domains: str) -> None:
    with session(load_settings()) as s:
        pbx = None
        if node:
            pbx = s.scalar(select(PbxNode).where(PbxNode.name == node))
            if pbx is None:
                raise click.ClickException(f"no node named {node!r}")
        data = {"name": name, "domain": domain_name, "node_id": pbx.id if pbx else None,
                "email_domains": email_domains}
        t = create(s, "tenants", data)
        click.echo(f"created tenant {t.name} ({t.domain})")


@click.group()
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
    with session(load_settings()) as s:
        data = {"tenant_id": tenant_by_domain(s, domain_name).id, "email": email, "first_name": first_name,
                "last_name": last_name, "password": password, "extension": extension, "department": department,
                "language": language, "role": role}
        u = create(s, "users", data)
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


def export_options(command: Any) -> Any:
    """The options of `user export` and `device export`."""
    command = click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
                           help="file to write (default: standard output)")(command)
    return click.option("--domain", "domain_name", required=True)(command)


def _export(export: Any, domain_name: str, output: Any) -> None:
    """Write one tenant's CSV export (users or phones) as the command line."""
    with session(load_settings()) as s:
        output.write(export(s, Actor.command_line(), tenant_by_domain(s, domain_name).id))


@user.command("export")
@export_options
def user_export(domain_name: str, output: Any) -> None:
    """Export the tenant's users as CSV (re-importable with `user import`; no passwords)."""
    _export(export_users, domain_name, output)


def _import(service: Any, csv_file: Any, domain_name: str, dry_run: bool, noun: str) -> None:
    with session(load_settings()) as s:
        report = service(s, Actor.command_line(), tenant_by_domain(s, domain_name).id, csv_file.read(), dry_run)
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


@click.group()
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
@export_options
def device_export(domain_name: str, output: Any) -> None:
    """Export the tenant's phones as CSV (re-importable with `device import`; no passwords)."""
    _export(export_devices, domain_name, output)
