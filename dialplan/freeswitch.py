"""Render a `NodeSnapshot` into FreeSWITCH 1.10 XML (directory, dialplan, conference and callcenter
fragments) and answer mod_xml_curl requests with the same documents.

Per-user features are read from mod_db at call time with ``${db(select/<realm>/<ext>@<domain>)}``
(realms in `keys.FS_REALMS`), so a portal change needs no ``reloadxml``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from . import keys
from . import sanitize as s
from .model import Extension, NodeSnapshot, Tenant

FREESWITCH_FILES = (
    "directory_clusterpbx.xml",
    "dialplan_clusterpbx.xml",
    "conference_profiles_clusterpbx.xml",
    "conference_controls_clusterpbx.xml",
    "callcenter_queues_clusterpbx.xml",
    "callcenter_agents_clusterpbx.xml",
    "callcenter_tiers_clusterpbx.xml",
)

NOT_FOUND = (
    '<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>'
)

# The leg a user is dialled on: presence (BLF lamps) by extension number, which is what phones watch
# (`202@<tenant domain>`), and the directory user (the SIP account, `202-t7` for a second company on the
# node) in presence_data, which is how the adapter names the endpoint (esl/translate.py snapshot,
# esl/json_cdr.py). A dial string is expanded on the caller's channel, so the dialled user's number is
# read from the directory: `${cpbx_ext}` would be the caller's.
DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}"
    ":presence_id=${user_data(${dialed_user}@${dialed_domain} var cpbx_ext)}@${dialed_domain}"
    ":presence_data=${dialed_user}@${dialed_domain}}"
    "${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, dict(attrs))


def _to_text(elem: ET.Element) -> str:
    ET.indent(elem, space="  ")
    return ET.tostring(elem, encoding="unicode") + "\n"


def _tenants(snapshot: NodeSnapshot) -> list[Tenant]:
    return sorted(snapshot.tenants, key=lambda t: t.slug)


def _exts(tenant: Tenant) -> list[Extension]:
    return sorted(tenant.extensions, key=lambda e: e.number)


def context_name(tenant: Tenant) -> str:
    return f"cpbx-{tenant.slug}"


def validate(snapshot: NodeSnapshot) -> None:
    from .asterisk import validate as validate_common

    validate_common(snapshot)
    domains: set[str] = set()
    for t in snapshot.tenants:
        d = s.domain(t.sip_domain(snapshot.node))
        if d in domains:
            raise s.RenderError(f"two tenants share the SIP domain {d!r}")
        domains.add(d)


# ----------------------------------------------------------------------------- directory


def directory_domain(snapshot: NodeSnapshot, t: Tenant, only_user: str | None = None) -> ET.Element:
    domain = t.sip_domain(snapshot.node)
    dom = ET.Element("domain", {"name": domain})
    params = _sub(dom, "params")
    _sub(params, "param", name="dial-string", value=DIAL_STRING)
    variables = _sub(dom, "variables")
    _sub(variables, "variable", name="user_context", value=context_name(t))
    groups = _sub(dom, "groups")
    users = _sub(_sub(groups, "group", name=f"cpbx-{t.slug}"), "users")
    for e in _exts(t):
        accounts = [(e.sip_username, e.sip_password, True)] + sorted(
            (d.sip_username, d.sip_password, False) for d in e.devices
        )
        for user_id, password, primary in accounts:
            if only_user is not None and user_id != only_user:
                continue
            u = _sub(users, "user", id=user_id)
            p = _sub(u, "params")
            _sub(p, "param", name="password", value=password)
            has_vm = primary and bool(e.mailbox)
            _sub(p, "param", name="vm-enabled", value="true" if has_vm else "false")
            if has_vm:
                _sub(p, "param", name="vm-password", value=e.voicemail_pin)
                if e.email:
                    _sub(p, "param", name="vm-mailto", value=e.email)
                    _sub(p, "param", name="vm-email-all-messages", value="true")
                    _sub(p, "param", name="vm-attach-file", value="true" if e.email_attach else "false")
                    _sub(
                        p,
                        "param",
                        name="vm-keep-local-after-email",
                        value="false" if e.email_delete else "true",
                    )
            v = _sub(u, "variables")
            for name, value in (
                ("user_context", context_name(t)),
                ("effective_caller_id_name", s.text(e.display_name)),
                ("effective_caller_id_number", e.number),
                ("default_language", e.language),
                ("accountcode", e.number),
                # set from the authenticated directory entry, so a phone cannot forge them
                ("cpbx_ext", e.number),
                # the phone's own calls: the same presence as the legs it is dialled on (DIAL_STRING)
                ("presence_id", f"{e.number}@{domain}"),
                ("presence_data", f"{user_id}@{domain}"),
                ("cpbx_vm_box", e.sip_username if e.mailbox else ""),
                ("cpbx_record", "true" if t.recording_enabled and e.record_calls else "false"),
            ):
                _sub(v, "variable", name=name, value=value)
    return dom


def render_directory(snapshot: NodeSnapshot) -> str:
    root = ET.Element("include")
    for t in _tenants(snapshot):
        root.append(directory_domain(snapshot, t))
    return _to_text(root)


# ----------------------------------------------------------------------------- dialplan


def _db(realm_key: str, ext: str, domain: str) -> str:
    return f"${{db(select/{keys.FS_REALMS[realm_key]}/{ext}@{domain})}}"


def _ext(ctx: ET.Element, name: str, continue_: bool = False) -> ET.Element:
    attrs = {"name": name}
    if continue_:
        attrs["continue"] = "true"
    return _sub(ctx, "extension", **attrs)


def _cond(ext: ET.Element, field: str, expression: str, **extra: str) -> ET.Element:
    return _sub(ext, "condition", field=field, expression=expression, **extra)


def _act(cond: ET.Element, app: str, data: str = "", anti: bool = False, inline: bool = False) -> None:
    attrs = {"application": app}
    if data:
        attrs["data"] = data
    if inline:
        attrs["inline"] = "true"
    _sub(cond, "anti-action" if anti else "action", **attrs)


def dialplan_context(snapshot: NodeSnapshot, t: Tenant) -> ET.Element:
    domain = t.sip_domain(snapshot.node)
    name = context_name(t)
    leg = f"{name}-leg"
    ctx = ET.Element("context", {"name": name})
    exts = _exts(t)
    local_re = "^(" + "|".join(e.number for e in exts) + ")$" if exts else "^$"
    target = "${cpbx_target}"

    def db(realm: str, ext: str = target) -> str:
        return _db(realm, ext, domain)

    # Voicemail main menu for the caller's own box.
    x = _ext(ctx, "cpbx-voicemail-main")
    c = _cond(x, "destination_number", "^" + _re_escape(t.voicemail_code) + "$")
    _act(c, "answer")
    _act(c, "voicemail", f"check default {domain} ${{cpbx_vm_box}}")

    # DND toggle from the phone; the daemon sees the CUSTOM event and syncs the portal.
    # (actions go on the last condition: FreeSWITCH runs an extension only when all conditions pass)
    x = _ext(ctx, "cpbx-dnd-toggle")
    _cond(x, db("dnd", "${cpbx_ext}"), "^true$")
    c = _cond(x, "destination_number", r"^\*76$")
    _act(c, "db", f"delete/{keys.FS_REALMS['dnd']}/${{cpbx_ext}}@{domain}")
    _act(c, "event", _feature_event(domain, "dnd", "off"))
    _act(c, "playback", "ivr/ivr-dnd_cancelled.wav")
    x = _ext(ctx, "cpbx-dnd-on")
    c = _cond(x, "destination_number", r"^\*76$")
    _act(c, "db", f"insert/{keys.FS_REALMS['dnd']}/${{cpbx_ext}}@{domain}/true")
    _act(c, "event", _feature_event(domain, "dnd", "on"))
    _act(c, "playback", "ivr/ivr-dnd_activated.wav")

    # Queue login / logout (mod_callcenter agent status). *45 of an agent first puts back its tier in
    # every queue the administrator made it an agent of (a log-out from the portal deletes the tier,
    # esl/adapter.py queue_logout), as *45 on Asterisk adds the member to each of those queues.
    for number, tiers in sorted(_agent_tiers(t).items()):
        x = _ext(ctx, f"cpbx-agent-45-{number}")
        _cond(x, "${cpbx_ext}", f"^{number}$")
        c = _cond(x, "destination_number", r"^\*45$")
        for queue, position in tiers:
            _act(c, "set", f"res=${{callcenter_config(tier add {queue} {t.slug}-{number} 1 {position})}}")
        _agent_status(c, t, domain, "45")
    for code in ("45", "46"):
        x = _ext(ctx, f"cpbx-agent-{code}")
        c = _cond(x, "destination_number", rf"^\*{code}$")
        _agent_status(c, t, domain, code)

    # Personal conference: prefix + owner extension, settings from mod_db.
    x = _ext(ctx, "cpbx-conference")
    c = _cond(x, "destination_number", "^" + _re_escape(t.conference_prefix) + r"(\d+)$")
    _act(c, "set", "cpbx_owner=$1", inline=True)
    owner = "${cpbx_owner}"
    c = _cond(x, _db("conference", owner, domain), "^true$")
    _act(c, "answer")
    _act(c, "set", f"conference_max_members={_conf_db('maxmembers', owner, domain)}")
    _act(
        c,
        "set",
        f"conference_flags=${{cond(x{_conf_db('wait_for_admin', owner, domain)} == xtrue ? wait-mod : )}}",
    )
    _act(c, "set", f"cpbx_flags=${{cond(x{_conf_db('listen_only_users', owner, domain)} == xtrue ? mute : )}}")
    _act(
        c,
        "set",
        f"conference_controls=${{cond(x{_conf_db('star_menu', owner, domain)} == xtrue ? cpbx-menu : none)}}",
    )
    _act(
        c,
        "set",
        # Quoted: cond() splits its answers at ':' (switch_separate_string), the URL's colon included.
        f"conference_moh_sound=${{cond(x{_conf_db('music_on_hold', owner, domain)} == xtrue ? "
        "'local_stream://moh' : )}",
    )
    _act(
        c,
        "set",
        f"cpbx_profile=${{cond(x{_conf_db('announce_count', owner, domain)} == xtrue ? cpbx-count : cpbx)}}",
    )
    # The PIN is asked here, not by mod_conference: its moderator PIN only adds the moderator flag to the
    # member flags every caller gets, so "listen only (users only)" muted the organiser too (lab run of
    # tests/real/test_conference_options.py). The owner calling from their own phone needs no PIN, as on
    # Asterisk. The conference context sets cpbx_conf_role (admin, user, or nothing: refused).
    _act(c, "set", f"cpbx_conf_apin={_conf_db('adminpin', owner, domain)}")
    _act(c, "set", f"cpbx_conf_upin={_conf_db('userpin', owner, domain)}")
    _act(c, "unset", "cpbx_conf_role")
    _act(c, "execute_extension", f"cpbx-conf-pin XML {name}-conf")
    _act(c, "execute_extension", f"cpbx-conf-join XML {name}-conf")


    # Queues.
    for q in sorted(t.queues, key=lambda q: q.number):
        x = _ext(ctx, f"cpbx-queue-{q.name}")
        c = _cond(x, "destination_number", f"^{q.number}$")
        _act(c, "answer")
        _act(c, "callcenter", f"cpbx-{t.slug}-{q.name}")

    # Local extensions: remember the target, then DND, forward always, out of office,
    # call waiting, follow-me, ring; in that order (first match wins).
    x = _ext(ctx, "cpbx-local-target", continue_=True)
    c = _cond(x, "destination_number", local_re)
    _act(c, "set", "cpbx_target=$1", inline=True)

    x = _ext(ctx, "cpbx-local-dnd")
    _cond(x, "destination_number", local_re)
    c = _cond(x, db("dnd"), "^true$")
    _act(c, "transfer", f"cpbx-busy XML {name}")

    x = _ext(ctx, "cpbx-local-forward-always")
    _cond(x, "destination_number", local_re)
    c = _cond(x, db("forward_always"), r"^(\+?[0-9*#]+)$")
    _act(c, "set", f"cpbx_fwdby={target}")
    _act(c, "export", f"cpbx_fwdby={target}")
    _act(c, "set", "continue_on_fail=true")
    _act(c, "set", "hangup_after_bridge=true")
    _act(c, "bridge", f"loopback/$1/{leg}")
    _act(c, "transfer", f"cpbx-unavailable XML {name}")

    x = _ext(ctx, "cpbx-local-out-of-office")
    _cond(x, "destination_number", local_re)
    c = _cond(x, db("out_of_office"), "^true$")
    _act(c, "transfer", f"cpbx-unavailable XML {name}")

    x = _ext(ctx, "cpbx-local-ring")
    c = _cond(x, "destination_number", local_re)
    # call waiting off: a second call to the extension is busy (counted per extension)
    _act(c, "set", f"cpbx_cw={db('call_waiting')}", inline=True)
    _act(c, "limit", f"hash {name} {target} ${{cond(x${{cpbx_cw}} == xtrue ? 99 : 1)}} cpbx-busy XML {name}")
    _act(
        c,
        "set",
        # An absent key is empty, and cond() answers -ERR to an empty side (real-pbx-lab.md): compare
        # with a prefix so an empty value means "not set".
        f"call_timeout=${{cond(x{db('no_answer_ring_time')} == x ? {keys.DEFAULT_RING_TIME} : "
        f"{db('no_answer_ring_time')})}}",
    )
    _act(c, "set", "continue_on_fail=true")
    _act(c, "set", "hangup_after_bridge=true")
    _act(c, "execute_extension", f"cpbx-record-in XML {name}")
    _act(c, "execute_extension", f"cpbx-followme XML {name}")
    _act(c, "bridge", "${cpbx_devices}")
    _act(c, "transfer", f"cpbx-after-${{originate_disposition}} XML {name}")

    # Devices of each extension, set before ringing.
    for e in exts:
        x = _ext(ctx, f"cpbx-devices-{e.number}", continue_=True)
        c = _cond(x, "${cpbx_target}", f"^{e.number}$")
        _act(c, "set", "cpbx_devices=" + ",".join(f"user/{u}@{domain}" for u in e.sip_usernames), inline=True)
        _act(c, "set", f"cpbx_mailbox={e.sip_username if e.mailbox else ''}", inline=True)
        rec = "true" if t.recording_enabled and e.record_calls else "false"
        _act(c, "set", f"cpbx_record_target={rec}", inline=True)
    # (these run during hunting, before cpbx-local-ring executes, because of inline="true")
    ctx[:] = _move_device_exts_first(ctx)

    # Follow-me: when enabled, ring own phones for the delay, then the list (loopback legs).
    x = _ext(ctx, "cpbx-followme")
    c = _cond(x, "destination_number", "^cpbx-followme$")
    c2 = _cond(x, db("followme_enabled"), "^true$")
    _act(c2, "set", f"cpbx_fwdby={target}")
    _act(c2, "export", f"cpbx_fwdby={target}")
    _act(c2, "set", f"cpbx_fm_delay={db('followme_ring_delay')}")
    _act(c2, "set", f"cpbx_fm_time={db('followme_ring_time')}")
    _act(c2, "set", "cpbx_fm_key=${cond(x" + db("followme_confirm") + " == xtrue ? 1 : )}")
    _act(c2, "set", "cpbx_fm_list=" + db("followme_numbers"))
    # every target becomes a loopback leg into the leg context, starting after the delay. The
    # confirmation is asked on those legs only (not on the user's own phones), once: mod_loopback hands
    # a leg's group_confirm_* variables over to its other half (loopback-b), whose bridge to the phone
    # or the trunk asks for the key, and takes them off loopback-a, so the caller's bridge does not ask
    # again (set on the caller's leg they applied to every leg, and to both bridges: two prompts, two
    # presses; tests/real/test_freeswitch_calls.py).
    opts = ("[leg_delay_start=${cpbx_fm_delay},leg_timeout=${cpbx_fm_time},group_confirm_key=${cpbx_fm_key},"
            "group_confirm_file=ivr/ivr-accept_reject_voicemail.wav]")
    _act(
        c2,
        "set",
        f"cpbx_devices=${{cpbx_devices}},{opts}loopback/${{replace(${{cpbx_fm_list}}|-|/{leg},{opts}loopback/)}}/{leg}",
    )

    # Recording of calls to extensions that have it.
    x = _ext(ctx, "cpbx-record-in")
    c = _cond(x, "destination_number", "^cpbx-record-in$")
    c2 = _cond(x, "${cpbx_record_target}", "^true$")
    _act(c2, "record_session", f"$${{recordings_dir}}/{t.slug}/${{strftime(%Y/%m/%d)}}/in-${{uuid}}.wav")

    # After ringing: busy and no-answer handling (forward on busy / no answer, then voicemail).
    for disposition in ("USER_BUSY", "NO_ANSWER"):
        x = _ext(ctx, f"cpbx-after-{disposition}")
        c = _cond(x, "destination_number", f"^cpbx-after-{disposition}$")
        _act(c, "transfer", f"cpbx-{'busy' if disposition == 'USER_BUSY' else 'noanswer'} XML {name}")
    for kind, realm in (("busy", "forward_busy"), ("noanswer", "forward_no_answer")):
        x = _ext(ctx, f"cpbx-{kind}-forward")
        _cond(x, "destination_number", f"^cpbx-{kind}$")
        c = _cond(x, db(realm), r"^(\+?[0-9*#]+)$")
        _act(c, "set", f"cpbx_fwdby={target}")
        _act(c, "export", f"cpbx_fwdby={target}")
        _act(c, "bridge", f"loopback/$1/{leg}")
        _act(c, "transfer", f"cpbx-unavailable XML {name}")
    x = _ext(ctx, "cpbx-busy-voicemail")
    c = _cond(x, "destination_number", "^cpbx-busy$")
    _act(c, "answer")
    _act(c, "set", "voicemail_greeting_number=busy")
    _act(c, "voicemail", f"default {domain} ${{cpbx_mailbox}}")
    x = _ext(ctx, "cpbx-unavailable-voicemail")
    c = _cond(x, "destination_number", "^cpbx-(unavailable|noanswer|after-.*)$")
    _act(c, "answer")
    _act(c, "voicemail", f"default {domain} ${{cpbx_mailbox}}")

    _outbound(ctx, t, "cpbx_ext")
    return ctx


def _feature_event(domain: str, feature: str, value: str) -> str:
    """The ``event`` application's data after a feature code changed a setting: a CUSTOM cpbx::feature event
    naming the tenant-qualified owner (``201@acme.example``, as the mod_db keys), read by esl/translate.py."""
    return (f"Event-Subclass=cpbx::feature,Event-Name=CUSTOM,owner=${{cpbx_ext}}@{domain},"
            f"feature={feature},value={value}")


def _agent_tiers(t: Tenant) -> dict[str, list[tuple[str, int]]]:
    """Extension -> (queue, position) of its tiers, as callcenter_parts() configures them."""
    out: dict[str, list[tuple[str, int]]] = {}
    for q in sorted(t.queues, key=lambda q: q.name):
        for pos, number in enumerate(sorted(q.members), 1):
            out.setdefault(number, []).append((f"cpbx-{t.slug}-{q.name}", pos))
    return out


def _agent_status(c: ET.Element, t: Tenant, domain: str, code: str) -> None:
    status, value = ("Available", "login") if code == "45" else ("Logged Out", "logout")
    _act(c, "set", f"res=${{callcenter_config(agent set status {t.slug}-${{cpbx_ext}} '{status}')}}")
    _act(c, "event", _feature_event(domain, "queue", value))
    _act(c, "playback", "ivr/ivr-thank_you.wav")


def _conf_db(option: str, owner: str, domain: str) -> str:
    return f"${{db(select/{keys.FS_REALMS['conference']}_{option}/{owner}@{domain})}}"


def _re_escape(code: str) -> str:
    return "".join("\\" + ch if ch in "*#+" else ch for ch in code)


def _move_device_exts_first(ctx: ET.Element) -> list[ET.Element]:
    children = list(ctx)
    devices = [c for c in children if c.get("name", "").startswith("cpbx-devices-")]
    rest = [c for c in children if c not in devices]
    # right after the target is remembered
    idx = next(i for i, c in enumerate(rest) if c.get("name") == "cpbx-local-target") + 1
    return rest[:idx] + devices + rest[idx:]


def _outbound(ctx: ET.Element, t: Tenant, who: str) -> None:
    """Outbound: one extension per (extension, prefix). `who` is ``cpbx_ext`` in the phones' context
    (set from the caller's authenticated directory entry) and ``cpbx_fwdby`` on loopback legs (the
    extension whose forward or follow-me made the leg)."""
    kind = "own" if who == "cpbx_ext" else "fwd"
    for e in _exts(t):
        for prefix in sorted({p.lstrip("+") for p in e.allowed_prefixes}) if t.outbound_trunk else []:
            x = _ext(ctx, f"cpbx-out-{e.number}-{prefix}-{kind}")
            _cond(x, f"${{{who}}}", f"^{e.number}$")
            # a leading "+" is not part of the prefix, as the portal checks it (control/callsettings.py)
            c = _cond(x, "destination_number", rf"^(\+?{_re_escape(prefix)}\d*)$")
            if t.recording_enabled and e.record_calls:
                _act(
                    c,
                    "record_session",
                    f"$${{recordings_dir}}/{t.slug}/${{strftime(%Y/%m/%d)}}/out-${{uuid}}.wav",
                )
            _act(c, "bridge", f"sofia/gateway/{t.outbound_trunk}/$1")
    x = _ext(ctx, "cpbx-out-denied")
    c = _cond(x, "destination_number", r"^\+?\d+$")
    _act(c, "pre_answer")
    _act(c, "playback", "ivr/ivr-call_cannot_be_completed_as_dialed.wav")
    _act(c, "hangup", "CALL_REJECTED")


def leg_context(snapshot: NodeSnapshot, t: Tenant) -> ET.Element:
    """Loopback legs of forwards and follow-me: ring the phones only, or go out with the forwarder's rights."""
    domain = t.sip_domain(snapshot.node)
    name = context_name(t)
    ctx = ET.Element("context", {"name": f"{name}-leg"})
    for e in _exts(t):
        x = _ext(ctx, f"cpbx-leg-{e.number}")
        _cond(x, _db("dnd", e.number, domain), "^(?!true$)")
        c = _cond(x, "destination_number", f"^{e.number}$")
        _act(c, "bridge", ",".join(f"user/{u}@{domain}" for u in e.sip_usernames))
    _outbound(ctx, t, "cpbx_fwdby")
    return ctx


