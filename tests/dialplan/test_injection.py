"""User-typed text cannot add a line, a section, a comment or a field to any generated file."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import pytest

from clusterpbx.dialplan import sanitize
from clusterpbx.dialplan.model import Device, NodeSnapshot
from clusterpbx.dialplan.render import render_node
from clusterpbx.dialplan.sanitize import RenderError
from tests.dialplan.sample import acme

EVIL_NAMES = [
    "Eve\n[evil]\ntype=endpoint",
    "Eve;comment",
    "Eve [x]",
    "Eve\r\nexten => 666,1,System(rm -rf /)",
    'Eve" <666>, attach=yes|delete=yes',
    "Eve => 6666,1234",
    "Eve\u2028\u0085next",
    "Eve ${SHELL(id)} $[1+1]",
    'Eve</variable><variable name="x" value="y"/>',
]


def parse_xml(text: str) -> ET.Element:
    # our own generated documents and the recorded fixtures, never data from a network peer
    return ET.fromstring(text)  # noqa: S314


def _with_name(snapshot: NodeSnapshot, name: str) -> NodeSnapshot:
    tenant = snapshot.tenants[0]
    exts = list(tenant.extensions)
    exts[0] = dataclasses.replace(exts[0], display_name=name)
    tenants = (dataclasses.replace(tenant, extensions=tuple(exts)), *snapshot.tenants[1:])
    return dataclasses.replace(snapshot, tenants=tenants)


def _shape(body: str) -> tuple[int, list[str]]:
    lines = body.split("\n")
    return len(lines), [line for line in lines if line.startswith("[")]


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
@pytest.mark.parametrize("name", EVIL_NAMES)
def test_display_name_cannot_change_file_structure(kind: str, name: str) -> None:
    clean = render_node(_with_name(acme(kind), "Eve"))
    evil = render_node(_with_name(acme(kind), name))
    for fname, body in evil.items():
        assert _shape(body) == _shape(clean[fname]), fname
        for line in body.splitlines():
            assert "\r" not in line and "\u2028" not in line and "\x85" not in line
        if fname.endswith(".conf"):
            # no comment, section or field separator came from the name
            assert body.count(";") == clean[fname].count(";"), fname
            assert body.count(",") == clean[fname].count(","), fname
            assert body.count("=>") == clean[fname].count("=>"), fname
            assert body.count("[") == clean[fname].count("["), fname
            assert "${SHELL" not in body and "$[1+1]" not in body
        else:
            root = parse_xml(body)
            assert [e.tag for e in root.iter()] == [e.tag for e in parse_xml(clean[fname]).iter()]


def test_sanitised_names_keep_letters() -> None:
    assert sanitize.text("Élodie Müller-Dupont") == "Élodie Müller-Dupont"
    assert sanitize.text("A;B\nC[D]") == "A B C D"
    assert sanitize.text("x" * 200) == "x" * 64


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sip_username", "bad\nuser"),
        ("sip_username", "bad;user"),
        ("sip_username", "[user]"),
        ("sip_password", "pw;rest"),
        ("sip_password", "pw\nline"),
        ("sip_password", 'pw"q'),
        ("email", "a@b.c\nattach=yes"),
        ("email", "a,b@c.d"),
        ("voicemail_pin", "12a4"),
        ("allowed_prefixes", ("0\n",)),
        ("allowed_prefixes", ("0|1",)),
        ("number", "10 1"),
        ("devices", (Device(sip_username="dev\n[x]", sip_password="secret-pw"),)),
    ],
)
def test_identifiers_are_validated(field: str, value: object) -> None:
    snap = acme()
    tenant = snap.tenants[0]
    exts = list(tenant.extensions)
    exts[1] = dataclasses.replace(exts[1], **{field: value})
    snap = dataclasses.replace(snap, tenants=(dataclasses.replace(tenant, extensions=tuple(exts)),))
    with pytest.raises(RenderError):
        render_node(snap)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Acme Corp"),
        ("slug", "acme\n[x]"),
        ("outbound_trunk", "trunk;x"),
        ("sms_trunk", "a b"),
        ("conference_prefix", "*9X"),
        ("voicemail_code", "*97\n"),
        ("domain", "bad domain"),
        ("astdb_prefix", "x/y"),
    ],
)
def test_tenant_identifiers_are_validated(field: str, value: str) -> None:
    snap = acme()
    tenant = dataclasses.replace(snap.tenants[0], **{field: value})
    with pytest.raises((RenderError, ValueError)):
        render_node(dataclasses.replace(snap, tenants=(tenant,)))


def test_duplicate_sip_usernames_are_refused() -> None:
    snap = acme()
    tenant = snap.tenants[0]
    exts = list(tenant.extensions)
    exts[1] = dataclasses.replace(exts[1], sip_username="acme101")
    with pytest.raises(RenderError):
        render_node(dataclasses.replace(snap, tenants=(dataclasses.replace(tenant, extensions=tuple(exts)),)))


def test_passwords_written_verbatim() -> None:
    body = render_node(acme())["pjsip_clusterpbx.conf"]
    assert re.search(r"^password=s3cret-101-pw$", body, re.M)


def test_tenant_slugs_cannot_collide_on_context_names() -> None:
    snap = acme()
    other = dataclasses.replace(snap.tenants[1], slug="acme-ext", domain="other.example.com")
    with pytest.raises(RenderError):
        render_node(dataclasses.replace(snap, tenants=(snap.tenants[0], other)))
