"""Trace calls through the generated Asterisk dialplan with a fake AstDB filled through `keys`."""

from __future__ import annotations

import pytest

from clusterpbx.dialplan import keys
from clusterpbx.dialplan.asterisk import render_asterisk
from clusterpbx.dialplan.model import ConferenceOptions, PersonalConference
from tests.dialplan.sample import acme
from tests.dialplan.tracer import Dialplan, Tracer, evaluate


@pytest.fixture(scope="module")
def dialplan() -> Dialplan:
    return Dialplan.parse(render_asterisk(acme())["extensions_clusterpbx.conf"])


def astdb(*settings: keys.FeatureSettings) -> dict[str, str]:
    db: dict[str, str] = {}
    for s in settings:
        for family, key, value in keys.asterisk_feature_entries(s):
            if value is not None:
                db[f"{family}/{key}"] = value
    return db


def status(result: str):
    return lambda tracer, data: result


def test_expression_evaluator() -> None:
    assert evaluate('"YES"!="" & "x"="x"') == "1"
    assert evaluate('"" != "" | "a" = "b"') == "0"
    assert evaluate("2 < 3") == "1"
    assert evaluate("1 + 1") == "2"


def test_plain_call_rings_all_devices_then_voicemail_unavailable(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("101")), on_dial=status("NOANSWER"))
    t.call("cpbx-acme", "101", endpoint="acme102")
    dials = t.find("Dial")
    assert [d.data for d in dials] == ["PJSIP/acme101&PJSIP/acme101-desk,20"]
    assert t.find("VoiceMail")[0].data == "101@cpbx-acme,u"
    # 101 records its calls (tenant recording on, extension flag on)
    assert t.find("MixMonitor")[0].data.startswith("clusterpbx/acme/2026/11/27/in-")


def test_dnd_goes_to_busy_voicemail_without_dialing(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("102", dnd=True)))
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert t.find("Dial") == []
    assert [e.data for e in t.find("VoiceMail")] == ["102@cpbx-acme,b"]


def test_dnd_with_forward_busy_forwards(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("102", dnd=True, forward_busy="103")))
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert [d.data for d in t.find("Dial")] == ["Local/103@cpbx-acme-leg,60"]


def test_forward_busy_when_phone_busy(dialplan: Dialplan) -> None:
    t = Tracer(
        dialplan,
        astdb=astdb(keys.FeatureSettings("102", forward_busy="0612345678")),
        on_dial=status("BUSY"),
        follow_local=True,
    )
    t.call("cpbx-acme", "102", endpoint="acme101")
    dials = [d.data for d in t.find("Dial")]
    assert dials == ["PJSIP/acme102,20", "Local/0612345678@cpbx-acme-leg,60"]
    # the forward leg goes out with 102's rights (prefix 0 allowed), not with the caller's
    (leg,) = t.legs
    assert leg.channel.variables["CPBX_FWDBY"] == "102"
    assert [d.data for d in leg.find("Dial")] == ["PJSIP/0612345678@operator-trunk"]
    # busy forward failed (BUSY from the fake), so the caller ends in 102's voicemail
    assert t.find("VoiceMail")[0].data == "102@cpbx-acme,u"


def test_forward_to_a_forbidden_number_is_refused_on_the_leg(dialplan: Dialplan) -> None:
    # 103 may not call out: its forward to an external number fails and the caller gets its voicemail
    t = Tracer(
        dialplan,
        astdb=astdb(keys.FeatureSettings("103", forward_always="0612345678")),
        on_dial=lambda tr, data: "CONGESTION",
        follow_local=True,
    )
    t.call("cpbx-acme", "103", endpoint="acme101")
    (leg,) = t.legs
    assert leg.find("Dial") == []
    assert leg.find("Playback") == []  # silent on the leg
    assert [e.data for e in leg.find("Hangup")] == ["21"]
    assert t.find("VoiceMail")[0].data == "103@cpbx-acme,u"


def test_call_waiting_off_and_phone_in_use_is_busy(dialplan: Dialplan) -> None:
    t = Tracer(
        dialplan,
        astdb=astdb(keys.FeatureSettings("101", call_waiting=False)),
        device_states={"PJSIP/acme101": "NOT_INUSE", "PJSIP/acme101-desk": "INUSE"},
    )
    t.call("cpbx-acme", "101", endpoint="acme102")
    assert t.find("Dial") == []
    assert t.find("VoiceMail")[0].data == "101@cpbx-acme,b"