def conference_context(snapshot: NodeSnapshot, t: Tenant) -> ET.Element:
    """The personal conference's PIN and join (execute_extension from the tenant's context: its
    variables are set before these conditions are read). No phone dials into this context."""
    name = context_name(t)
    owner = "${cpbx_owner}"
    domain = t.sip_domain(snapshot.node)
    ctx = ET.Element("context", {"name": f"{name}-conf"})
    x = _ext(ctx, "cpbx-conf-owner")
    _cond(x, "destination_number", "^cpbx-conf-pin$")
    c = _cond(x, "${cond(x${cpbx_ext} == x${cpbx_owner} ? owner : other)}", "^owner$")
    _act(c, "set", "cpbx_conf_role=admin")
    x = _ext(ctx, "cpbx-conf-open")
    _cond(x, "destination_number", "^cpbx-conf-pin$")
    c = _cond(x, "x${cpbx_conf_apin}${cpbx_conf_upin}", "^x$")
    _act(c, "set", "cpbx_conf_role=user")
    x = _ext(ctx, "cpbx-conf-pin")
    c = _cond(x, "destination_number", "^cpbx-conf-pin$")
    # one entry of 1-20 digits, 3 tries; an empty entry never matches (min 1), so an absent PIN
    # never opens the room
    _act(c, "play_and_get_digits", "1 20 3 10000 # conference/conf-pin.wav conference/conf-bad-pin.wav "
         "cpbx_conf_pin ^(?:${cpbx_conf_apin}|${cpbx_conf_upin})$ 3000")
    _act(c, "set", "cpbx_conf_role=${cond(x${cpbx_conf_pin} == x ? none : "
         "${cond(x${cpbx_conf_pin} == x${cpbx_conf_apin} ? admin : user)})}")
    x = _ext(ctx, "cpbx-conf-join")
    _cond(x, "destination_number", "^cpbx-conf-join$")
    c = _cond(x, "${cpbx_conf_role}", "^(admin|user)$")
    # the organiser is the moderator (wait-mod waits for one); listen only mutes the users only
    _act(c, "set", "cpbx_conf_mflags=${cond(x${cpbx_conf_role} == xadmin ? moderator : ${cpbx_flags})}")
    _act(c, "execute_extension", f"cpbx-conf-name XML {name}-conf")
    _act(c, "conference", f"{name}-{owner}@${{cpbx_profile}}+flags{{${{cpbx_conf_mflags}}}}")
    _act(c, "hangup", anti=True)
    # "Annoncer l'arrivée/départ d'un participant": as ConfBridge's announce_join_leave (and FusionPBX), the
    # caller says their name, which the others hear instead of the enter/exit tone: "<name> has joined/left"
    # (mod_conference plays a member's conference_enter_sound when others are there, its
    # conference_exit_sound when it leaves). Off: the profile's tones, as ConfBridge's join/leave sounds.
    x = _ext(ctx, "cpbx-conf-name")
    _cond(x, "destination_number", "^cpbx-conf-name$")
    c = _cond(x, _conf_db("announce_join_leave", owner, domain), "^true$")
    _act(c, "playback", "ivr/ivr-say_name.wav")
    _act(c, "playback", "tone_stream://%(500,0,500)")
    _act(c, "set", "cpbx_conf_name=${temp_dir}/cpbx-conf-name-${uuid}.wav")
    _act(c, "record", "${cpbx_conf_name} 5 500 3")
    _act(c, "set", "conference_enter_sound=file_string://${cpbx_conf_name}!conference/conf-has_joined.wav")
    _act(c, "set", "conference_exit_sound=file_string://${cpbx_conf_name}!conference/conf-has_left.wav")
    return ctx


