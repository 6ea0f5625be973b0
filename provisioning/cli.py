"""`clusterpbx provision ...`: print a phone's files, list the fetch log, show or rotate a phone's
provisioning credentials, and re-open the first-boot window after a factory reset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.common import session
from clusterpbx.control import validation
from clusterpbx.control.admin.fetchlog import OUTCOMES
from clusterpbx.control.config import load_settings
from clusterpbx.control.models import Device, ProvisioningFetch, Tenant

from .render import base_url, ensure_credentials, render_all


@contextmanager
def _session() -> Iterator[tuple[Session, str]]:
    """A session (committed at the end, as every command's) and the portal's public URL."""
    settings = load_settings()
    with session(settings) as db:
        yield db, settings.public_url


def _mac(value: str) -> str:
    try:
        return validation.mac_address(value)
    except validation.InvalidValue:
        raise click.BadParameter(f"not a MAC address: {value!r}") from None


def _device(db: Session, mac: str) -> Device:
    device = db.scalar(select(Device).where(Device.mac == _mac(mac)))
    if device is None:
        raise click.ClickException(f"no device with MAC {mac}")
    return device


@click.group()
def provision() -> None:
    """Desk-phone provisioning."""


@provision.command("render")
@click.option("--mac", required=True, help="the phone's MAC address")
def render_cmd(mac: str) -> None:
    """Print every file the phone would fetch, as it would get it now."""
    with _session() as (db, public_url):
        device = _device(db, mac)
        ensure_credentials(device)
        files = render_all(db, device, public_url)
        if not files:
            raise click.ClickException(f"unknown vendor {device.vendor!r}")
        for name, rendered in files.items():
            click.echo(f"===== {name} ({rendered.mimetype})")
            click.echo(rendered.body.decode("utf-8"), nl=False)


@provision.command("fetches")
@click.option("--mac", default=None, help="only this phone")
@click.option("--outcome", type=click.Choice(OUTCOMES), default=None, help="only this outcome")
@click.option("--limit", default=50, show_default=True)
def fetches_cmd(mac: str | None, outcome: str | None, limit: int) -> None:
    """The latest requests to the provisioning address: time (UTC), address, MAC, HTTP result, outcome, file."""
    with _session() as (db, _url):
        query = select(ProvisioningFetch).order_by(ProvisioningFetch.at.desc(), ProvisioningFetch.id.desc())
        if mac:
            query = query.where(ProvisioningFetch.mac == _mac(mac))
        if outcome:
            query = query.where(ProvisioningFetch.outcome == outcome)
        for row in db.scalars(query.limit(limit)):
            click.echo(f"{row.at:%Y-%m-%d %H:%M:%S}  {row.address:<39}  {row.mac or '-':<12}  {row.result}  "
                       f"{row.outcome or '-':<15}  {row.path}")


@provision.command("credentials")
@click.option("--mac", required=True)
@click.option("--rotate", is_flag=True, help="generate new ones (the phone must fetch once through the "
              "first-boot window, see `reopen`)")
def credentials_cmd(mac: str, rotate: bool) -> None:
    """Show the phone's HTTP Digest credentials and its provisioning URL."""
    with _session() as (db, public_url):
        device = _device(db, mac)
        ensure_credentials(device, rotate=rotate)
        if rotate:
            _reopen(device)
        tenant = db.get(Tenant, device.tenant_id)
        assert tenant is not None
        click.echo(f"url:      {base_url(public_url, tenant)}")
        click.echo(f"username: {device.prov_username}")
        click.echo(f"password: {device.prov_password}")


def _reopen(device: Device) -> None:
    overrides = dict(device.overrides or {})
    overrides["_prov"] = {**(overrides.get("_prov") or {}), "armed": False}
    device.overrides = overrides


@provision.command("reopen")
@click.option("--mac", required=True)
def reopen_cmd(mac: str) -> None:
    """Let the phone fetch once more with the tenant key alone (after a factory reset)."""
    with _session() as (db, _url):
        _reopen(_device(db, mac))
        click.echo("the next fetch needs only the tenant key; Digest is required again after it")
