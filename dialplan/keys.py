"""The single definition of where each per-extension feature lives in the PBX's key-value store.

The generated dialplans read these keys on every call and the control daemon writes them (AMI
``DBPut``/``DBDel`` on Asterisk, ``db insert``/``db delete`` on FreeSWITCH), so a portal change
takes effect on the next call without any reload. Asterisk keys follow FreePBX where one exists so
that operators coming from FreePBX recognise them. ``<ext>`` is the tenant's ``astdb_prefix`` (its
slug and a dash, control.pbxnames.astdb_prefix) followed by the extension number: ``DND/acme-101``,
so two tenants of one node that both have a 101 never share a key. (An empty prefix gives FreePBX's
plain ``DND/101``; the daemon moves such keys to the tenant's names once, see control/keymigration.py.)

Asterisk AstDB (family / key = value; "delete" means the key is removed):

==========================  ===================================  ==========================  =========
feature                     family / key                         value                       origin
==========================  ===================================  ==========================  =========
do not disturb              ``DND/<ext>``                        ``YES``; off: delete        FreePBX
call waiting                ``CW/<ext>``                         ``ENABLED``; off: delete    FreePBX
forward always              ``CF/<ext>``                         number; off: delete         FreePBX
forward on busy             ``CFB/<ext>``                        number; off: delete         FreePBX
forward on no answer        ``CFU/<ext>``                        number; off: delete         FreePBX
ring time before no-answer  ``AMPUSER/<ext>/cfringtimer``        seconds; default: delete    FreePBX
follow-me on/off            ``AMPUSER/<ext>/followme/ddial``     ``DIRECT`` / ``EXTENSION``  FreePBX
follow-me numbers           ``AMPUSER/<ext>/followme/grplist``   ``201-0612345678#``         FreePBX
follow-me ring time         ``AMPUSER/<ext>/followme/grptime``   seconds                     FreePBX
follow-me ring delay        ``AMPUSER/<ext>/followme/prering``   seconds own phones ring     FreePBX
follow-me confirmation      ``AMPUSER/<ext>/followme/grpconf``   ``ENABLED`` / ``DISABLED``  FreePBX
language                    ``AMPUSER/<ext>/language``           ``fr`` / ``en``             FreePBX
out of office               ``CLUSTERPBX/<ext>/ooo``             ``YES``; off: delete        ClusterPBX
conference enabled          ``CLUSTERPBX/<ext>/conf/enabled``    ``YES``; off: delete        ClusterPBX
conference admin PIN        ``CLUSTERPBX/<ext>/conf/adminpin``   digits; none: delete        ClusterPBX
conference user PIN         ``CLUSTERPBX/<ext>/conf/userpin``    digits; none: delete        ClusterPBX
conference max members      ``CLUSTERPBX/<ext>/conf/maxmembers`` number                      ClusterPBX
conference options          ``CLUSTERPBX/<ext>/conf/<option>``   ``YES``; off: delete        ClusterPBX
==========================  ===================================  ==========================  =========

Conference ``<option>`` is one of ``announce_count``, ``announce_join_leave``, ``music_on_hold``,
``star_menu``, ``wait_for_admin``, ``listen_only_users``.

FreeSWITCH mod_db (realm / key = value, key is ``<ext>@<tenant domain>``, the tenant's own SIP
directory domain, which is its namespace on FreeSWITCH): realm ``cpbx_dnd``
(``true``), ``cpbx_cw`` (``true``), ``cpbx_cf`` / ``cpbx_cfb`` / ``cpbx_cfu`` (number),
``cpbx_cfu_time`` (seconds), ``cpbx_fm`` (``true``), ``cpbx_fm_list`` (numbers joined with ``-``),
``cpbx_fm_time``, ``cpbx_fm_delay`` (seconds), ``cpbx_fm_confirm`` (``true``), ``cpbx_lang``,
``cpbx_ooo`` (``true``), ``cpbx_conf`` (``true``), ``cpbx_conf_adminpin``, ``cpbx_conf_userpin``,
``cpbx_conf_maxmembers`` and ``cpbx_conf_<option>`` (``true``). Absent means off, as on Asterisk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import ConferenceOptions, PersonalConference

# (family, key, value); value None means "delete this key".
Entry = tuple[str, str, str | None]

CONFERENCE_OPTIONS: tuple[str, ...] = (
    "announce_count",
    "announce_join_leave",
    "music_on_hold",
    "star_menu",
    "wait_for_admin",
    "listen_only_users",
)

# Asterisk families / key paths (the dialplan generator uses the same constants).
DND = "DND"
CW = "CW"
CF = "CF"
CFB = "CFB"
CFU = "CFU"
AMPUSER = "AMPUSER"
CLUSTERPBX = "CLUSTERPBX"

YES = "YES"
ENABLED = "ENABLED"

DEFAULT_RING_TIME = 20
DEFAULT_FOLLOWME_TIME = 20

_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_EXT = re.compile(r"[0-9]{1,10}")
# A tenant slug (control.pbxnames.slug, with "-<id>" on a clash) and its dash.
_PREFIX = re.compile(r"(?=.{2,40}$)[a-z0-9]+(?:-[a-z0-9]+)*-")


@dataclass(frozen=True)
class FeatureSettings:
    """What a user set in the portal for one extension, as the key-value store needs it."""

    extension: str
    astdb_prefix: str = ""  # the tenant's AstDB key prefix
    domain: str = ""  # the tenant's SIP domain (FreeSWITCH key part)
    dnd: bool = False
    call_waiting: bool = False
    forward_always: str | None = None
    forward_busy: str | None = None
    forward_no_answer: str | None = None
    no_answer_ring_time: int | None = None  # None: dialplan default
    followme_enabled: bool = False
    followme_numbers: tuple[str, ...] = ()
    followme_ring_time: int = DEFAULT_FOLLOWME_TIME
    followme_ring_delay: int = 0  # seconds the user's own phones ring before the list
    followme_confirm: bool = False
    language: str | None = None
    out_of_office: bool = False
    conference: PersonalConference | None = None


def _check_number(value: str, what: str) -> str:
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"{what}: not a dialable number: {value!r}")
    return value


def ext_key(extension: str, astdb_prefix: str = "") -> str:
    """The ``<ext>`` part of every Asterisk key for an extension."""
    if not _EXT.fullmatch(extension):
        raise ValueError(f"extension: not a number: {extension!r}")
    if astdb_prefix and not _PREFIX.fullmatch(astdb_prefix):
        raise ValueError(f"astdb_prefix must look like 'acme-': {astdb_prefix!r}")
    return f"{astdb_prefix}{extension}"


def fs_key(extension: str, domain: str) -> str:
    """The mod_db key of an extension: ``<ext>@<domain>`` like FusionPBX's user ids."""
    if not _EXT.fullmatch(extension):
        raise ValueError(f"extension: not a number: {extension!r}")
    if not re.fullmatch(r"[A-Za-z0-9.\-]{1,253}", domain):
        raise ValueError(f"domain: invalid: {domain!r}")
    return f"{extension}@{domain}"


