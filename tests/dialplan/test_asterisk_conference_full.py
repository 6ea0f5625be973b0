"""Users waiting for the organiser count towards the personal conference's maximum on Asterisk (ConfBridge's
max_members counts only active users: on the real Asterisk 22 a third user waited in a room of two,
tests/real/test_conference_options.py); the organiser still gets in."""

from __future__ import annotations

from clusterpbx.dialplan import keys
from clusterpbx.dialplan.render import render_node
from tests.dialplan.sample import acme
from tests.dialplan.test_asterisk_behaviour import astdb
from tests.dialplan.tracer import Dialplan, Tracer


def dialplan() -> Dialplan:
    return Dialplan.parse(render_node(acme())["extensions_clusterpbx.conf"])


def test_a_user_is_refused_when_the_room_holds_the_maximum_waiting_users_included() -> None:
    conf = acme().tenants[0].conferences[0]
    db = astdb(keys.FeatureSettings("101", conference=conf))
    full = {"cpbx-acme-101": conf.max_members}
    t = Tracer(dialplan(), astdb=dict(db), dtmf=["2222"], conference_parties=full)
    t.call("cpbx-acme", "*99101", endpoint="acme102")
    assert t.find("ConfBridge") == []
    assert [e.data for e in t.find("Playback")] == ["conf-locked"]
    one_less = Tracer(dialplan(), astdb=dict(db), dtmf=["2222"],
                      conference_parties={"cpbx-acme-101": conf.max_members - 1})
    one_less.call("cpbx-acme", "*99101", endpoint="acme102")
    assert one_less.find("ConfBridge")[0].data == "cpbx-acme-101"
    admin = Tracer(dialplan(), astdb=dict(db), dtmf=["1111"], conference_parties=full)
    admin.call("cpbx-acme", "*99101", endpoint="acme103")
    assert admin.find("ConfBridge")[0].data == "cpbx-acme-101"
