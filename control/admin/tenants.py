"""Tenants (the guide's "Domaine"): name, domains, PBX node, password and PIN policies, sign-in
methods, providers, retention. Only operators create or delete tenants; a tenant admin sees and
edits their own tenant except the operator-only fields."""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import zoneinfo
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .. import sms, urlpolicy, validation, webconf
from ..models import PbxNode, Tenant, User
from . import Actor, Field, FieldType, Invalid, register
from ._base import CONTROL_CHARACTERS, N_, UNKNOWN_REFERENCE, ModelResource, tenant_domains

DOMAIN_RE = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")

INVALID_DOMAIN = N_("Enter a domain name such as example.com.")
DOMAIN_TAKEN = N_("A tenant with this domain already exists.")
INVALID_EMAIL_DOMAINS = N_("Enter domain names separated by commas.")
EMAIL_DOMAIN_TAKEN = N_("One of these e-mail domains belongs to another tenant.")
DOMAIN_USED_ELSEWHERE = N_("Users of another tenant have e-mail addresses in this domain.")
DOMAIN_IS_OTHER_EMAIL_DOMAIN = N_("Another tenant accepts e-mail addresses in this domain.")
INVALID_TIMEZONE = N_("Unknown time zone.")
INVALID_COUNTRY = N_("Enter a two-letter country code.")
INVALID_PREFIX = N_("Use digits, * and # only.")
INVALID_NETWORKS = N_("Enter networks such as 192.0.2.0/24, separated by commas.")
MIN_ABOVE_MAX = N_("The minimum is larger than the maximum.")
NUMERIC_BUT_LETTERS = N_("A numeric-only password cannot require letters or special characters.")
INVALID_TRUNK = N_("Enter the name of a PJSIP endpoint (Asterisk) or a gateway (FreeSWITCH): letters, digits, "
                   "'-', '_' and '.', starting with a letter or a digit, 64 characters at most, no spaces.")

URL_MESSAGES = {
    "scheme": N_("Provider addresses must start with https:// (http:// only where the operator's configuration "
                 "allows it)."),
    "credentials": N_("Do not put a user name or password in a provider address; use the settings meant for "
                      "them."),
    "private": N_("Provider addresses must be on the internet: loopback, link-local and private addresses are "
                  "refused unless the operator's configuration allows them."),
    "malformed": N_("Enter a valid provider address such as https://api.example.com."),
}
# Settings keys holding a URL the portal or the control daemon connects to, or shows as a link.
URL_KEY_RE = re.compile(r"(url|.*_url|.*_base)")

SMS_PROVIDERS = sms.PROVIDERS
WEBCONF_PROVIDERS = webconf.PROVIDERS
INVALID_SETTINGS = N_("Write one key=value per line; keys are lowercase letters, digits and '_'.")
INVALID_SMS_TRUNK = N_("trunk: enter a PJSIP endpoint or gateway name (letters, digits, '.', '-', '_'), or a SIP "
                       "host with its port such as trunk.example.com:5080.")
# Provider settings are edited as "key=value" lines. Values of keys naming a secret are never shown
# back: they read as MASK, and a line left at MASK keeps the stored value.
MASK = "********"
SECRET_KEY_RE = re.compile(r"secret|token|password")
SETTINGS_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")

F = FieldType


def _b(name: str, label: str) -> Field:
    return Field(name, F.BOOLEAN, label)


