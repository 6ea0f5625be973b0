"""`clusterpbx api token create|list|revoke`: REST API tokens (docs/api.md)."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from clusterpbx.control import apitokens
from clusterpbx.control.config import load_settings
from clusterpbx.control.models import ApiToken, Role, Tenant, User, utcnow

from .common import session, tenant_by_domain


@click.group("api")
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
    with session(load_settings()) as s:
        try:
            if email:
                u = s.scalar(select(User).where(User.email == email.strip().lower()))
                if u is None:
                    raise click.ClickException(f"no user with e-mail {email!r}")
                _row, secret = apitokens.create_user_token(s, u, name, expires)
            else:
                if role is None:
                    raise click.UsageError("an integration token needs --role tenant_admin|operator")
                tenant = tenant_by_domain(s, domain_name) if domain_name else None
                label = f"{integration}: {name}" if integration != name else name
                _row, secret = apitokens.create_integration_token(s, label, Role(role), tenant, expires)
        except apitokens.TokenRefused as exc:
            raise click.ClickException(exc.message) from None
    click.echo(secret)


@api_token.command("list")
def api_token_list() -> None:
    """Every token: id, prefix, name, who it acts as, state."""
    with session(load_settings()) as s:
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
    with session(load_settings()) as s:
        t = s.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
        if t is None:
            raise click.ClickException(f"no token with id {token_id}")
        apitokens.revoke(s, t)
    click.echo(f"token {token_id} revoked")