def followme_grplist(numbers: tuple[str, ...] | list[str]) -> str:
    """FreePBX's grplist: targets joined with '-', external (non-extension) numbers end in '#'."""
    out = []
    for number in numbers:
        _check_number(number, "follow-me number")
        # FreePBX marks anything that is not a short internal number as external.
        out.append(number if len(number) <= 6 and number.isdigit() else f"{number}#")
    return "-".join(out)


def _opt(value: str | None) -> str | None:
    return value if value else None


def _conference_values(conf: PersonalConference | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    enabled = conf is not None and conf.enabled
    options = conf.options if conf is not None else ConferenceOptions()
    values["enabled"] = "on" if enabled else None
    values["adminpin"] = _opt(conf.admin_pin) if conf and enabled else None
    values["userpin"] = _opt(conf.user_pin) if conf and enabled else None
    values["maxmembers"] = str(conf.max_members) if conf and enabled and conf.max_members > 0 else None
    for name in CONFERENCE_OPTIONS:
        values[name] = "on" if enabled and getattr(options, name) else None
    for pin_name in ("adminpin", "userpin"):
        pin = values[pin_name]
        if pin is not None and not pin.isdigit():
            raise ValueError(f"conference {pin_name}: digits only")
    return values


def asterisk_feature_entries(settings: FeatureSettings) -> list[Entry]:
    """Every AstDB key of one extension, with None for keys that must be deleted. Sorted."""
    s = settings
    k = ext_key(s.extension, s.astdb_prefix)
    fwd = {
        name: _check_number(v, name) if v else None
        for name, v in (
            ("forward_always", s.forward_always),
            ("forward_busy", s.forward_busy),
            ("forward_no_answer", s.forward_no_answer),
        )
    }
    if s.language is not None and s.language not in ("fr", "en"):
        raise ValueError(f"language: {s.language!r}")
    fm = f"{k}/followme"
    entries: list[Entry] = [
        (DND, k, YES if s.dnd else None),
        (CW, k, ENABLED if s.call_waiting else None),
        (CF, k, fwd["forward_always"]),
        (CFB, k, fwd["forward_busy"]),
        (CFU, k, fwd["forward_no_answer"]),
        (AMPUSER, f"{k}/cfringtimer", str(s.no_answer_ring_time) if s.no_answer_ring_time else None),
        (AMPUSER, f"{fm}/ddial", "DIRECT" if s.followme_enabled and s.followme_numbers else "EXTENSION"),
        (AMPUSER, f"{fm}/grplist", followme_grplist(s.followme_numbers) if s.followme_numbers else None),
        (AMPUSER, f"{fm}/grptime", str(s.followme_ring_time)),
        (AMPUSER, f"{fm}/prering", str(s.followme_ring_delay)),
        (AMPUSER, f"{fm}/grpconf", ENABLED if s.followme_confirm else "DISABLED"),
        (AMPUSER, f"{k}/language", s.language),
        (CLUSTERPBX, f"{k}/ooo", YES if s.out_of_office else None),
    ]
    for name, value in _conference_values(s.conference).items():
        entries.append((CLUSTERPBX, f"{k}/conf/{name}", YES if value == "on" else value))
    return sorted(entries, key=lambda e: (e[0], e[1]))


FS_REALMS: dict[str, str] = {
    "dnd": "cpbx_dnd",
    "call_waiting": "cpbx_cw",
    "forward_always": "cpbx_cf",
    "forward_busy": "cpbx_cfb",
    "forward_no_answer": "cpbx_cfu",
    "no_answer_ring_time": "cpbx_cfu_time",
    "followme_enabled": "cpbx_fm",
    "followme_numbers": "cpbx_fm_list",
    "followme_ring_time": "cpbx_fm_time",
    "followme_ring_delay": "cpbx_fm_delay",
    "followme_confirm": "cpbx_fm_confirm",
    "language": "cpbx_lang",
    "out_of_office": "cpbx_ooo",
    "conference": "cpbx_conf",
}


def freeswitch_feature_entries(settings: FeatureSettings) -> list[Entry]:
    """Every mod_db (realm, key, value) of one extension, None meaning delete. Sorted."""
    s = settings
    k = fs_key(s.extension, s.domain)
    r = FS_REALMS
    for v in (s.forward_always, s.forward_busy, s.forward_no_answer):
        if v:
            _check_number(v, "forward")
    entries: list[Entry] = [
        (r["dnd"], k, "true" if s.dnd else None),
        (r["call_waiting"], k, "true" if s.call_waiting else None),
        (r["forward_always"], k, _opt(s.forward_always)),
        (r["forward_busy"], k, _opt(s.forward_busy)),
        (r["forward_no_answer"], k, _opt(s.forward_no_answer)),
        (r["no_answer_ring_time"], k, str(s.no_answer_ring_time) if s.no_answer_ring_time else None),
        (r["followme_enabled"], k, "true" if s.followme_enabled and s.followme_numbers else None),
        (
            r["followme_numbers"],
            k,
            "-".join(_check_number(n, "follow-me") for n in s.followme_numbers) or None,
        ),
        (r["followme_ring_time"], k, str(s.followme_ring_time)),
        (r["followme_ring_delay"], k, str(s.followme_ring_delay)),
        (r["followme_confirm"], k, "true" if s.followme_confirm else None),
        (r["language"], k, s.language),
        (r["out_of_office"], k, "true" if s.out_of_office else None),
    ]
    for name, value in _conference_values(s.conference).items():
        realm = r["conference"] if name == "enabled" else f"{r['conference']}_{name}"
        entries.append((realm, k, "true" if value == "on" else value))
    return sorted(entries, key=lambda e: (e[0], e[1]))


def _always_first(entries: list[Entry]) -> list[tuple[str, str]]:
    return [(f, k) for f, k, v in entries if v is not None] + [(f, k) for f, k, v in entries if v is None]


def asterisk_key_names(extension: str, astdb_prefix: str = "") -> list[tuple[str, str]]:
    """Every (family, key) the product may write for one extension on Asterisk, conference included.
    The first is written at every push whatever the settings (follow-me's ``ddial``): if it is absent,
    nothing was ever pushed under this name."""
    return _always_first(asterisk_feature_entries(FeatureSettings(extension, astdb_prefix=astdb_prefix)))


def freeswitch_key_names(extension: str, domain: str) -> list[tuple[str, str]]:
    """Every (realm, key) the product may write for one extension on FreeSWITCH, conference included;
    the first is written at every push, as on Asterisk."""
    return _always_first(freeswitch_feature_entries(FeatureSettings(extension, domain=domain)))


def conference_model(settings: object, owner: str) -> PersonalConference:
    """The renderer's PersonalConference from the port's ConferenceSettings (duck-typed: dialplan does
    not import control)."""
    g = settings.__getattribute__
    return PersonalConference(
        owner=owner, enabled=g("enabled"), admin_pin=g("admin_pin"), user_pin=g("user_pin"),
        max_members=g("max_members"), options=ConferenceOptions(
            announce_count=g("announce_count"), announce_join_leave=g("announce_join_leave"),
            music_on_hold=g("music_on_hold"), star_menu=g("star_menu"), wait_for_admin=g("wait_for_admin"),
            listen_only_users=g("listen_only")))