@register
class Tenants(ModelResource):
    name = "tenants"
    label = N_("Tenants")
    model = Tenant
    tenant_scoped = False
    operator_only = True
    search_columns = ("name", "domain")
    sort_columns = ("name", "domain", "id", "created_at")
    fields = (
        Field("name", F.STRING, N_("Name"), required=True, max_length=120),
        Field("domain", F.STRING, N_("Domain"), required=True, max_length=253, operator_only=True,
              help=N_("SIP and portal domain, e.g. acme.example.com")),
        Field("email_domains", F.TEXT, N_("E-mail domains"), operator_only=True,
              help=N_("Comma-separated domains accepted for sign-up")),
        Field("node_id", F.REFERENCE, N_("PBX node"), ref="nodes", operator_only=True),
        Field("outbound_trunk", F.STRING, N_("Outbound trunk"), max_length=64, operator_only=True,
              help=N_("PJSIP endpoint (Asterisk) or gateway (FreeSWITCH) through which calls to outside numbers "
                      "go out, within each user's allowed prefixes; empty: internal calls only")),
        Field("timezone", F.STRING, N_("Time zone"), max_length=64),
        Field("default_country", F.STRING, N_("Default country"), max_length=2),
        Field("default_language", F.CHOICE, N_("Default language"), choices=("fr", "en")),
        Field("pw_min_length", F.INTEGER, N_("Password minimum length"), minimum=1, maximum=128),
        Field("pw_max_length", F.INTEGER, N_("Password maximum length"), minimum=1, maximum=256),
        _b("pw_may_be_empty", N_("Password may be empty")),
        _b("pw_numeric_only", N_("Password numeric only")),
        _b("pw_require_digit", N_("Password requires a digit")),
        _b("pw_require_lower", N_("Password requires a lowercase letter")),
        _b("pw_require_upper", N_("Password requires an uppercase letter")),
        _b("pw_require_special", N_("Password requires a special character")),
        Field("vm_pin_min_length", F.INTEGER, N_("Voicemail PIN minimum length"), minimum=4, maximum=20),
        Field("vm_pin_max_length", F.INTEGER, N_("Voicemail PIN maximum length"), minimum=4, maximum=20),
        _b("allow_password_login", N_("Sign-in with a password")),
        _b("allow_google_login", N_("Sign-in with Google")),
        _b("allow_self_signup", N_("Self sign-up")),
        _b("auto_approve_signup", N_("Approve sign-ups automatically")),
        Field("conference_prefix", F.STRING, N_("Conference prefix"), max_length=8),
        _b("record_calls", N_("Record calls")),
        _b("allow_recording_download", N_("Allow recording download")),
        Field("sms_provider", F.CHOICE, N_("SMS provider"), choices=SMS_PROVIDERS, operator_only=True),
        Field("sms_monthly_quota", F.INTEGER, N_("Monthly SMS quota"), minimum=0, maximum=1_000_000,
              operator_only=True),
        Field("sms_config", F.TEXT, N_("SMS provider settings"), operator_only=True, max_length=4000,
              help=N_("One key=value per line (see docs/sms.md); secrets show as ******** and stay "
                      "unchanged while left so")),
        Field("webconf_provider", F.CHOICE, N_("Web conference provider"), choices=WEBCONF_PROVIDERS,
              operator_only=True),
        Field("webconf_config", F.TEXT, N_("Web conference settings"), operator_only=True, max_length=4000,
              help=N_("One key=value per line (see docs/webconf.md); secrets show as ******** and stay "
                      "unchanged while left so")),
        Field("cdr_retention_days", F.INTEGER, N_("Call record retention (days)"), minimum=1, maximum=3650),
        Field("voicemail_retention_days", F.INTEGER, N_("Voicemail retention (days)"), minimum=1, maximum=3650),
        Field("provisioning_networks", F.TEXT, N_("Provisioning networks"),
              help=N_("Comma-separated networks allowed to fetch phone configurations (empty: any)")),
        Field("provisioning_key", F.STRING, N_("Provisioning key"), read_only=True),
        Field("created_at", F.STRING, N_("Created"), read_only=True),
    )

    def scope(self, stmt: Select[Any], actor: Actor) -> Select[Any]:
        if actor.is_operator:
            return stmt
        return stmt.where(Tenant.id == actor.tenant_id)

    def tenant_of(self, obj: Any) -> int | None:
        return int(obj.id)

    def audit_tenant_after_delete(self, tenant_id: int | None) -> int | None:
        return None  # the tenant's rows go with it; the entry of its deletion stays, operator-level

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        values = super().clean(db, actor, data, obj)
        errors: dict[str, str] = {}
        if "domain" in values:
            domain = values["domain"].lower()
            if not DOMAIN_RE.fullmatch(domain):
                errors["domain"] = INVALID_DOMAIN
            else:
                values["domain"] = domain
        if "email_domains" in values:
            parts = [p.strip().lower() for p in re.split(r"[,\s]+", values["email_domains"]) if p.strip()]
            if any(not DOMAIN_RE.fullmatch(p) for p in parts):
                errors["email_domains"] = INVALID_EMAIL_DOMAINS
            values["email_domains"] = ",".join(dict.fromkeys(parts))
        if values.get("timezone"):
            try:
                zoneinfo.ZoneInfo(values["timezone"])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                errors["timezone"] = INVALID_TIMEZONE
        elif "timezone" in values:
            errors["timezone"] = INVALID_TIMEZONE
        if "default_country" in values:
            values["default_country"] = values["default_country"].upper()
            if not re.fullmatch(r"[A-Z]{2}", values["default_country"]):
                errors["default_country"] = INVALID_COUNTRY
        if "outbound_trunk" in values:
            raw = data.get("outbound_trunk")
            if isinstance(raw, str) and validation.has_control_chars(raw):
                errors["outbound_trunk"] = CONTROL_CHARACTERS  # a line break is refused, not trimmed away
            elif values["outbound_trunk"]:
                try:
                    validation.trunk_name(values["outbound_trunk"])
                except validation.InvalidValue:
                    errors["outbound_trunk"] = INVALID_TRUNK
        if "conference_prefix" in values and not re.fullmatch(r"[0-9*#]{1,8}", values["conference_prefix"]):
            errors["conference_prefix"] = INVALID_PREFIX
        if "provisioning_networks" in values:
            nets = [p.strip() for p in re.split(r"[,\s]+", values["provisioning_networks"]) if p.strip()]
            try:
                values["provisioning_networks"] = ",".join(str(ipaddress.ip_network(n, strict=False)) for n in nets)
            except ValueError:
                errors["provisioning_networks"] = INVALID_NETWORKS
        for name in ("sms_config", "webconf_config"):
            if name in values:
                try:
                    values[name] = parse_settings(values[name], _settings_dict(getattr(obj, name, None)))
                except ValueError:
                    errors[name] = INVALID_SETTINGS
                    continue
                bad = url_problem(values[name])
                if bad:
                    errors[name] = URL_MESSAGES[bad]
                elif name == "sms_config" and sms.config_problems("pbx", values[name]):
                    errors[name] = INVALID_SMS_TRUNK  # the `pbx` provider's trunk (docs/sms.md)
        if errors:
            raise Invalid(errors)
        return values

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        errors: dict[str, str] = {}

        def merged(key: str) -> Any:
            if key in values:
                return values[key]
            return getattr(obj, key) if obj is not None else Tenant.__table__.c[key].default.arg

        if merged("pw_min_length") > merged("pw_max_length"):
            errors["pw_min_length"] = MIN_ABOVE_MAX
        if merged("vm_pin_min_length") > merged("vm_pin_max_length"):
            errors["vm_pin_min_length"] = MIN_ABOVE_MAX
        if merged("pw_numeric_only") and (merged("pw_require_lower") or merged("pw_require_upper")
                                          or merged("pw_require_special")):
            errors["pw_numeric_only"] = NUMERIC_BUT_LETTERS
        if "domain" in values:
            other = db.scalar(select(Tenant).where(Tenant.domain == values["domain"]))
            if other is not None and other is not obj:
                errors["domain"] = DOMAIN_TAKEN
            elif obj is None or values["domain"] != obj.domain:
                # A tenant's domain is one of its e-mail domains (users.py): not one another tenant lists.
                others = db.scalars(select(Tenant).where(
                    Tenant.id != (obj.id if obj is not None else -1),
                    Tenant.email_domains.contains(values["domain"], autoescape=True)))
                if any(values["domain"] in tenant_domains(t) for t in others):
                    errors["domain"] = DOMAIN_IS_OTHER_EMAIL_DOMAIN
        if values.get("node_id") is not None and db.get(PbxNode, values["node_id"]) is None:
            errors["node_id"] = UNKNOWN_REFERENCE
        if values.get("email_domains"):
            # An address's domain picks the tenant a sign-up lands in: one tenant per domain.
            wanted = set(values["email_domains"].split(","))
            for other in db.scalars(select(Tenant).where(Tenant.id != (obj.id if obj is not None else -1))):
                theirs = {d.strip().lower() for d in (other.email_domains or "").split(",") if d.strip()}
                if wanted & (theirs | {other.domain}):
                    errors["email_domains"] = EMAIL_DOMAIN_TAKEN
                    break
        # A domain newly claimed must not hold addresses of another tenant's users (an address in a
        # tenant's domain belongs to that tenant: see users.py).
        for key in ("domain", "email_domains"):
            if key in values and key not in errors:
                claimed = {d for d in values[key].split(",") if d}
                added = claimed - (tenant_domains(obj) if obj is not None else set())
                if any(self._users_elsewhere(db, d, obj) for d in sorted(added)):
                    errors[key] = DOMAIN_USED_ELSEWHERE
        if errors:
            raise Invalid(errors)

    @staticmethod
    def _users_elsewhere(db: Session, domain: str, obj: Any | None) -> bool:
        pattern = "%@" + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = select(User.id).where(func.lower(User.email).like(pattern, escape="\\"))
        if obj is not None:
            stmt = stmt.where(User.tenant_id != obj.id)
        return db.scalar(stmt.limit(1)) is not None

    def build(self, db: Session, actor: Actor, values: dict[str, Any]) -> Any:
        tenant = Tenant(provisioning_key=secrets.token_urlsafe(24))
        values = dict(values)
        if not values.get("email_domains"):
            values["email_domains"] = values["domain"]
        self.apply(db, actor, tenant, values)
        db.add(tenant)
        return tenant

    def serialize(self, obj: Any) -> dict[str, Any]:
        out = super().serialize(obj)
        out["created_at"] = obj.created_at.isoformat(timespec="seconds") if obj.created_at else None
        for name in ("sms_config", "webconf_config"):
            out[name] = format_settings(_settings_dict(getattr(obj, name)))
        return out

    def current_value(self, obj: Any, f: Field) -> Any:
        if f.name in ("sms_config", "webconf_config"):
            return format_settings(_settings_dict(getattr(obj, f.name)))
        return super().current_value(obj, f)

    def audit_view(self, obj: Any) -> dict[str, Any]:
        out = self.serialize(obj)
        out.pop("provisioning_key", None)
        out.pop("created_at", None)
        return out


