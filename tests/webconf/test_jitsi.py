"""Jitsi Meet: the meeting link on the tenant's server, with an HS256 JWT as Prosody's mod_auth_token
checks it when the tenant has an app secret, and none without."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError
from joserfc.jwk import OctKey
from sqlalchemy import select

from clusterpbx.control.models import WebMeeting, WebMeetingSession
from clusterpbx.control.webconf import JitsiProvider, WebconfError, invitation_url, open_meeting, usage

SECRET = "jitsi-app-secret-0123456789abcdef0123"


def _token(url: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    [token] = query["jwt"]
    return token


def test_without_secret_a_plain_room_url_reused_each_time(db, world):
    tenant = world.tenant(webconf_provider="jitsi", webconf_config={"domain": "meet.acme.test"})
    user = world.user(tenant)
    first = open_meeting(db, user)
    assert first.provider == "jitsi"
    assert first.host_url == first.invite_url == f"https://meet.acme.test/{first.meeting_id}"
    assert "jwt" not in first.host_url and first.expires_at is None
    assert first.meeting_id.startswith("cpbx-") and len(first.meeting_id) == 25  # 80 random bits
    again = open_meeting(db, user)
    assert again.meeting_id == first.meeting_id
    rows = db.scalars(select(WebMeeting).where(WebMeeting.user_id == user.id)).all()
    assert len(rows) == 1 and rows[0].tenant_id == tenant.id and rows[0].join_url == first.host_url
    # Jitsi reports no durations: each opening counts as one conference, minutes unknown.
    sessions = db.scalars(select(WebMeetingSession)).all()
    assert len(sessions) == 2 and all(s.minutes is None for s in sessions)
    u = usage(db, user)
    assert (u.meetings, u.minutes, u.minutes_reported) == (2, 0, False)


def test_each_user_gets_their_own_room(db, world):
    tenant = world.tenant()
    a, b = world.user(tenant), world.user(tenant)
    assert open_meeting(db, a).meeting_id != open_meeting(db, b).meeting_id
    assert invitation_url(db, a) != invitation_url(db, b)


def test_signed_jwt_with_the_claims_prosody_checks(db, world):
    tenant = world.tenant(webconf_config={"domain": "meet.acme.test", "app_id": "clusterpbx",
                                          "app_secret": SECRET, "token_minutes": 30})
    user = world.user(tenant, first_name="Léa", last_name="Gagnon", email="lea@acme.test")
    before = int(time.time())
    meeting = open_meeting(db, user)
    assert meeting.host_url.startswith(f"https://meet.acme.test/{meeting.meeting_id}?jwt=")
    token = jwt.decode(_token(meeting.host_url), OctKey.import_key(SECRET))
    assert token.header == {"alg": "HS256", "typ": "JWT"}
    c = token.claims
    assert c["iss"] == "clusterpbx" and c["aud"] == "jitsi" and c["sub"] == "meet.acme.test"
    assert c["room"] == meeting.meeting_id
    assert before + 30 * 60 <= c["exp"] <= int(time.time()) + 30 * 60
    assert c["nbf"] <= before
    assert c["context"]["user"] == {"id": str(user.id), "name": "Léa Gagnon", "email": "lea@acme.test",
                                    "moderator": True}
    # The claims hold under Jitsi's own checks: valid now, expired after exp.
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": "clusterpbx"},
                          aud={"essential": True, "value": "jitsi"}).validate(c)
    with pytest.raises(ExpiredTokenError):
        jwt.JWTClaimsRegistry(now=c["exp"] + 1).validate(c)
    # Signed with the tenant's secret only.
    with pytest.raises(BadSignatureError):
        jwt.decode(_token(meeting.host_url), OctKey.import_key("another-secret-0123456789abcdef"))
    # Guests' link: same room, a token that does not make them moderator, valid for a day.
    guest = jwt.decode(_token(meeting.invite_url), OctKey.import_key(SECRET)).claims
    assert guest["room"] == meeting.meeting_id and guest["context"]["user"] == {"moderator": False}
    assert guest["exp"] - guest["iat"] == 24 * 3600


def test_configurable_audience_subject_and_base_url(db, world):
    tenant = world.tenant(webconf_config={"domain": "meet.acme.test", "base_url": "https://video.acme.test/",
                                          "app_id": "app", "app_secret": SECRET, "audience": "acme-aud",
                                          "subject": "*"})
    meeting = open_meeting(db, world.user(tenant))
    assert meeting.host_url.startswith(f"https://video.acme.test/{meeting.meeting_id}?jwt=")
    claims = jwt.decode(_token(meeting.host_url), OctKey.import_key(SECRET)).claims
    assert claims["aud"] == "acme-aud" and claims["sub"] == "*"


def test_hostile_name_stays_data_in_the_token(db, world):
    tenant = world.tenant(webconf_config={"app_id": "app", "app_secret": SECRET})
    user = world.user(tenant, first_name='<script>"x"', last_name="O'Neil")
    user.last_name = "O'Neil\r\nX-Evil: 1"  # accounts refuse it; a row written by other means must not matter
    db.commit()
    meeting = open_meeting(db, user)
    name = jwt.decode(_token(meeting.host_url), OctKey.import_key(SECRET)).claims["context"]["user"]["name"]
    assert name == '<script>"x" O\'NeilX-Evil: 1'  # control characters removed, the rest is JSON data
    assert "\r" not in meeting.host_url and "\n" not in meeting.host_url


def test_secret_without_app_id_is_a_configuration_error():
    with pytest.raises(WebconfError) as err:
        JitsiProvider({"app_secret": SECRET})
    assert err.value.code == "not_configured"


def test_malformed_jitsi_settings_are_a_configuration_error(db, world):
    user = world.user(world.tenant(webconf_provider="jitsi", webconf_config={"token_minutes": "abc"}))
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == "not_configured"