def test_call_waiting_on_rings_despite_phone_in_use(dialplan: Dialplan) -> None:
    t = Tracer(
        dialplan,
        astdb=astdb(keys.FeatureSettings("101", call_waiting=True)),
        device_states={"PJSIP/acme101": "INUSE"},
        on_dial=status("ANSWER"),
    )
    t.call("cpbx-acme", "101", endpoint="acme102")
    assert [d.data for d in t.find("Dial")] == ["PJSIP/acme101&PJSIP/acme101-desk,20"]
    assert t.find("VoiceMail") == []


def test_unregistered_phone_is_not_busy(dialplan: Dialplan) -> None:
    t = Tracer(
        dialplan, astdb=astdb(keys.FeatureSettings("102")), device_states={"PJSIP/acme102": "UNAVAILABLE"}
    )
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert [d.data for d in t.find("Dial")] == ["PJSIP/acme102,20"]


def test_forward_always_skips_ringing(dialplan: Dialplan) -> None:
    t = Tracer(
        dialplan,
        astdb=astdb(keys.FeatureSettings("103", forward_always="101")),
        on_dial=status("ANSWER"),
        follow_local=True,
    )
    t.call("cpbx-acme", "103", endpoint="acme102")
    assert [d.data for d in t.find("Dial")] == ["Local/101@cpbx-acme-leg,60"]
    # the leg rings 101's phones only: no voicemail, no follow-me on the leg
    (leg,) = t.legs
    assert [d.data for d in leg.find("Dial")] == ["PJSIP/acme101&PJSIP/acme101-desk"]
    assert leg.find("VoiceMail") == []


def test_forward_no_answer_with_ring_time(dialplan: Dialplan) -> None:
    s = keys.FeatureSettings("102", forward_no_answer="103", no_answer_ring_time=12)
    t = Tracer(dialplan, astdb=astdb(s), on_dial=lambda tr, data: "NOANSWER" if "PJSIP" in data else "ANSWER")
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert [d.data for d in t.find("Dial")] == ["PJSIP/acme102,12", "Local/103@cpbx-acme-leg,60"]
    assert t.find("VoiceMail") == []


def test_out_of_office_goes_straight_to_voicemail(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("102", out_of_office=True)))
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert t.find("Dial") == []
    # 'u' plays temp.wav when the daemon has put one in the box (app_voicemail prefers it)
    assert t.find("VoiceMail")[0].data == "102@cpbx-acme,u"


FOLLOW_ME = keys.FeatureSettings(
    "102",
    followme_enabled=True,
    followme_numbers=("103", "0612345678"),
    followme_ring_time=25,
    followme_ring_delay=5,
    followme_confirm=True,
)


def test_follow_me_rings_the_own_phone_at_once_and_the_numbers_after_the_delay(dialplan: Dialplan) -> None:
    """The guide: calls go *also* to the follow-me numbers (issue 19 item 8: the own phone never rang).
    One Dial: the phone from the start, each number through the follow-me context, which waits the
    delay and asks press 1; 5 s alone and 25 s together."""
    t = Tracer(dialplan, astdb=astdb(FOLLOW_ME), on_dial=status("NOANSWER"), follow_local=True)
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert [d.data for d in t.find("Dial")] == [
        "PJSIP/acme102&Local/103@cpbx-acme-fm&Local/0612345678@cpbx-acme-fm,30"]
    legs = {leg.exten: leg for leg in t.legs}
    assert [e.data for e in legs["103"].find("Wait")] == ["5"]
    assert [d.data for d in legs["103"].find("Dial")] == ["Local/103@cpbx-acme-leg,,U(cpbx-confirm)"]
    (ring103,) = legs["103"].legs
    assert [d.data for d in ring103.find("Dial")] == ["PJSIP/acme103"]
    (ring_out,) = legs["0612345678"].legs
    assert [d.data for d in ring_out.find("Dial")] == ["PJSIP/0612345678@operator-trunk"]
    # nobody took it (or every number declined): the call goes on as an unanswered one
    assert t.find("VoiceMail")[0].data == "102@cpbx-acme,u"


def test_follow_me_answered(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(FOLLOW_ME), on_dial=status("ANSWER"))
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert t.find("VoiceMail") == []


def test_follow_me_without_confirmation_or_delay(dialplan: Dialplan) -> None:
    s = keys.FeatureSettings("102", followme_enabled=True, followme_numbers=("103",), followme_ring_time=15)
    t = Tracer(dialplan, astdb=astdb(s), on_dial=status("ANSWER"), follow_local=True)
    t.call("cpbx-acme", "102", endpoint="acme101")
    assert [d.data for d in t.find("Dial")] == ["PJSIP/acme102&Local/103@cpbx-acme-fm,15"]
    (leg,) = t.legs
    assert leg.find("Wait") == [] and [d.data for d in leg.find("Dial")] == ["Local/103@cpbx-acme-leg"]
    assert t.find("VoiceMail") == []


