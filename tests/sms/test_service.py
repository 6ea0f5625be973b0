"""control/sms.py intake: numbers to E.164, allowed destinations, quotas, text and image checks, segments."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from clusterpbx.control import sms
from clusterpbx.control.images import ImageRejected
from clusterpbx.control.models import DestinationGroup, DestinationPrefix, SmsMessage


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def allow(db, user, *prefixes, name="Local Montréal"):
    g = DestinationGroup(tenant_id=user.tenant_id, name=name, prefixes=[DestinationPrefix(prefix=p) for p in prefixes])
    db.add(g)
    user.destination_groups.append(g)
    db.commit()
    return g


@pytest.fixture
def sender(db, world):
    t = world.tenant("acme.test", sms_provider="twilio", sms_monthly_quota=3)
    u = world.user(t)
    allow(db, u, "514", "438")
    return u


def count(db):
    return db.scalar(select(func.count()).select_from(SmsMessage))


@pytest.mark.parametrize(("raw", "country", "e164"), [
    ("514 907-9050", "CA", "+15149079050"),
    ("(514) 907.9050", "CA", "+15149079050"),
    ("1-514-907-9050", "CA", "+15149079050"),
    ("+33 6 12 34 56 78", "CA", "+33612345678"),
    ("06 12 34 56 78", "FR", "+33612345678"),
])
def test_numbers_become_e164_with_the_tenants_country(raw, country, e164):
    assert sms.normalise_number(raw, country) == e164


@pytest.mark.parametrize(("raw", "code"), [
    ("", "number_required"), ("12", "invalid_number"), ("514907905", "invalid_number"),
    ("abc", "invalid_number"), ("514\r\n9079050", "control_characters"), ("5149079050;x", "invalid_number"),
    ("1-900-555-0199", "premium_number"), ("9" * 60, "invalid_number"),
])
def test_bad_numbers_are_refused(raw, code):
    with pytest.raises(sms.SmsRefused) as exc:
        sms.normalise_number(raw, "CA")
    assert exc.value.code == code


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_message_is_saved_queued_before_anything_is_contacted(db, sender):
    msg = sms.send_sms(db, sender, "514-907-9050", "Patron, on vous attend dans la salle \"Etcetera\"")
    db.expire_all()
    stored = db.get(SmsMessage, msg.id)
    assert (stored.status, stored.to_number, stored.provider, stored.user_id) == (
        "queued", "+15149079050", "twilio", sender.id)
    assert stored.body == "Patron, on vous attend dans la salle \"Etcetera\""


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_allowed_destinations_reuse_the_settings_rule(db, world, sender):
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, sender, "416 555 1234", "hi")  # Toronto: not in 514/438
    assert exc.value.code == "not_allowed" and "Local Montréal (514, 438)" in exc.value.params["rule"]
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, sender, "+33 5 14 12 34 56", "hi")  # France, national digits start with 514
    assert exc.value.code == "not_allowed"
    lonely = world.user(sender.tenant)  # no destination group: internal calls only
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, lonely, "5149079050", "hi")
    assert exc.value.code == "internal_only"
    allow(db, lonely, "1416", name="Canada")
    assert sms.send_sms(db, lonely, "416 555 1234", "hi").to_number == "+14165551234"  # as dialled long distance
    assert count(db) == 1


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_quota_per_tenant_and_month(db, world, sender):
    other = world.user(sender.tenant)
    allow(db, other, "514", name="Local 2")
    now = dt.datetime(2026, 11, 20, 12, 0)
    # Last month's messages and failed ones do not count.
    db.add(SmsMessage(tenant_id=sender.tenant_id, user_id=sender.id, to_number="+15149079050", body="old",
                      status="sent", created_at=dt.datetime(2026, 10, 31, 12, 0)))
    db.add(SmsMessage(tenant_id=sender.tenant_id, user_id=sender.id, to_number="+15149079050", body="x",
                      status="failed", created_at=now))
    db.commit()
    sms.send_sms(db, sender, "5149079050", "1", now=now)
    sms.send_sms(db, other, "5149079050", "2", now=now)
    sms.send_sms(db, sender, "5149079050", "3", now=now)
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, other, "5149079050", "4", now=now)
    assert exc.value.code == "quota_reached" and exc.value.params["quota"] == "3"
    assert count(db) == 5  # nothing stored for the refused one
    # Another tenant has its own quota.
    t2 = world.tenant("other.test", sms_provider="twilio", sms_monthly_quota=1)
    u2 = world.user(t2)
    allow(db, u2, "514")
    assert sms.send_sms(db, u2, "5149079050", "ok", now=now).status == "queued"


def test_quota_month_is_the_tenants_month(db, world):
    t = world.tenant("tz.test", timezone="America/Montreal")
    # 2026-12-01 03:00 UTC is still November 30 in Montréal.
    assert sms.month_start_utc(t, dt.datetime(2026, 12, 1, 3, 0)) == dt.datetime(2026, 11, 1, 4, 0)
    assert sms.month_start_utc(t, dt.datetime(2026, 12, 1, 6, 0)) == dt.datetime(2026, 12, 1, 5, 0)


def test_zero_quota_or_no_provider_means_disabled(db, world):
    t = world.tenant("off.test", sms_monthly_quota=0)
    u = world.user(t)
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, u, "5149079050", "hi")
    assert exc.value.code == "disabled"


def test_line_breaks_are_normalised_and_control_characters_refused(db, sender):
    msg = sms.send_sms(db, sender, "5149079050", "line one\r\nline two\rthree\tend")
    assert msg.body == "line one\nline two\nthree end"
    for evil in ("hi\x00", "hi\x1b[31m", "Action: x\u2028y", "a\u202eb"):
        with pytest.raises(sms.SmsRefused) as exc:
            sms.send_sms(db, sender, "5149079050", evil)
        assert exc.value.code == "control_characters"
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, sender, "5149079050", "x" * (sms.MAX_BODY + 1))
    assert exc.value.code == "too_long"
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, sender, "5149079050", "   \r\n ")
    assert exc.value.code == "empty"


def test_mms_image_checked_by_content_and_size(db, sender):
    msg = sms.send_sms(db, sender, "5149079050", "", png((3000, 2000)))
    assert msg.image[:3] == b"\xff\xd8\xff"  # re-encoded as JPEG, the text may be empty
    assert Image.open(io.BytesIO(msg.image)).size == (1280, 853)
    with pytest.raises(ImageRejected) as exc:
        sms.send_sms(db, sender, "5149079050", "hi", b"%PDF-1.4 not an image")
    assert exc.value.code == "format"
    with pytest.raises(ImageRejected) as exc:
        sms.send_sms(db, sender, "5149079050", "hi", png(), max_image_bytes=100)
    assert exc.value.code == "too_large"
    assert count(db) == 1


def test_pbx_provider_cannot_send_images(db, world):
    t = world.tenant("pbx.test")  # default provider: the PBX
    u = world.user(t)
    allow(db, u, "514")
    with pytest.raises(sms.SmsRefused) as exc:
        sms.send_sms(db, u, "5149079050", "hi", png())
    assert exc.value.code == "mms_unsupported"


def test_history_is_the_users_own(db, world, sender):
    other = world.user(sender.tenant)
    allow(db, other, "514", name="L2")
    mine = sms.send_sms(db, sender, "5149079050", "mine")
    theirs = sms.send_sms(db, other, "5149079050", "theirs")
    assert [m.body for m in sms.history(db, sender)] == ["mine"]
    assert sms.own_message(db, sender, theirs.id) is None and sms.own_message(db, sender, mine.id) is mine


@pytest.mark.parametrize(("text", "encoding", "units", "count"), [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),  # extension table: two septets each
    ("Réunion à 14 h, salle « Etcetera »", "UCS-2", 34, 1),  # guillemets are not GSM-7
    ("é" * 160, "GSM-7", 160, 1),  # é is in the basic table
    ("ê" * 70, "UCS-2", 70, 1),
    ("ê" * 71, "UCS-2", 71, 2),
    ("😀" * 35, "UCS-2", 70, 1),  # surrogate pairs: two units each
])
def test_segments(text, encoding, units, count):
    s = sms.segments(text)
    assert (s.encoding, s.units, s.count) == (encoding, units, count)


def test_twilio_signature_matches_twilios_documented_example():
    # The vector of Twilio's request-validator tests (twilio-python, tests/unit/test_request_validator.py)
    params = {"CallSid": ["CA1234567890ABCDE"], "Caller": ["+14158675309"], "Digits": ["1234"],
              "From": ["+14158675309"], "To": ["+18005551212"]}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sms.twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert sms.twilio_signature("12345", url, {**params, "Digits": ["9"]}) != "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signed_media_url_expires():
    now = dt.datetime(2026, 11, 27, 12, 0)
    path = sms.media_path("k", 7, now)
    _, _, _, mid, expires, sig = path.split("/")
    sig = sig.removesuffix(".jpg")
    assert sms.media_signature_ok("k", 7, int(expires), sig, now)
    assert not sms.media_signature_ok("k", 8, int(expires), sig, now)
    assert not sms.media_signature_ok("other", 7, int(expires), sig, now)
    assert not sms.media_signature_ok("k", 7, int(expires) + 10, sig, now)
    assert not sms.media_signature_ok("k", 7, int(expires), sig, now + sms.MEDIA_TTL + dt.timedelta(seconds=1))


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_retry_picks_queued_messages_and_gives_up_after_a_day(db, sender):
    now = dt.datetime(2026, 11, 20, 12, 0)
    old = sms.send_sms(db, sender, "5149079050", "old", now=now - dt.timedelta(hours=25))
    fresh = sms.send_sms(db, sender, "5149079050", "fresh", now=now - dt.timedelta(minutes=5))
    claimed = sms.send_sms(db, sender, "5149079050", "being sent", now=now - dt.timedelta(minutes=1))
    claimed.claimed_at = now - dt.timedelta(seconds=30)
    db.commit()
    assert sms.due_messages(db, now) == [fresh.id]
    db.expire_all()
    assert (db.get(SmsMessage, old.id).status, db.get(SmsMessage, old.id).error) == (
        "failed", "not sent within 24 hours")
    # A claim left by a daemon that died expires.
    assert sms.due_messages(db, now + sms.CLAIM_TTL) == [fresh.id, claimed.id]
    # Only one claimant wins.
    assert sms._claim(db, fresh.id, now) and not sms._claim(db, fresh.id, now)
