"""FreeSWITCH XML: every file parses and has the shape FreeSWITCH reads; mod_xml_curl answers the recorded requests."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from clusterpbx.dialplan import freeswitch
from clusterpbx.dialplan.freeswitch import NOT_FOUND, xml_curl_response
from clusterpbx.dialplan.model import Extension, Tenant
from clusterpbx.dialplan.render import render_node
from tests.components import shared_fixtures
from tests.dialplan.sample import acme


def parse_xml(text: str) -> ET.Element:
    # our own generated documents and the recorded fixtures, never data from a network peer
    return ET.fromstring(text)  # noqa: S314


def fixtures_dir() -> Path:
    return shared_fixtures()


def recorded_requests() -> list[dict[str, str]]:
    """The decoded form fields of every request in xml_curl_requests.txt (first value of a repeated key)."""
    path = fixtures_dir() / "freeswitch" / "xml_curl" / "xml_curl_requests.txt"
    requests: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in path.read_text().splitlines():
        if line.startswith("-- body form fields"):
            current = {}
            requests.append(current)
        elif line.startswith("-- "):
            current = None
        elif current is not None:
            m = re.match(r"^   ([^=]+?) = ?(.*)$", line)
            if m and m.group(1) not in current:
                current[m.group(1)] = m.group(2)
    return requests


def recorded_user_document() -> ET.Element:
    text = (fixtures_dir() / "freeswitch" / "xml_curl" / "xml_curl_requests.txt").read_text()
    body = text.split("<<<RESPONSE\n", 1)[1].split("RESPONSE>>>", 1)[0]
    return parse_xml(body)


def paths(elem: ET.Element, prefix: str = "") -> set[str]:
    """Tag paths (with the attribute names) of a tree, to compare shapes."""
    here = f"{prefix}/{elem.tag}[{','.join(sorted(elem.attrib))}]"
    out = {here}
    for child in elem:
        out |= paths(child, here)
    return out


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return render_node(acme("freeswitch"))


def test_every_file_parses(files: dict[str, str]) -> None:
    assert set(files) == set(freeswitch.FREESWITCH_FILES)
    for body in files.values():
        assert parse_xml(body).tag == "include"


def test_directory_shape(files: dict[str, str]) -> None:
    root = parse_xml(files["directory_clusterpbx.xml"])
    domains = root.findall("domain")
    assert [d.get("name") for d in domains] == ["acme.example.com", "beta.example.com"]
    users = domains[0].findall("./groups/group/users/user")
    assert [u.get("id") for u in users] == ["acme101", "acme101-desk", "acme102", "acme103"]
    alice = users[0]
    params = {p.get("name"): p.get("value") for p in alice.findall("./params/param")}
    assert params["password"] == "s3cret-101-pw"
    assert params["vm-password"] == "4242"
    assert params["vm-mailto"] == "alice@acme.example.com"
    assert params["vm-attach-file"] == "true"
    variables = {v.get("name"): v.get("value") for v in alice.findall("./variables/variable")}
    assert variables["user_context"] == "cpbx-acme"
    assert variables["cpbx_ext"] == "101"
    assert variables["default_language"] == "fr"
    # the same element/attribute layout as the document FreeSWITCH accepted in the lab
    ours = paths(
        parse_xml(
            xml_curl_response(
                acme("freeswitch"), {"section": "directory", "domain": "acme.example.com", "user": "acme102"}
            )
        )
    )
    lab = paths(recorded_user_document())
    assert lab <= ours


def test_dialplan_shape(files: dict[str, str]) -> None:
    root = parse_xml(files["dialplan_clusterpbx.xml"])
    contexts = [c.get("name") for c in root.findall("context")]
    assert contexts == ["cpbx-acme", "cpbx-acme-leg", "cpbx-acme-conf", "cpbx-beta", "cpbx-beta-leg", "cpbx-beta-conf"]
    for ext in root.iter("extension"):
        assert ext.get("name")
        conds = ext.findall("condition")
        assert conds, ext.get("name")
        for cond in conds:
            assert set(cond.attrib) <= {"field", "expression", "break"}
            re.compile(cond.get("expression", "").replace("(?!", "(?!"))
            for act in cond:
                assert act.tag in ("action", "anti-action")
                assert act.get("application")
        # actions only on the last condition (FreeSWITCH runs them only if all conditions match),
        # except inline sets that feed later conditions
        for cond in conds[:-1]:
            assert all(a.get("inline") == "true" for a in cond), ext.get("name")
    acme_ctx = root.find("context[@name='cpbx-acme']")
    assert acme_ctx is not None
    text = ET.tostring(acme_ctx, encoding="unicode")
    assert "db(select/cpbx_dnd/${cpbx_target}@acme.example.com)" in text
    assert "sofia/gateway/operator-trunk/$1" in text
    assert "callcenter" in text and "cpbx-acme-support" in text
    assert "ivr/ivr-call_cannot_be_completed_as_dialed.wav" in text


def test_outbound_rules_follow_allowed_prefixes(files: dict[str, str]) -> None:
    root = parse_xml(files["dialplan_clusterpbx.xml"])
    ctx = root.find("context[@name='cpbx-acme']")
    assert ctx is not None
    rules = sorted(
        (e.findall("condition")[0].get("expression"), e.findall("condition")[1].get("expression"))
        for e in ctx.findall("extension")
        if (e.get("name") or "").startswith("cpbx-out-1") and e.get("name", "").endswith("-own")
    )
    # a leading "+" is not part of the prefix, as the portal checks it
    assert rules == [("^101$", r"^(\+?00\d*)$"), ("^101$", r"^(\+?0\d*)$"), ("^102$", r"^(\+?0\d*)$")]
    assert all(re.fullmatch(expr[1:-1], n) for expr, n in ((rules[2][1], "+0612345678"), (rules[2][1], "0612")))
    assert not re.fullmatch(rules[2][1][1:-1], "+15145551234")
    fields = {
        e.findall("condition")[0].get("field")
        for e in ctx.findall("extension")
        if (e.get("name") or "").startswith("cpbx-out-1")
    }
    assert fields == {"${cpbx_ext}"}  # the phones' context never trusts cpbx_fwdby
    leg = root.find("context[@name='cpbx-acme-leg']")
    assert leg is not None
    fields = {
        e.findall("condition")[0].get("field")
        for e in leg.findall("extension")
        if (e.get("name") or "").startswith("cpbx-out-1")
    }
    assert fields == {"${cpbx_fwdby}"}
    beta = root.find("context[@name='cpbx-beta']")
    assert beta is not None
    assert not [e for e in beta.findall("extension") if (e.get("name") or "").startswith("cpbx-out-1")]


def test_conference_and_callcenter_shapes(files: dict[str, str]) -> None:
    profiles = parse_xml(files["conference_profiles_clusterpbx.xml"])
    assert [p.get("name") for p in profiles.findall("profile")] == ["cpbx", "cpbx-count"]
    assert profiles.find("profile/param[@name='caller-controls']") is not None
    queues = parse_xml(files["callcenter_queues_clusterpbx.xml"])
    assert [q.get("name") for q in queues.findall("queue")] == ["cpbx-acme-support"]
    agents = parse_xml(files["callcenter_agents_clusterpbx.xml"])
    assert [a.get("name") for a in agents.findall("agent")] == ["acme-102", "acme-103"]
    assert all("status" not in a.attrib for a in agents.findall("agent"))
    tiers = parse_xml(files["callcenter_tiers_clusterpbx.xml"])
    assert [(t.get("agent"), t.get("queue")) for t in tiers.findall("tier")] == [
        ("acme-102", "cpbx-acme-support"),
        ("acme-103", "cpbx-acme-support"),
    ]


def test_recorded_requests_for_unknown_domain_get_not_found() -> None:
    reqs = recorded_requests()
    assert len(reqs) >= 20
    snap = acme("freeswitch")
    for form in reqs:
        if form.get("key_value") in ("conference.conf", "callcenter.conf"):
            continue
        assert xml_curl_response(snap, form) == NOT_FOUND, form.get("section")


def _lab_snapshot():
    snap = acme("freeswitch")
    lab = Tenant(
        name="Lab",
        slug="lab",
        domain="127.0.0.1",
        extensions=(
            Extension(
                number="1050",
                display_name="Lab 1050",
                sip_username="1050",
                sip_password="1234",
                mailbox="1050",
                voicemail_pin="1050",
            ),
        ),
    )
    return dataclasses.replace(snap, tenants=(*snap.tenants, lab))


def test_recorded_sip_auth_request_gets_the_user() -> None:
    reqs = [r for r in recorded_requests() if r.get("user") == "1050" and r.get("action") == "sip_auth"]
    assert reqs
    doc = parse_xml(xml_curl_response(_lab_snapshot(), reqs[0]))
    assert doc.tag == "document" and doc.get("type") == "freeswitch/xml"
    section = doc.find("section")
    assert section is not None and section.get("name") == "directory"
    (user,) = doc.findall("./section/domain/groups/group/users/user")
    assert user.get("id") == "1050"
    assert user.find("./params/param[@name='password']").get("value") == "1234"  # type: ignore[union-attr]
    assert doc.find("./section/domain").get("name") == "127.0.0.1"  # type: ignore[union-attr]


def test_unknown_user_in_known_domain_is_not_found() -> None:
    reqs = [r for r in recorded_requests() if r.get("user") == "1051"]
    assert reqs
    assert xml_curl_response(_lab_snapshot(), reqs[0]) == NOT_FOUND


def test_recorded_dialplan_request_with_our_context() -> None:
    (form,) = [r for r in recorded_requests() if r.get("section") == "dialplan"]
    assert xml_curl_response(acme("freeswitch"), form) == NOT_FOUND  # context 'default' is the operator's
    form = dict(form, **{"Hunt-Context": "cpbx-acme", "Caller-Context": "cpbx-acme"})
    doc = parse_xml(xml_curl_response(acme("freeswitch"), form))
    assert doc.find("./section[@name='dialplan']/context[@name='cpbx-acme']/extension") is not None


def test_recorded_configuration_requests() -> None:
    snap = acme("freeswitch")
    by_name = {r["key_value"]: r for r in recorded_requests() if r.get("section") == "configuration"}
    conf = parse_xml(xml_curl_response(snap, by_name["conference.conf"]))
    assert (
        conf.find("./section[@name='configuration']/configuration[@name='conference.conf']/profiles/profile")
        is not None
    )
    assert conf.find("./section/configuration/caller-controls/group[@name='cpbx-menu']") is not None
    cc = parse_xml(xml_curl_response(snap, by_name["callcenter.conf"]))
    base = "./section[@name='configuration']/configuration[@name='callcenter.conf']"
    for part in ("settings", "queues/queue", "agents/agent", "tiers/tier"):
        assert cc.find(f"{base}/{part}") is not None, part
    assert xml_curl_response(snap, by_name["loopback.conf"]) == NOT_FOUND
    assert xml_curl_response(snap, by_name["voicemail.conf"]) == NOT_FOUND


def test_not_found_is_the_recorded_document() -> None:
    assert len(NOT_FOUND.encode()) == 104  # the size FreeSWITCH's answers were logged with
    root = parse_xml(NOT_FOUND)
    assert root.find("./section[@name='result']/result").get("status") == "not found"  # type: ignore[union-attr]


def test_every_transfer_target_exists(files: dict[str, str]) -> None:
    """Each `transfer`/`execute_extension`/`limit` target and loopback leg reaches an extension."""
    root = parse_xml(files["dialplan_clusterpbx.xml"])
    contexts = {c.get("name"): c for c in root.findall("context")}

    def reachable(number: str, context: str) -> bool:
        for ext in contexts[context].findall("extension"):
            for cond in ext.findall("condition"):
                if cond.get("field") == "destination_number" and re.search(
                    cond.get("expression", ""), number
                ):
                    return True
        return False

    targets: list[tuple[str, str]] = []
    for ctx in contexts.values():
        for act in ctx.iter("action"):
            app, data = act.get("application"), act.get("data", "")
            if app in ("transfer", "execute_extension"):
                number, _, context = data.split(" ")
                targets.append((number, context))
            elif app == "limit":
                number, _, context = data.split(" ")[-3:]
                targets.append((number, context))
            for leg_ctx in re.findall(r"loopback/[^/]+/([\w-]+)", data):
                assert leg_ctx in contexts, data
    assert targets
    for number, context in targets:
        if "${" in number:  # cpbx-after-${originate_disposition}: the two handled outcomes exist
            for outcome in ("USER_BUSY", "NO_ANSWER", "ORIGINATOR_CANCEL"):
                assert reachable(number.replace("${originate_disposition}", outcome), context)
            continue
        assert reachable(number, context), (number, context)


def test_no_cond_compares_a_value_that_may_be_empty(files: dict[str, str]) -> None:
    """FreeSWITCH's cond() answers -ERR when a side is empty (an absent mod_db key, an unset variable):
    unanswered calls rang 60 s, call waiting off did nothing, follow-me without confirmation never
    connected, the conference ran as ...@-ERR (issue 19 item 10). Every comparison is prefixed (x${v} ==
    xtrue); tests/real/test_freeswitch_dialplan.py evaluates each one on the real FreeSWITCH 1.10."""
    import re

    text = files["dialplan_clusterpbx.xml"]
    conds = re.findall(r"\$\{cond\(([^?]*)\?", text)
    assert conds, "no cond() in the dialplan any more: drop this test"
    for left in conds:
        for side in left.split("=="):
            side = side.strip().replace("&gt;", ">")
            assert side.startswith("x"), f"an unprefixed side in cond({left}...)"
    # cond() splits its answers at ':' (switch_separate_string): a URL answer must be quoted.
    assert "? 'local_stream://moh' :" in text and "? local_stream" not in text