@pytest.mark.parametrize(("digit", "declined"), [("1", False), ("2", True), ("", True)])
def test_confirm_routine(dialplan: Dialplan, digit: str, declined: bool) -> None:
    t = Tracer(dialplan, dtmf=[digit] * 3)
    t.call("cpbx-confirm", "s", channeltype="Local")
    assert t.find("Read")[0].data == "CPBX_ACK,followme/options,1,,1,5"
    # CONTINUE ends the number's leg unanswered; nothing set connects it
    assert (t.channel.variables.get("GOSUB_RESULT") == "CONTINUE") is declined


def test_forbidden_prefix_is_refused_with_announcement(dialplan: Dialplan) -> None:
    # 102 may only dial prefix 0: 0 is fine, but a number starting with 1 is not
    t = Tracer(dialplan)
    t.call("cpbx-acme", "15551234567", endpoint="acme102")
    assert t.find("Dial") == []
    assert [e.app for e in t.events][:3] == ["Progress", "Playback", "Hangup"]
    assert t.find("Playback")[0].data == "cannot-complete-as-dialed,noanswer"


def test_internal_only_extension_cannot_dial_out(dialplan: Dialplan) -> None:
    t = Tracer(dialplan)
    t.call("cpbx-acme", "0612345678", endpoint="acme103")  # 103 has no allowed prefixes
    assert t.find("Dial") == []
    assert t.find("Playback")[0].data.startswith("cannot-complete-as-dialed")


def test_allowed_prefix_dials_trunk_and_records(dialplan: Dialplan) -> None:
    t = Tracer(dialplan)
    t.call("cpbx-acme", "0033123456789", endpoint="acme101-desk")  # a device of 101
    assert [d.data for d in t.find("Dial")] == ["PJSIP/0033123456789@operator-trunk"]
    assert t.find("MixMonitor")[0].data.startswith("clusterpbx/acme/2026/11/27/out-")


def test_a_leading_plus_is_not_part_of_the_allowed_prefix(dialplan: Dialplan) -> None:
    """The portal allows +<prefix>... for a prefix (the "+" stripped, control/callsettings.py); the
    dialplan must too, and dial the number as the phone wrote it. 102 may dial 0 only."""
    t = Tracer(dialplan)
    t.call("cpbx-acme", "+0612345678", endpoint="acme102")
    assert [d.data for d in t.find("Dial")] == ["PJSIP/+0612345678@operator-trunk"]
    t = Tracer(dialplan)
    t.call("cpbx-acme", "+15145551234", endpoint="acme102")
    assert t.find("Dial") == []


def test_prefix_check_uses_endpoint_not_caller_id(dialplan: Dialplan) -> None:
    # a phone of 103 pretending (caller id, variables it cannot set anyway) to be 101 gets nothing
    t = Tracer(dialplan)
    t.call(
        "cpbx-acme",
        "0033123456789",
        endpoint="acme103",
        variables={"CALLERID(num)": "101", "CPBX_FWDBY": "101"},
    )
    assert t.find("Dial") == []


def test_tenant_without_trunk_refuses_everything(dialplan: Dialplan) -> None:
    t = Tracer(dialplan)
    t.call("cpbx-beta", "0612345678", endpoint="beta101")
    assert t.find("Dial") == []


def test_personal_conference_user_with_pin(dialplan: Dialplan) -> None:
    conf = acme().tenants[0].conferences[0]
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("101", conference=conf)), dtmf=["2222"])
    t.call("cpbx-acme", "*99101", endpoint="acme102")
    assert t.find("ConfBridge")[0].data == "cpbx-acme-101"
    assert t.confbridge == {
        "bridge,template": "cpbx_bridge",
        "user,template": "cpbx_user",
        "menu,template": "cpbx_menu",
        "bridge,max_members": "8",
        "user,announce_user_count": "yes",
        "user,music_on_hold_when_empty": "yes",
        "user,wait_marked": "yes",
        "user,end_marked": "yes",
        "user,startmuted": "yes",
        "menu,*": "playback_and_continue(conf-usermenu)",
    }


def test_personal_conference_admin_pin(dialplan: Dialplan) -> None:
    conf = acme().tenants[0].conferences[0]
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("101", conference=conf)), dtmf=["0000", "1111"])
    t.call("cpbx-acme", "*99101", endpoint="acme103")
    assert [e.data for e in t.find("Playback")] == ["conf-invalidpin"]
    assert t.confbridge["user,admin"] == "yes"
    assert t.confbridge["user,marked"] == "yes"
    assert "user,startmuted" not in t.confbridge
    assert t.find("ConfBridge")[0].data == "cpbx-acme-101"