def render_dialplan(snapshot: NodeSnapshot) -> str:
    root = ET.Element("include")
    for t in _tenants(snapshot):
        root.append(dialplan_context(snapshot, t))
        root.append(leg_context(snapshot, t))
        root.append(conference_context(snapshot, t))
    return _to_text(root)


# ----------------------------------------------------------------------------- conference / callcenter


def conference_profiles() -> ET.Element:
    root = ET.Element("include")
    for name, count in (("cpbx", None), ("cpbx-count", "2")):
        p = _sub(root, "profile", name=name)
        for k, v in (
            ("rate", "8000"),
            ("interval", "20"),
            ("energy-level", "100"),
            ("max-members", "50"),
            ("pin-retries", "3"),
            ("caller-controls", "cpbx-menu"),
            ("moderator-controls", "cpbx-moderator"),
            ("enter-sound", "tone_stream://%(200,0,500,600,700)"),
            ("exit-sound", "tone_stream://%(500,0,300,200,100,50,25)"),
        ):
            _sub(p, "param", name=k, value=v)
        if count:
            # mod_conference says "There are N callers" with the profile's TTS engine. None is named: naming
            # flite made a build without mod_flite (the lab's, a minimal one) log "Invalid TTS module [flite]"
            # at every join; with no engine mod_conference skips the sentence (conference_member_say), as
            # docs/operators.md says.
            _sub(p, "param", name="announce-count", value=count)
    return root


