"""Zoom through its REST API with Server-to-Server OAuth, against a local server answering as Zoom
documents: the requests on the wire, token reuse until expiry, meeting reuse, failures, usage."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from clusterpbx.control.models import WebMeeting, WebMeetingSession
from clusterpbx.control.webconf import (
    WebconfError,
    ZoomProvider,
    open_meeting,
    refresh_all_usage,
    refresh_user_usage,
    usage,
)
from tests.webconf.zoom_server import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET


def _zoom_tenant(world, zoom, **kw):
    return world.tenant(webconf_provider="zoom", webconf_config=zoom.config(**kw))


def test_token_request_and_meeting_creation_on_the_wire(db, world, zoom):
    tenant = _zoom_tenant(world, zoom)
    user = world.user(tenant, first_name="Léa", last_name="Gagnon")
    meeting = open_meeting(db, user)

    token_req, create = zoom.state.requests
    assert token_req.method == "POST" and token_req.path == "/oauth/token"
    assert token_req.query == {"grant_type": ["account_credentials"], "account_id": [ACCOUNT_ID]}
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_req.headers["Authorization"] == f"Basic {basic}"

    assert create.method == "POST" and create.path == "/v2/users/me/meetings"
    assert create.headers["Authorization"] == "Bearer tok-1"
    assert create.headers["Content-Type"] == "application/json"
    assert create.json() == {"topic": "Léa Gagnon", "type": 3,
                             "settings": {"waiting_room": True, "join_before_host": False}}

    assert meeting.provider == "zoom" and meeting.meeting_id == "85746065432"
    assert meeting.host_url == "https://acme.zoom.us/s/85746065432?zak=zakSecret"
    assert meeting.invite_url == "https://acme.zoom.us/j/85746065432?pwd=pwdHash"
    assert meeting.password == "Ab12cd"
    row = db.scalars(select(WebMeeting)).one()
    assert (row.provider, row.meeting_id, row.join_url, row.tenant_id) == (
        "zoom", "85746065432", meeting.invite_url, tenant.id)


def test_meeting_and_token_reused(db, world, zoom):
    user = world.user(_zoom_tenant(world, zoom))
    first = open_meeting(db, user)
    second = open_meeting(db, user)
    assert second.meeting_id == first.meeting_id
    assert [(r.method, r.path) for r in zoom.state.requests] == [
        ("POST", "/oauth/token"), ("POST", "/v2/users/me/meetings"), ("GET", f"/v2/meetings/{first.meeting_id}")]
    assert zoom.seen("GET", "/v2/meetings")[0].headers["Authorization"] == "Bearer tok-1"
    assert db.scalars(select(WebMeeting)).one().meeting_id == first.meeting_id


def test_token_fetched_again_after_expiry(world, zoom):
    tenant = _zoom_tenant(world, zoom)
    now = [1000.0]
    provider = ZoomProvider(tenant.webconf_config, clock=lambda: now[0])
    zoom.state.expires_in = 3600
    assert provider.access_token() == "tok-1"
    now[0] += 3500  # still more than a minute left
    assert provider.access_token() == "tok-1"
    now[0] += 60  # less than a minute left: a new one
    assert provider.access_token() == "tok-2"
    assert len(zoom.seen("POST", "/oauth/token")) == 2


def test_new_credentials_take_effect_at_once(db, world, zoom):
    tenant = _zoom_tenant(world, zoom)
    user = world.user(tenant)
    open_meeting(db, user)
    tenant.webconf_config = zoom.config(client_secret="rotated-and-wrong")
    db.commit()
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)  # not served from the cached token of the old secret
    assert err.value.code == "auth_failed"


def test_revoked_token_is_replaced_once(db, world, zoom):
    user = world.user(_zoom_tenant(world, zoom))
    open_meeting(db, user)
    zoom.state.revoked.add("tok-1")
    open_meeting(db, user)
    gets = zoom.seen("GET", "/v2/meetings")
    assert [g.headers["Authorization"] for g in gets] == ["Bearer tok-1", "Bearer tok-2"]


def test_meeting_deleted_at_zoom_gives_a_new_one(db, world, zoom):
    user = world.user(_zoom_tenant(world, zoom, host="email"), email="lea@acme.test")
    first = open_meeting(db, user)
    assert zoom.seen("POST", "/v2/users")[0].path == "/v2/users/lea@acme.test/meetings"
    del zoom.state.meetings[first.meeting_id]
    second = open_meeting(db, user)
    assert second.meeting_id != first.meeting_id
    rows = db.scalars(select(WebMeeting).order_by(WebMeeting.id)).all()
    assert [(r.meeting_id, r.active) for r in rows] == [(first.meeting_id, False), (second.meeting_id, True)]


@pytest.mark.parametrize(("where", "status", "body", "code"), [
    ("token", 400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, "auth_failed"),
    ("token", 401, {"reason": "Invalid client", "error": "invalid_client"}, "auth_failed"),
    ("token", 503, {"message": "Service Unavailable"}, "unavailable"),
    ("api", 429, {"code": 429, "message": "You have reached the maximum per-second rate limit."}, "rate_limited"),
    ("api", 500, {"code": 500, "message": "Internal error"}, "unavailable"),
    ("api", 404, {"code": 1001, "message": "User does not exist: me."}, "bad_response"),
    ("api", 500, ["not", "an", "object"], "unavailable"),
])
def test_failures_become_coded_errors(db, world, zoom, where, status, body, code):
    user = world.user(_zoom_tenant(world, zoom))
    zoom.state.fail[where] = (status, body)
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == code
    if code == "rate_limited":
        assert err.value.retry_after == 30
    assert db.scalars(select(WebMeeting)).all() == []


def test_bad_credentials_never_reach_the_api(db, world, zoom):
    user = world.user(_zoom_tenant(world, zoom, client_secret="wrong"))
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == "auth_failed" and "Invalid client_id or client_secret" in err.value.detail
    assert [r.path for r in zoom.state.requests] == ["/oauth/token"]


def test_timeout(db, world, zoom):
    user = world.user(_zoom_tenant(world, zoom, timeout=0.3))
    zoom.state.delay = 1.0
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == "timeout"


def test_unreachable(db, world, zoom):
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config=zoom.config(
        oauth_url="http://127.0.0.1:9/oauth/token")))
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == "unavailable"


def test_missing_credentials_is_a_configuration_error(db, world):
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config={"account_id": "a"}))
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == "not_configured"


@pytest.mark.parametrize("config", [{"timeout": "x"}, {"meeting_settings": ["a", "b"]}])
def test_malformed_settings_are_a_configuration_error(db, world, zoom, config):
    user = world.user(_zoom_tenant(world, zoom, **config))
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user)
    assert err.value.code == "not_configured"


def test_usage_from_past_meeting_details(db, world, zoom):
    tenant = _zoom_tenant(world, zoom)
    user = world.user(tenant)
    meeting = open_meeting(db, user)
    zoom.state.instances[meeting.meeting_id] = [
        {"uuid": "4444AAAiAAAAAiAiAiiAii==", "start_time": "2026-11-27T14:00:00Z"},
        {"uuid": "/ajXp112QmuoKj4854875==", "start_time": "2026-11-27T16:00:00Z"},
        {"uuid": "stillRunning==", "start_time": "2026-11-27T20:00:00Z"},  # not in past meetings yet
    ]
    zoom.state.past["4444AAAiAAAAAiAiAiiAii=="] = {
        "uuid": "4444AAAiAAAAAiAiAiiAii==", "id": int(meeting.meeting_id), "host_id": "hostAbc", "type": 3,
        "topic": "x", "user_name": "x", "user_email": "x@acme.test", "start_time": "2026-11-27T14:00:05Z",
        "end_time": "2026-11-27T14:42:10Z", "duration": 42, "total_minutes": 97, "participants_count": 3}
    zoom.state.past["/ajXp112QmuoKj4854875=="] = {
        "uuid": "/ajXp112QmuoKj4854875==", "id": int(meeting.meeting_id), "start_time": "2026-11-27T16:00:00Z",
        "end_time": "2026-11-27T16:15:00Z", "duration": 15, "total_minutes": 15, "participants_count": 1}
    assert refresh_user_usage(db, user) == 2
    paths = [r.path for r in zoom.seen("GET", "/v2/past_meetings")]
    assert paths[0] == f"/v2/past_meetings/{meeting.meeting_id}/instances"
    # Zoom: a UUID starting with "/" is encoded twice; others once.
    assert "/v2/past_meetings/4444AAAiAAAAAiAiAiiAii%3D%3D" in paths
    assert "/v2/past_meetings/%252FajXp112QmuoKj4854875%253D%253D" in paths
    sessions = db.scalars(select(WebMeetingSession).order_by(WebMeetingSession.started_at)).all()
    assert [(s.uuid, s.minutes) for s in sessions] == [("4444AAAiAAAAAiAiAiiAii==", 42),
                                                       ("/ajXp112QmuoKj4854875==", 15)]
    assert str(sessions[0].started_at) == "2026-11-27 14:00:05"
    assert db.scalars(select(WebMeeting)).one().minutes == 57
    # Asked again: nothing counted twice; the running one is added once it has ended.
    zoom.state.past["stillRunning=="] = {"uuid": "stillRunning==", "start_time": "2026-11-27T20:00:00Z",
                                         "end_time": "2026-11-27T20:05:00Z", "duration": 5}
    assert refresh_all_usage(db) == 1
    assert db.scalars(select(WebMeeting)).one().minutes == 62
    u = usage(db, user, since=sessions[0].started_at.replace(hour=0))
    assert (u.meetings, u.minutes, u.minutes_reported) == (3, 62, True)


def test_usage_job_survives_a_failing_tenant(db, world, zoom):
    good = world.user(_zoom_tenant(world, zoom))
    meeting = open_meeting(db, good)
    bad_tenant = world.tenant("bad.test", webconf_provider="zoom", webconf_config=zoom.config())
    bad = world.user(bad_tenant)
    open_meeting(db, bad)
    bad_tenant.webconf_config = zoom.config(client_id="nope")
    db.commit()
    zoom.state.instances[meeting.meeting_id] = [{"uuid": "u1==", "start_time": "2026-11-27T14:00:00Z"}]
    zoom.state.past["u1=="] = {"uuid": "u1==", "start_time": "2026-11-27T14:00:00Z", "duration": 7}
    assert refresh_all_usage(db) == 1
    assert usage(db, good, since=meeting_start()).minutes == 7


def meeting_start():
    import datetime as dt

    return dt.datetime(2026, 11, 1)
