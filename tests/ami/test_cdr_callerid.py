"""The CDR's CallerID field read as Asterisk writes it (ast_callerid_merge + ast_escape_quoted): quotes
and backslash escapes, control characters (raw after their backslash), long names; a name never spills
into the number, and the record's own `src` field gives the number when it is there (issue 22 item 6)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from clusterpbx.ami.cdr import fields_from_event, report_from_event, report_from_fields, split_callerid


def escaped(name: str) -> str:
    """What Asterisk's ast_escape_quoted does to a name (main/utils.c), cut at 127 bytes like name_buf."""
    allowed = lambda c: c in "\t\v !" or "#" <= c <= "[" or "]" <= c <= "~" or ord(c) > 0x7F  # noqa: E731
    out = ""
    for c in name:
        piece = c if allowed(c) else "\\" + c
        if len((out + piece).encode()) > 127:
            break
        out += piece
    return out


@pytest.mark.parametrize(("name", "number"), [
    ("Alice\r\nEvent: Fake", "101"),
    ('Jean "le grand" Tremblay', "102"),
    ("C:\\dossier", "103"),
    ("Mamadou Koné", "203"),
    ("x" * 200, "104"),
    ("Ünïcödé ☎ façade", "+15145550123"),
])
def test_names_as_asterisk_writes_them(name, number):
    field = f'"{escaped(name)}" <{number}>'
    got_name, got_number = split_callerid(field)
    assert got_number == number
    assert "\r" not in got_name and "\n" not in got_name and "\\" not in got_name.replace("C:\\dossier", "")
    expected = " ".join(name.replace("\r", " ").replace("\n", " ").split())
    assert expected.startswith(got_name) and len(got_name) >= min(len(expected), 60)


def test_raw_control_characters_without_escapes_are_cleaned_too():
    assert split_callerid('"Alice\r\nEvent: Fake" <101>') == ("Alice Event: Fake", "101")
    assert split_callerid('"Al \\"Q\\"" <101>') == ('Al "Q"', "101")


@pytest.mark.parametrize(("field", "expected"), [
    ("101", ("", "101")),
    ("<101>", ("", "101")),
    ("Alice", ("Alice", "")),
    ('"Bob" <>', ("Bob", "")),
    ("Jean <103>", ("Jean", "103")),
    ('"Unterminated <101>', ("Unterminated <101>", "")),
    ('"x" <1;01>', ("x", "")),
    ('"x" <101> trailing', ("x", "")),
    ('"x" <101>\r\nEvent: Cdr', ("x", "")),
    ("", ("", "")),
])
def test_odd_fields_never_put_a_name_in_the_number(field, expected):
    assert split_callerid(field) == expected


def test_the_records_src_field_gives_the_number():
    base = {"uniqueid": "1700000000.1", "start": "2026-12-07 10:00:00", "disposition": "ANSWERED",
            "channel": "PJSIP/201-00000001", "dst": "202"}
    tz = ZoneInfo("UTC")
    spoofed = report_from_fields({**base, "clid": '"Boss" <999>', "src": "201"}, tz)
    assert spoofed is not None and (spoofed.caller_name, spoofed.caller_number) == ("Boss", "201")
    hostile = report_from_fields({**base, "clid": '"' + "A" * 300 + '\r\nEvent: Fake" <201>', "src": ""}, tz)
    assert hostile is not None and hostile.caller_number == "201" and hostile.caller_name == "A" * 120
    event = {"Event": "Cdr", "CallerID": '"Léa \\"LG\\" Gagnon" <206>', "Source": "206", "UniqueID": "1.2",
             "StartTime": "2026-12-07 10:00:00", "Disposition": "NO ANSWER", "Channel": "PJSIP/206-01"}
    report = report_from_event(event, tz)
    assert fields_from_event(event)["clid"].startswith('"Léa')
    assert report is not None and (report.caller_name, report.caller_number) == ('Léa "LG" Gagnon', "206")


def test_a_sip_display_name_is_unescaped_once_more_as_asterisk_22_keeps_its_quoted_pairs():
    """Seen on Asterisk 22.10.1 (tests/real/test_asterisk_events.py): a phone sending the display name
    "Jean \\"le grand\\" C:\\\\x" gives this Cdr CallerID, PJSIP having kept the SIP quoted-pairs."""
    tz = ZoneInfo("UTC")
    event = {"Event": "Cdr", "CallerID": '"Jean \\\\\\"le grand\\\\\\" C:\\\\\\\\x" <cpbxlab>', "Source": "cpbxlab",
             "UniqueID": "1.3", "StartTime": "2026-12-07 10:46:00", "Disposition": "ANSWERED",
             "Channel": "PJSIP/cpbxlab-00000002", "Destination": "600", "LastApplication": "Echo"}
    report = report_from_event(event, tz)
    assert report is not None and report.caller_name == 'Jean "le grand" C:\\x'