def conference_controls() -> ET.Element:
    root = ET.Element("include")
    # Leaving is *0, not #: mod_conference reads a PIN for exactly as many digits as it has, so the # a
    # caller presses after a 4-digit PIN reaches the controls, and # = hangup dropped them
    # (tests/real/test_freeswitch_calls_conference.py).
    for group, controls in (
        ("cpbx-menu", (("mute", "1"), ("energy up", "9"), ("energy dn", "7"), ("hangup", "*0"))),
        ("cpbx-listen", (("hangup", "*0"),)),
        ("cpbx-moderator", (("mute", "1"), ("lock", "2"), ("hangup", "*0"))),
        ("none", ()),
    ):
        g = _sub(root, "group", name=group)
        for action, digits in controls:
            _sub(g, "control", action=action, digits=digits)
    return root


def callcenter_parts(snapshot: NodeSnapshot) -> tuple[ET.Element, ET.Element, ET.Element]:
    queues = ET.Element("include")
    agents = ET.Element("include")
    if any(t.queues for t in snapshot.tenants):
        # mod_callcenter originates an agent's loopback leg with no call before it: the loopback then takes
        # L16 and, with the stock profile's disable-transcoding, offers the phone only L16 (FreeSWITCH 1.10.12:
        # every agent leg ended INCOMPATIBLE_DESTINATION, tests/real/test_queues_real.py). mod_loopback
        # reads its first codec from this global variable before the leg's own variables are set.
        _sub(agents, "X-PRE-PROCESS", cmd="set", data="loopback_initial_codec=PCMU")
    tiers = ET.Element("include")
    seen_agents: set[str] = set()
    for t in _tenants(snapshot):
        for q in sorted(t.queues, key=lambda q: q.name):
            qname = f"cpbx-{t.slug}-{q.name}"
            qe = _sub(queues, "queue", name=qname)
            strategy = {
                "ringall": "ring-all",
                "leastrecent": "longest-idle-agent",
                "fewestcalls": "agent-with-fewest-calls",
                "random": "random",
                "rrmemory": "round-robin",
                "linear": "top-down",
                "wrandom": "random",
            }[q.strategy]
            for k, v in (
                ("strategy", strategy),
                ("moh-sound", "$${hold_music}"),
                ("time-base-score", "system"),
                ("max-wait-time", str(q.max_wait)),
                ("tier-rules-apply", "false"),
                ("discard-abandoned-after", "60"),
            ):
                _sub(qe, "param", name=k, value=v)
            for pos, number in enumerate(sorted(q.members), 1):
                e = t.extension(number)
                assert e is not None
                agent = f"{t.slug}-{number}"
                if agent not in seen_agents:
                    seen_agents.add(agent)
                    # no status attribute: it would reset the agent on every reload
                    _sub(
                        agents,
                        "agent",
                        name=agent,
                        type="callback",
                        contact=f"[leg_timeout={q.ring_timeout}]loopback/{number}/cpbx-{t.slug}-leg",
                        **{
                            "max-no-answer": "3",
                            "wrap-up-time": "5",
                            "reject-delay-time": "5",
                            "busy-delay-time": "5",
                        },
                    )
                _sub(tiers, "tier", agent=agent, queue=qname, level="1", position=str(pos))
    return queues, agents, tiers