def test_personal_conference_owner_needs_no_pin(dialplan: Dialplan) -> None:
    conf = acme().tenants[0].conferences[0]
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("101", conference=conf)))
    t.call("cpbx-acme", "*99101", endpoint="acme101-desk")
    assert t.find("Read") == []
    assert t.confbridge["user,admin"] == "yes"


def test_personal_conference_wrong_pins_hang_up(dialplan: Dialplan) -> None:
    conf = acme().tenants[0].conferences[0]
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("101", conference=conf)), dtmf=["9", "9", "9"])
    t.call("cpbx-acme", "*99101", endpoint="acme102")
    assert t.find("ConfBridge") == []
    assert len(t.find("Read")) == 3


def test_personal_conference_without_pins_or_options(dialplan: Dialplan) -> None:
    conf = PersonalConference(owner="102", options=ConferenceOptions(music_on_hold=False, star_menu=False))
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("102", conference=conf)))
    t.call("cpbx-acme", "*99102", endpoint="acme103")
    assert t.find("Read") == []
    assert t.confbridge["menu,1"] == "toggle_mute"
    assert "menu,*" not in t.confbridge


def test_disabled_conference_is_refused(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("102")))
    t.call("cpbx-acme", "*99102", endpoint="acme103")
    assert t.find("ConfBridge") == []


def test_dnd_toggle_feature_code(dialplan: Dialplan) -> None:
    db: dict[str, str] = {}
    t = Tracer(dialplan, astdb=db)
    t.call("cpbx-acme", "*76", endpoint="acme102")
    assert db == {"DND/102": "YES"}
    assert t.device_states["Custom:DND102"] == "BUSY"
    t = Tracer(dialplan, astdb=db)
    t.call("cpbx-acme", "*76", endpoint="acme102")
    assert db == {}


def test_dnd_toggle_uses_tenant_key_prefix(dialplan: Dialplan) -> None:
    db: dict[str, str] = {}
    Tracer(dialplan, astdb=db).call("cpbx-beta", "*76", endpoint="beta101")
    assert db == {"DND/beta-101": "YES"}
    t = Tracer(dialplan, astdb=db)
    t.call("cpbx-beta", "101", endpoint="beta101")
    assert t.find("VoiceMail")[0].data == "101@cpbx-beta,b"


def test_queue_and_agent_codes(dialplan: Dialplan) -> None:
    t = Tracer(dialplan)
    t.call("cpbx-acme", "700", endpoint="acme101")
    assert t.find("Queue")[0].data == "cpbx-acme-support,,,,300"
    t = Tracer(dialplan)
    t.call("cpbx-acme", "*46", endpoint="acme102")
    assert [a.data for a in t.find("RemoveQueueMember")] and all(
        a.data.endswith(",Local/102@cpbx-acme-leg/n") for a in t.find("RemoveQueueMember"))
    t = Tracer(dialplan)
    t.call("cpbx-acme", "*45", endpoint="acme102")
    added = [a.data for a in t.find("AddQueueMember")]
    assert added and all(d.endswith(",Local/102@cpbx-acme-leg/n") for d in added)
    assert all(d.startswith("cpbx-acme-") for d in added)


def test_voicemail_main_uses_own_box_and_language(dialplan: Dialplan) -> None:
    t = Tracer(dialplan, astdb=astdb(keys.FeatureSettings("103", language="en")))
    t.call("cpbx-acme", "*97", endpoint="acme103")
    assert t.find("VoiceMailMain")[0].data == "103@cpbx-acme"
    assert t.channel.variables["CHANNEL(language)"] == "en"


def test_unknown_endpoint_gets_no_mailbox(dialplan: Dialplan) -> None:
    t = Tracer(dialplan)
    t.call("cpbx-acme", "*97", endpoint="intruder")
    assert t.find("VoiceMailMain") == []


def test_sms_between_phones_and_out_with_prefix_check(dialplan: Dialplan) -> None:
    sender = {"MESSAGE(from)": '"Alice" <sip:acme101-desk@pbx1.example.com>'}
    t = Tracer(dialplan)
    t.call("cpbx-acme-messages", "102", channeltype="Message", variables=sender)
    assert [e.data for e in t.find("MessageSend")] == [
        'pjsip:acme102,"Alice" <sip:acme101-desk@pbx1.example.com>'
    ]
    t = Tracer(dialplan)
    t.call("cpbx-acme-messages", "0612345678", channeltype="Message", variables=sender)
    assert t.find("MessageSend")[0].data.startswith("pjsip:PJSIP/0612345678@sms-provider,")
    # 103 may not send outside, whatever display name it puts in From
    forged = {"MESSAGE(from)": '"x:acme101@y" <sip:acme103@pbx1.example.com>'}
    t = Tracer(dialplan)
    t.call("cpbx-acme-messages", "0612345678", channeltype="Message", variables=forged)
    assert t.find("MessageSend") == []
