"""mod_json_cdr documents recorded from a real FreeSWITCH 1.10, turned into one report per call."""

from __future__ import annotations

import pytest

from clusterpbx.control.port import CallStatus
from clusterpbx.esl.json_cdr import InvalidCdr, read_error_dir, report_from_body
from tests.components import shared_fixtures

FIXTURES = shared_fixtures()
CDR = FIXTURES / "freeswitch" / "json_cdr"


def reports():
    out = {}
    for f in sorted((CDR / "json_cdr_bodies").glob("*.json")):
        r = report_from_body(f.read_bytes())
        if r is not None:
            out[f.name.split("_", 1)[1][:8]] = r
    return out


def test_one_report_per_call_from_the_a_leg():
    r = reports()
    # Four A-legs in the recordings: three answered 1000->1001 calls and one unanswered call to 1002.
    assert sorted(r) == ["4348e863", "949b432d", "df00da5f", "e859f3a5"]


def test_answered_call():
    r = reports()["4348e863"]
    assert r.status is CallStatus.ANSWERED
    assert (r.caller_number, r.dialed_number, r.source_endpoint, r.destination_endpoint) == ("1000", "1001", "1000",
                                                                                              "1001")
    assert (r.duration_seconds, r.billable_seconds) == (6, 5)
    assert r.started_at.isoformat() == "2026-11-27T17:12:56"


def test_call_that_went_to_voicemail_is_not_answered():
    r = reports()["949b432d"]
    assert r.status is CallStatus.NO_ANSWER and r.destination_endpoint == "1002"


def test_error_directory_is_picked_up():
    got, files = read_error_dir(CDR / "json_cdr_failed_copies")
    assert len(files) == 2 and [x.status for x in got] == [CallStatus.ANSWERED]


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"variables": 3}', b'{"variables": {}}', b"x" * (2 << 20)])
def test_garbage_refused_clearly(body):
    with pytest.raises(InvalidCdr):
        report_from_body(body)