def render_freeswitch(snapshot: NodeSnapshot) -> dict[str, str]:
    validate(snapshot)
    queues, agents, tiers = callcenter_parts(snapshot)
    return {
        "directory_clusterpbx.xml": render_directory(snapshot),
        "dialplan_clusterpbx.xml": render_dialplan(snapshot),
        "conference_profiles_clusterpbx.xml": _to_text(conference_profiles()),
        "conference_controls_clusterpbx.xml": _to_text(conference_controls()),
        "callcenter_queues_clusterpbx.xml": _to_text(queues),
        "callcenter_agents_clusterpbx.xml": _to_text(agents),
        "callcenter_tiers_clusterpbx.xml": _to_text(tiers),
    }


# ----------------------------------------------------------------------------- mod_xml_curl


def _document(section: str, *children: ET.Element) -> str:
    doc = ET.Element("document", {"type": "freeswitch/xml"})
    sec = _sub(doc, "section", name=section)
    for child in children:
        sec.append(child)
    return _to_text(doc)


def _configuration(name: str, *parts: tuple[str, ET.Element]) -> ET.Element:
    conf = ET.Element("configuration", {"name": name, "description": "ClusterPBX"})
    for tag, include in parts:
        holder = _sub(conf, tag)
        holder.extend(list(include))
    return conf