def _settings_dict(value: Any) -> dict[str, Any]:
    """Stored settings as a dict: anything else written behind the portal's back shows as no settings
    (saving the form then replaces it), never as a crash."""
    return value if isinstance(value, dict) else {}


def format_settings(config: dict[str, Any]) -> str:
    """A provider's settings as the "key=value" lines an operator edits, secrets masked."""
    lines = []
    for key, value in sorted(config.items()):
        if SECRET_KEY_RE.search(key) and value:
            text = MASK
        elif isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            text = str(value)
        lines.append(f"{key}={text}")
    return "\n".join(lines)


def parse_settings(text: str, current: dict[str, Any]) -> dict[str, Any]:
    """The lines back to the stored dict: JSON objects and lists stay structured, a masked secret
    keeps its stored value; ValueError on a line that is not key=value."""
    config: dict[str, Any] = {}
    for line in text.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not SETTINGS_KEY_RE.fullmatch(key) or key in config:
            raise ValueError(line)
        if value == MASK and key in current:
            config[key] = current[key]
        elif value[:1] in ("{", "["):
            config[key] = json.loads(value)  # json.JSONDecodeError is a ValueError
        else:
            config[key] = value
    return config


def url_problem(config: dict[str, Any]) -> str | None:
    """The outbound URL policy's refusal code for the first URL setting it refuses (None: all fine).
    Jitsi's `domain` counts as the https://<domain> it stands for when no base_url is given."""
    for key, value in sorted(config.items()):
        if value in ("", None):
            continue
        if key == "domain":
            if not isinstance(value, str) or any(c in value for c in "/?#@\\"):
                return "malformed"
            value = f"https://{value}"
        elif not URL_KEY_RE.fullmatch(key):
            continue
        try:
            urlpolicy.check_url(value)
        except urlpolicy.UrlRefused as exc:
            return exc.code if exc.code in URL_MESSAGES else "malformed"
    return None
