"""PBX nodes (operators only change them; a tenant admin sees the node of their tenant, never
its secret) and the "test connection" button."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .. import audit
from ..commands import CommandError, DaemonUnavailable
from ..models import NodeKind, PbxNode, Tenant
from . import Actor, Field, FieldType, Forbidden, Invalid, register
from ._base import N_, ModelResource, require_operator

F = FieldType

INVALID_NODE_NAME = N_("Use letters, digits, '.', '_' and '-' only.")
NODE_NAME_TAKEN = N_("A node with this name already exists.")
INVALID_HOST = N_("Enter a host name or an IP address.")
INVALID_OPTIONS = N_("Enter one KEY=VALUE per line with a known key.")
NODE_IN_USE = N_("Tenants still live on this node.")
DAEMON_UNREACHABLE = N_("The control daemon is not reachable, so the connection cannot be tested.")

_NODE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9_.\-:\[\]]{1,255}")
OPTION_KEYS = ("context", "voicemail_context", "cdr_csv", "timezone", "json_cdr_error_dir")
DEFAULT_PORTS = {NodeKind.ASTERISK: 5038, NodeKind.FREESWITCH: 8021}


@register
class Nodes(ModelResource):
    name = "nodes"
    label = N_("PBX nodes")
    model = PbxNode
    tenant_scoped = False
    operator_only = True
    search_columns = ("name", "host")
    sort_columns = ("name", "kind", "host", "id", "created_at")
    fields = (
        Field("name", F.STRING, N_("Name"), required=True, max_length=64),
        Field("kind", F.CHOICE, N_("Kind"), required=True, choices=tuple(k.value for k in NodeKind)),
        Field("host", F.STRING, N_("Address"), max_length=255),
        Field("port", F.INTEGER, N_("Port"), minimum=1, maximum=65535, help=N_("Empty: 5038 (AMI) or 8021 (ESL)")),
        Field("username", F.STRING, N_("Username"), max_length=64, help=N_("AMI user (Asterisk)")),
        Field("secret", F.SECRET, N_("Secret"), max_length=255, help=N_("AMI secret or ESL password")),
        Field("spool_path", F.STRING, N_("Voicemail spool path"), max_length=1024),
        Field("config_dir", F.STRING, N_("Configuration folder"), max_length=1024),
        Field("sip_domain", F.STRING, N_("SIP domain"), max_length=255),
        Field("options", F.TEXT, N_("Adapter options"), max_length=4000,
              help=N_("KEY=VALUE per line: context, voicemail_context, cdr_csv, timezone, json_cdr_error_dir")),
        Field("enabled", F.BOOLEAN, N_("Enabled")),
        Field("created_at", F.STRING, N_("Created"), read_only=True),
    )

    def scope(self, stmt: Select[Any], actor: Actor) -> Select[Any]:
        if actor.is_operator:
            return stmt
        return stmt.where(PbxNode.id == select(Tenant.node_id).where(Tenant.id == actor.tenant_id).scalar_subquery())

    def tenant_of(self, obj: Any) -> int | None:
        return None

    def may_change(self, db: Session, actor: Actor, obj: Any) -> None:
        if not actor.is_operator:
            raise Forbidden("operators only")

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        require_operator(actor)
        values = super().clean(db, actor, data, obj)
        errors: dict[str, str] = {}
        if "name" in values and not _NODE_NAME.fullmatch(values["name"]):
            errors["name"] = INVALID_NODE_NAME
        if "host" in values:
            values["host"] = values["host"] or "127.0.0.1"
            if not _HOST.fullmatch(values["host"]):
                errors["host"] = INVALID_HOST
        if "username" in values and values["username"] and not _NODE_NAME.fullmatch(values["username"]):
            errors["username"] = INVALID_NODE_NAME
        if "options" in values:
            try:
                values["options"] = parse_options(values["options"])
            except ValueError:
                errors["options"] = INVALID_OPTIONS
        if errors:
            raise Invalid(errors)
        return values

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        if "name" in values:
            other = db.scalar(select(PbxNode).where(PbxNode.name == values["name"]))
            if other is not None and other is not obj:
                raise Invalid({"name": NODE_NAME_TAKEN})

    def build(self, db: Session, actor: Actor, values: dict[str, Any]) -> Any:
        kind = NodeKind(values["kind"])
        node = PbxNode(kind=kind, host="127.0.0.1", port=DEFAULT_PORTS[kind], options={})
        self.apply(db, actor, node, values)
        db.add(node)
        return node

    def apply(self, db: Session, actor: Actor, obj: Any, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key == "kind":
                value = NodeKind(value)
            if key == "port" and value is None:
                continue
            setattr(obj, key, value)

    def remove(self, db: Session, actor: Actor, obj: Any) -> None:
        if db.scalar(select(Tenant.id).where(Tenant.node_id == obj.id).limit(1)) is not None:
            raise Invalid({"": NODE_IN_USE})
        db.delete(obj)

    def serialize(self, obj: Any) -> dict[str, Any]:
        out = super().serialize(obj)
        out["options"] = format_options(obj.options or {})
        out["created_at"] = obj.created_at.isoformat(timespec="seconds") if obj.created_at else None
        return out

    def audit_view(self, obj: Any) -> dict[str, Any]:
        out = self.serialize(obj)
        out.pop("created_at", None)
        return out


def parse_options(text: Any) -> dict[str, str]:
    if isinstance(text, dict):
        items = [(str(k), str(v)) for k, v in text.items()]
    else:
        items = []
        for line in str(text).splitlines():
            if line.strip():
                key, sep, value = line.partition("=")
                if not sep:
                    raise ValueError(line)
                items.append((key.strip(), value.strip()))
    out = {}
    for key, value in items:
        if key not in OPTION_KEYS or len(value) > 1024:
            raise ValueError(key)
        out[key] = value
    return out


def format_options(options: dict[str, Any]) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(options.items()))


def test_node(db: Session, actor: Actor, node_id: int, client: Any) -> dict[str, Any]:
    """Ask the daemon to open a short-lived connection with the node's stored credentials and log in.
    Returns {"ok": bool, "message": str}; `client` is a `ControlClient`."""
    nodes = Nodes()
    node = nodes.load(db, actor, node_id)
    require_operator(actor)
    try:
        reply = client.call("test_node", node_id=node.id)
    except DaemonUnavailable:
        raise Invalid({"": DAEMON_UNREACHABLE}) from None
    except CommandError as exc:
        reply = {"ok": False, "message": str(exc)}
    result = {"ok": bool(reply.get("ok")), "message": str(reply.get("message", ""))[:500]}
    audit.record(db, actor, "test_connection", "nodes", node.id, None, result, None)
    return result