def xml_curl_response(snapshot: NodeSnapshot, form: Mapping[str, str]) -> str:
    """Answer one mod_xml_curl POST (its decoded form fields) with a document or NOT_FOUND.

    directory: the tenant domain, with only the requested user when `user` is given; dialplan:
    the caller's tenant context (Hunt-Context / Caller-Context); configuration: conference.conf and
    callcenter.conf. Anything else, or anything unknown, gets "not found" so FreeSWITCH falls back
    to its static XML.
    """
    section = form.get("section", "")
    try:
        validate(snapshot)
    except s.RenderError:
        return NOT_FOUND
    tenants = _tenants(snapshot)
    if section == "directory":
        domain = form.get("domain") or (form.get("key_value", "") if form.get("key_name") == "name" else "")
        user = form.get("user") or None
        for t in tenants:
            if t.sip_domain(snapshot.node) == domain:
                dom = directory_domain(snapshot, t, only_user=user)
                if user is not None and dom.find("./groups/group/users/user") is None:
                    return NOT_FOUND
                return _document("directory", dom)
        return NOT_FOUND
    if section == "dialplan":
        wanted = form.get("Hunt-Context") or form.get("Caller-Context") or ""
        for t in tenants:
            if wanted == context_name(t):
                return _document("dialplan", dialplan_context(snapshot, t))
            if wanted == f"{context_name(t)}-leg":
                return _document("dialplan", leg_context(snapshot, t))
            if wanted == f"{context_name(t)}-conf":
                return _document("dialplan", conference_context(snapshot, t))
        return NOT_FOUND
    if section == "configuration":
        name = form.get("key_value", "")
        if name == "conference.conf":
            return _document(
                "configuration",
                _configuration(
                    "conference.conf",
                    ("caller-controls", conference_controls()),
                    ("profiles", conference_profiles()),
                ),
            )
        if name == "callcenter.conf":
            queues, agents, tiers = callcenter_parts(snapshot)
            conf = _configuration("callcenter.conf", ("queues", queues), ("agents", agents), ("tiers", tiers))
            settings = ET.Element("settings")
            conf.insert(0, settings)
            return _document("configuration", conf)
        return NOT_FOUND
    return NOT_FOUND
