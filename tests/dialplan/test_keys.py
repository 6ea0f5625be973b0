"""The key layout: FreePBX-compatible AstDB keys and the FreeSWITCH mod_db equivalents."""

from __future__ import annotations

import pytest

from clusterpbx.dialplan import keys
from clusterpbx.dialplan.model import ConferenceOptions, PersonalConference


def as_dict(entries: list[keys.Entry]) -> dict[str, str | None]:
    return {f"{family}/{key}": value for family, key, value in entries}


def test_all_off_deletes_the_feature_keys() -> None:
    d = as_dict(keys.asterisk_feature_entries(keys.FeatureSettings("101")))
    for k in (
        "DND/101",
        "CW/101",
        "CF/101",
        "CFB/101",
        "CFU/101",
        "AMPUSER/101/cfringtimer",
        "AMPUSER/101/followme/grplist",
        "CLUSTERPBX/101/ooo",
        "CLUSTERPBX/101/conf/enabled",
        "CLUSTERPBX/101/conf/adminpin",
        "CLUSTERPBX/101/conf/star_menu",
    ):
        assert d[k] is None, k
    assert d["AMPUSER/101/followme/ddial"] == "EXTENSION"
    assert d["AMPUSER/101/followme/grpconf"] == "DISABLED"


def test_freepbx_key_names_and_values() -> None:
    s = keys.FeatureSettings(
        "101",
        dnd=True,
        call_waiting=True,
        forward_always="102",
        forward_busy="0612345678",
        forward_no_answer="103",
        no_answer_ring_time=15,
        followme_enabled=True,
        followme_numbers=("201", "15551234567"),
        followme_ring_time=30,
        followme_ring_delay=5,
        followme_confirm=True,
        language="fr",
        out_of_office=True,
    )
    d = as_dict(keys.asterisk_feature_entries(s))
    assert d["DND/101"] == "YES"
    assert d["CW/101"] == "ENABLED"
    assert d["CF/101"] == "102"
    assert d["CFB/101"] == "0612345678"
    assert d["CFU/101"] == "103"
    assert d["AMPUSER/101/cfringtimer"] == "15"
    assert d["AMPUSER/101/followme/ddial"] == "DIRECT"
    assert d["AMPUSER/101/followme/grplist"] == "201-15551234567#"
    assert d["AMPUSER/101/followme/grptime"] == "30"
    assert d["AMPUSER/101/followme/prering"] == "5"
    assert d["AMPUSER/101/followme/grpconf"] == "ENABLED"
    assert d["AMPUSER/101/language"] == "fr"
    assert d["CLUSTERPBX/101/ooo"] == "YES"


def test_conference_keys() -> None:
    conf = PersonalConference(
        owner="101",
        admin_pin="1111",
        user_pin="",
        max_members=6,
        options=ConferenceOptions(announce_count=True, music_on_hold=False),
    )
    d = as_dict(keys.asterisk_feature_entries(keys.FeatureSettings("101", conference=conf)))
    assert d["CLUSTERPBX/101/conf/enabled"] == "YES"
    assert d["CLUSTERPBX/101/conf/adminpin"] == "1111"
    assert d["CLUSTERPBX/101/conf/userpin"] is None
    assert d["CLUSTERPBX/101/conf/maxmembers"] == "6"
    assert d["CLUSTERPBX/101/conf/announce_count"] == "YES"
    assert d["CLUSTERPBX/101/conf/music_on_hold"] is None
    assert d["CLUSTERPBX/101/conf/star_menu"] == "YES"
    disabled = dataclass_replace(conf, enabled=False)
    d = as_dict(keys.asterisk_feature_entries(keys.FeatureSettings("101", conference=disabled)))
    assert all(v is None for k, v in d.items() if "/conf/" in k)


def dataclass_replace(obj, **kw):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(obj, **kw)


def test_tenant_prefix_and_sorting() -> None:
    entries = keys.asterisk_feature_entries(keys.FeatureSettings("101", astdb_prefix="beta-", dnd=True))
    assert ("DND", "beta-101", "YES") in entries
    assert entries == sorted(entries, key=lambda e: (e[0], e[1]))


def test_freeswitch_entries() -> None:
    s = keys.FeatureSettings(
        "101",
        domain="acme.example.com",
        dnd=True,
        forward_busy="102",
        followme_enabled=True,
        followme_numbers=("103", "0612345678"),
        followme_confirm=True,
    )
    d = as_dict(keys.freeswitch_feature_entries(s))
    assert d["cpbx_dnd/101@acme.example.com"] == "true"
    assert d["cpbx_cfb/101@acme.example.com"] == "102"
    assert d["cpbx_cf/101@acme.example.com"] is None
    assert d["cpbx_fm/101@acme.example.com"] == "true"
    assert d["cpbx_fm_list/101@acme.example.com"] == "103-0612345678"
    assert d["cpbx_fm_confirm/101@acme.example.com"] == "true"
    assert d["cpbx_conf/101@acme.example.com"] is None
    realms = {family for family, _k, _v in keys.freeswitch_feature_entries(s)}
    assert set(keys.FS_REALMS.values()) <= realms


@pytest.mark.parametrize(
    "bad",
    [
        {"extension": "10\n1"},
        {"extension": "101", "forward_always": "102\nDND"},
        {"extension": "101", "forward_busy": "1/2"},
        {"extension": "101", "language": "de"},
        {"extension": "101", "astdb_prefix": "a/b"},
        {"extension": "101", "followme_numbers": ("10 1",)},
    ],
)
def test_values_are_validated(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        keys.asterisk_feature_entries(keys.FeatureSettings(**bad))


def test_generated_dialplan_reads_the_same_keys() -> None:
    from clusterpbx.dialplan.asterisk import render_asterisk
    from tests.dialplan.sample import acme

    dp = render_asterisk(acme())["extensions_clusterpbx.conf"]
    for needle in (
        "DB(DND/${CPBX_K})",
        "DB(CW/${CPBX_K})",
        "DB(CF/${CPBX_K})",
        "DB(CFB/${CPBX_K})",
        "DB(CFU/${CPBX_K})",
        "AMPUSER/${CPBX_K}/cfringtimer",
        "AMPUSER/${CPBX_K}/followme/grplist",
        "CLUSTERPBX/${CPBX_K}/ooo",
        "CLUSTERPBX/${CPBX_K}/conf/listen_only_users",
    ):
        assert needle in dp, needle
