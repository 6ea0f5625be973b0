"""Small units of the FreeSWITCH adapter: framing errors, json events, translation corner cases,
naming and validation."""

from __future__ import annotations

import pytest

from clusterpbx.control.port import CallEnded, CallRecorded, CallStarted, NodeAddress, RegistrationChanged
from clusterpbx.control.validation import InvalidValue
from clusterpbx.esl import validate
from clusterpbx.esl.adapter import FreeSwitchAdapter, parse_registrations
from clusterpbx.esl.protocol import EslEvent, FrameParser, ProtocolError, parse_json_event


def ev(**headers: str) -> EslEvent:
    h = {k.replace("_", "-") if not k.startswith("variable_") else k: v for k, v in headers.items()}
    return EslEvent(h, list(h.items()))


def test_bad_framing_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Content-Type: text/event-plain\nContent-Length: x1\n\n")
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Content-Type: api/response\nnot a header\n\n")
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Content-Length: 999999999999\n\n")


def test_json_event_with_a_repeated_header_and_a_body() -> None:
    e = parse_json_event(b'{"Event-Name":"BACKGROUND_JOB","X":["a","b"],"Content-Length":"4","_body":"+OK\\n"}')
    assert e.name == "BACKGROUND_JOB" and e.body == "+OK\n"
    assert e.headers["X"] == "a" and ("X", "b") in e.all_headers
    with pytest.raises(ProtocolError):
        parse_json_event(b"[1, 2]")


def test_registration_events_of_every_tenant_domain_are_kept() -> None:
    """Each tenant of the node is a directory domain; its phones register there (issue 21)."""
    from clusterpbx.esl.translate import EventTranslator

    t = EventTranslator(domain="a.example")
    base = {"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register", "user-agent": "Yealink"}
    mine = t.feed(EslEvent({**base, "username": "101", "realm": "a.example",
                            "contact": '"" <sip:101@10.0.0.5:5060>'}))
    other = t.feed(EslEvent({**base, "username": "101-t2", "realm": "b.example",
                             "contact": '"" <sip:101-t2@10.0.0.6:5060>'}))
    assert [type(e) for e in mine + other] == [RegistrationChanged, RegistrationChanged]
    assert mine[0].state.contact == "sip:101@10.0.0.5:5060"  # type: ignore[attr-defined]
    assert (other[0].state.endpoint, other[0].state.contact) == (  # type: ignore[attr-defined]
        "101-t2", "sip:101-t2@10.0.0.6:5060")


def test_a_call_whose_start_was_missed_still_gives_its_record() -> None:
    from clusterpbx.esl.translate import EventTranslator

    t = EventTranslator()
    out = t.feed(EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "a-leg", "Hangup-Cause": "NORMAL_CLEARING",
                           "variable_uuid": "a-leg", "variable_start_epoch": "1795797867",
                           "variable_answer_epoch": "1795797868", "variable_end_epoch": "1795797873",
                           "variable_duration": "6", "variable_billsec": "5", "variable_DIALSTATUS": "SUCCESS",
                           "Caller-Caller-ID-Number": "1000", "Caller-Destination-Number": "1001"}))
    assert [type(e) for e in out] == [CallRecorded]
    assert out[0].record.pbx_call_id == "a-leg"  # type: ignore[attr-defined]


def test_unanswered_call_cause_comes_from_the_dial_status() -> None:
    from clusterpbx.esl.translate import EventTranslator

    t = EventTranslator()
    t.feed(EslEvent({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "a", "Call-Direction": "inbound",
                     "Caller-Caller-ID-Number": "1000", "Caller-Destination-Number": "1001"}))
    out = t.feed(EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "a",
                           "Hangup-Cause": "NORMAL_CLEARING", "variable_DIALSTATUS": "USER_BUSY",
                           "variable_hangup_cause_q850": "16"}))
    ended = [e for e in out if isinstance(e, CallEnded)]
    assert ended and ended[0].cause == "busy" and ended[0].cause_code == 16


def test_originated_leg_is_the_user_calling() -> None:
    from clusterpbx.esl.translate import EventTranslator

    t = EventTranslator()
    (started,) = t.feed(EslEvent({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "o", "Call-Direction": "outbound",
                                  "Caller-Caller-ID-Number": "0000000000", "Caller-Destination-Number": "1000",
                                  "variable_dialed_user": "1000"}))
    assert isinstance(started, CallStarted)
    assert started.call.source_number == "1000" and started.call.destination_number == ""


def test_registration_text_keeps_every_tenant_domain() -> None:
    text = ("\nRegistrations:\n" + "=" * 10 + "\n"
            "Call-ID:    \tx1\nUser:       \t101@a.example\nContact:    \t\"\" <sip:101@10.0.0.5:5060>\n"
            "Agent:      \tYealink\nStatus:     \tRegistered(UDP)(unknown) EXP(x) EXPSECS(30)\n\n"
            "Call-ID:    \tx2\nUser:       \t101-t2@b.example\nContact:    \t\"\" <sip:101-t2@10.0.0.6:5060>\n"
            "Agent:      \tSnom\nStatus:     \tRegistered(UDP)(unknown) EXP(x) EXPSECS(30)\n\n"
            "Total items returned: 2\n")
    regs = parse_registrations(text)
    assert [(r.endpoint, r.contact, r.user_agent, r.registered) for r in regs] == [
        ("101", "sip:101@10.0.0.5:5060", "Yealink", True), ("101-t2", "sip:101-t2@10.0.0.6:5060", "Snom", True)]


def test_agent_naming_and_back() -> None:
    a = FreeSwitchAdapter(NodeAddress(host="127.0.0.1", port=1, sip_domain="pbx.example",
                                      extra={"agent_name": "acme-{user}"}))
    assert a.agent_of("PJSIP/101") == ("acme-101", "101")
    assert a.agent_of("acme-7") == ("acme-7", None)
    assert a.member_interface("acme-101") == "PJSIP/101"
    assert a.member_interface("other-101") == "other-101"
    b = FreeSwitchAdapter(NodeAddress(host="127.0.0.1", port=1, sip_domain="pbx.example"))
    assert b.agent_of("PJSIP/101") == ("101@pbx.example", "101")
    assert b.member_interface("101@pbx.example") == "PJSIP/101"
    with pytest.raises(InvalidValue):
        FreeSwitchAdapter(NodeAddress(host="127.0.0.1", port=1, extra={"agent_name": "{nope}"}))
    with pytest.raises(InvalidValue):
        FreeSwitchAdapter(NodeAddress(host="127.0.0.1", port=1, extra={"context": "a b"}))


def test_validators() -> None:
    assert validate.dial_number("+33 6 12-34.56 78") == "+33612345678"
    assert validate.caller_id_number('"Portail" <0612345678>') == "0612345678"
    assert validate.mailbox("1003", "d.example") == ("1003", "d.example")
    assert validate.mailbox("1003@x.example", "d.example") == ("1003", "x.example")
    assert validate.encoded_text("Pause déjeuner / 1h") == "Pause%20d%C3%A9jeuner%20%2F%201h"
    for bad in ("a b", "a\nb", "a/b", "a'b", ""):
        with pytest.raises(InvalidValue):
            validate.name(bad)
    with pytest.raises(InvalidValue):
        validate.command_line("api a\n\napi b")
    with pytest.raises(InvalidValue):
        validate.header("Job-UUID", "x\ny")
