"""Each SMS path's length limit is checked before the message is saved (issue 22 item 9: a 1,000-character
text was accepted, then failed as "PBX: Base64Body: too_long"), the limits are the adapters' own, and
every failure reaches the user as a sentence in their language, never the provider's raw words."""

from __future__ import annotations

import base64

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from clusterpbx.ami import validate as ami_validate
from clusterpbx.control import sms
from clusterpbx.control.models import NodeKind, PbxNode, SmsMessage
from clusterpbx.esl import validate as esl_validate
from tests.sms.test_service import allow


def sender(db, world, provider, kind=NodeKind.ASTERISK):
    node = PbxNode(name=f"n-{kind.value}", kind=kind, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    t = world.tenant("acme.test", sms_provider=provider, sms_monthly_quota=100, node_id=node.id)
    u = world.user(t, extension="201")
    allow(db, u, "514")
    return u


def count(db):
    return db.scalar(select(func.count()).select_from(SmsMessage))


def test_the_asterisk_path_counts_bytes_and_refuses_before_saving(db, world):
    user = sender(db, world, "pbx")
    with pytest.raises(sms.SmsRefused) as refused:
        sms.send_sms(db, user, "5149079050", "x" * 1000)
    assert (refused.value.code, refused.value.params["max"]) == ("too_long", "750")
    with pytest.raises(sms.SmsRefused) as refused:
        sms.send_sms(db, user, "5149079050", "é" * 400)  # 400 characters, 800 bytes
    assert refused.value.code == "too_long_bytes"
    assert count(db) == 0
    longest = "x" * 750
    assert sms.send_sms(db, user, "5149079050", longest).body == longest


def test_the_freeswitch_and_http_paths_have_their_own_limits(db, world):
    fs = sender(db, world, "pbx", NodeKind.FREESWITCH)
    assert sms.body_limit(fs.tenant) == sms.BodyLimit(1000)
    with pytest.raises(sms.SmsRefused):
        sms.send_sms(db, fs, "5149079050", "x" * 1001)
    fs.tenant.sms_provider = "twilio"
    db.commit()
    assert sms.body_limit(fs.tenant) == sms.BodyLimit(1600)
    assert sms.send_sms(db, fs, "5149079050", "x" * 1600)
    with pytest.raises(sms.SmsRefused):
        sms.send_sms(db, fs, "5149079050", "x" * 1601)


def test_the_limits_are_what_the_adapters_accept():
    """The longest text each PBX path allows goes through that adapter's validation; one more does not."""
    ascii_max = "x" * sms.AMI_MAX_BODY_BYTES
    accented_max = "é" * (sms.AMI_MAX_BODY_BYTES // 2)
    for text in (ascii_max, accented_max):
        assert sms.BodyLimit(sms.AMI_MAX_BODY_BYTES, sms.AMI_MAX_BODY_BYTES).fits(text)
        ami_validate.header_value(base64.b64encode(text.encode()).decode(), "Base64Body")
    with pytest.raises(ami_validate.InvalidValue):
        ami_validate.header_value(base64.b64encode(("x" * (sms.AMI_MAX_BODY_BYTES + 3)).encode()).decode())
    esl_validate.message_body("x" * sms.FREESWITCH_MAX_BODY)
    with pytest.raises(esl_validate.InvalidValue):
        esl_validate.message_body("x" * (sms.FREESWITCH_MAX_BODY + 1))


def test_every_failure_is_worded_in_both_languages(app):
    from clusterpbx.web.sms import delivery_error_message

    with app.test_request_context():
        generic_en = generic_fr = ""
        with force_locale("en"):
            generic_en = str(delivery_error_message("no-such-code"))
        with force_locale("fr"):
            generic_fr = str(delivery_error_message("no-such-code"))
        seen: set[str] = set()
        for code in sms.ERROR_CODES:
            with force_locale("en"):
                en = str(delivery_error_message(code))
            with force_locale("fr"):
                fr = str(delivery_error_message(code))
            assert en != fr, code  # translated
            if code != "failed":
                assert en != generic_en and fr != generic_fr, code  # a sentence of its own
            assert en not in seen, code
            seen.add(en)


def test_a_pbx_refusal_is_kept_with_a_code_and_shown_in_french(client, auth, db, world):
    user = sender(db, world, "pbx")
    msg = sms.send_sms(db, user, "5149079050", "Bonjour")
    msg.status, msg.error, msg.error_code = "failed", "PBX: Base64Body: too_long", "too_long"
    db.commit()
    auth.login(user.email)
    page = client.get("/sms/").get_data(as_text=True)
    assert "Le message est trop long pour le service SMS." in page
    assert "Base64Body" not in page and "too_long" not in page
