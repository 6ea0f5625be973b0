"""Conférence en ligne: a web meeting per user at the tenant's provider, and its usage.

The provider is chosen per tenant (`Tenant.webconf_provider`, configured by `Tenant.webconf_config`,
keys in docs/webconf.md):

- "jitsi" (the default): a room on the tenant's Jitsi Meet server. When the tenant has an app secret
  the links carry an HS256 JWT as Prosody's mod_auth_token checks it (iss = app_id, aud, sub = the
  Jitsi domain or "*", room, nbf, exp, context.user); the host's token makes them moderator, the
  invitation's token does not.
- "zoom": Zoom's REST API with Server-to-Server OAuth (account credentials). The user keeps one
  meeting (type 3, no fixed time) that is reused while Zoom still knows it; the host opens its
  start_url, guests get its join_url. Minutes come from Zoom's past meeting details.

`open_meeting(db, user)` is the entry point for the portal and the REST API; it needs no Flask.
Every failure of the provider is a `WebconfError` with a `code` the caller turns into a message.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import urlpolicy
from .models import Tenant, User, WebMeeting, WebMeetingSession, utcnow
from .validation import has_control_chars

log = logging.getLogger("clusterpbx.webconf")

PROVIDERS = ("jitsi", "zoom")
PROVIDER_LABELS = {"jitsi": "Jitsi Meet", "zoom": "Zoom"}


class WebconfError(Exception):
    """The provider could not give a meeting. `code`: not_configured, auth_failed, rate_limited,
    unavailable, timeout, bad_response, no_meeting."""

    def __init__(self, code: str, detail: str = "", retry_after: int | None = None):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Meeting:
    """What the user gets: `host_url` to open the meeting (as its host), `invite_url` for guests."""

    provider: str
    meeting_id: str
    host_url: str
    invite_url: str
    password: str = ""
    record_id: int | None = None
    expires_at: dt.datetime | None = None  # when host_url stops working (a JWT's exp)


@dataclass(frozen=True)
class Opened:
    """A provider's answer to "give me the user's meeting": `url` is what is stored as join_url."""

    meeting_id: str
    url: str
    host_url: str
    invite_url: str
    password: str = ""
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class SessionReport:
    uuid: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    minutes: int | None


@dataclass
class Usage:
    provider: str
    meetings: int
    minutes: int
    minutes_reported: bool
    sessions: list[WebMeetingSession] = field(default_factory=list)


class Provider(Protocol):
    name: str

    def open(self, user: User, current: WebMeeting | None) -> Opened: ...

    def invite_url(self, meeting: WebMeeting) -> str: ...

    def sessions(self, meeting: WebMeeting, known: set[str]) -> list[SessionReport]: ...


def _clean(value: str, max_length: int) -> str:
    """A display value that goes into a token or an API body: control characters removed, bounded."""
    return "".join(c for c in value if not has_control_chars(c)).strip()[:max_length]


def _utc(ts: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _checked_url(url: str, key: str) -> str:
    """A provider URL from the tenant's settings under the outbound URL policy (https, public host unless
    the operator allows otherwise): the same check as on save, for settings stored before it existed."""
    try:
        return urlpolicy.check_url(url).rstrip("/")
    except urlpolicy.UrlRefused as exc:
        raise WebconfError("not_configured", f"{key}: {exc}") from None


# ---------------------------------------------------------------------------------------------- Jitsi

class JitsiProvider:
    name = "jitsi"

    def __init__(self, config: dict[str, Any], clock: Any = time.time):
        self.domain = str(config.get("domain") or "meet.jit.si").strip().lower()
        self.base_url = _checked_url(str(config.get("base_url") or f"https://{self.domain}"), "base_url")
        self.app_id = str(config.get("app_id") or "")
        self.app_secret = str(config.get("app_secret") or "")
        self.audience = str(config.get("audience") or "jitsi")
        self.subject = str(config.get("subject") or self.domain)
        self.room_prefix = str(config.get("room_prefix") or "cpbx-")
        self.token_minutes = int(config.get("token_minutes") or 120)
        self.invite_hours = int(config.get("invite_hours") or 24)
        self.clock = clock
        if self.app_secret and not self.app_id:
            raise WebconfError("not_configured", "jitsi: app_secret without app_id")

    def _room_url(self, room: str) -> str:
        return f"{self.base_url}/{urllib.parse.quote(room, safe='')}"

    def token(self, room: str, user: dict[str, Any], seconds: int) -> tuple[str, dt.datetime]:
        now = int(self.clock())
        claims = {"iss": self.app_id, "aud": self.audience, "sub": self.subject, "room": room,
                  "iat": now, "nbf": now - 10, "exp": now + seconds, "context": {"user": user}}
        key = OctKey.import_key(self.app_secret)
        token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)
        return token, dt.datetime.fromtimestamp(now + seconds, dt.UTC).replace(tzinfo=None)

    def open(self, user: User, current: WebMeeting | None) -> Opened:
        room = current.meeting_id if current is not None else self.room_prefix + secrets.token_hex(10)
        url = self._room_url(room)
        if not self.app_secret:
            return Opened(meeting_id=room, url=url, host_url=url, invite_url=url)
        host = {"id": str(user.id), "name": _clean(user.display_name, 80), "email": user.email,
                "moderator": True}
        token, expires = self.token(room, host, self.token_minutes * 60)
        return Opened(meeting_id=room, url=url, host_url=f"{url}?jwt={token}",
                      invite_url=self._invite(room), expires_at=expires)

    def _invite(self, room: str) -> str:
        url = self._room_url(room)
        if not self.app_secret:
            return url
        # Guests name themselves in Jitsi's pre-join screen; their token only lets them in, not moderate.
        token, _ = self.token(room, {"moderator": False}, self.invite_hours * 3600)
        return f"{url}?jwt={token}"

    def invite_url(self, meeting: WebMeeting) -> str:
        return self._invite(meeting.meeting_id)

    def sessions(self, meeting: WebMeeting, known: set[str]) -> list[SessionReport]:
        return []  # Jitsi reports no durations; opens are recorded by open_meeting


# ----------------------------------------------------------------------------------------------- Zoom

_TOKENS: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def forget_zoom_tokens() -> None:
    with _TOKENS_LOCK:
        _TOKENS.clear()


class ZoomProvider:
    name = "zoom"

    def __init__(self, config: dict[str, Any], clock: Any = time.monotonic):
        self.account_id = str(config.get("account_id") or "")
        self.client_id = str(config.get("client_id") or "")
        self.client_secret = str(config.get("client_secret") or "")
        self.oauth_url = _checked_url(str(config.get("oauth_url") or "https://zoom.us/oauth/token"), "oauth_url")
        self.api_url = _checked_url(str(config.get("api_url") or "https://api.zoom.us/v2"), "api_url")
        self.host = str(config.get("host") or "me")  # "me", "email" (the portal user's) or a Zoom user id
        self.timeout = float(config.get("timeout") or 10.0)
        self.settings = dict(config.get("meeting_settings") or {"waiting_room": True, "join_before_host": False})
        self.clock = clock
        if not (self.account_id and self.client_id and self.client_secret):
            raise WebconfError("not_configured", "zoom: account_id, client_id and client_secret are required")
        for value in (self.account_id, self.client_id, self.client_secret, self.host):
            if has_control_chars(value):
                raise WebconfError("not_configured", "zoom: control character in the configuration")

    # -- HTTP
    def _request(self, method: str, url: str, **kw: Any) -> Any:
        try:
            # Through the outbound URL policy: the host is resolved, vetted and connected to as vetted.
            with urlpolicy.session() as http:
                resp = http.request(method, url, timeout=self.timeout, allow_redirects=False, **kw)
        except requests.Timeout as exc:
            raise WebconfError("timeout", f"{method} {url}: {exc}") from exc
        except requests.RequestException as exc:
            if urlpolicy.refusal(exc) is not None:
                raise WebconfError("not_configured", f"{method} {url}: {urlpolicy.refusal(exc)}") from exc
            raise WebconfError("unavailable", f"{method} {url}: {exc}") from exc
        return resp

    @staticmethod
    def _failure(resp: Any, what: str) -> WebconfError:
        status = resp.status_code
        try:
            body = resp.json()
        except ValueError:
            body = None
        detail = ""
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("reason") or body.get("error") or "")[:200]
        detail = f"{what} answered {status} {detail}".strip()
        if status in (400, 401) and what == "token":
            return WebconfError("auth_failed", detail)
        if status in (401, 403):
            return WebconfError("auth_failed", detail)
        if status == 429:
            retry = resp.headers.get("Retry-After", "")
            return WebconfError("rate_limited", detail, int(retry) if retry.isdigit() else None)
        if status >= 500:
            return WebconfError("unavailable", detail)
        return WebconfError("bad_response", detail)

    def _json(self, resp: Any, what: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError as exc:
            raise WebconfError("bad_response", f"{what}: not JSON") from exc
        if not isinstance(data, dict):
            raise WebconfError("bad_response", f"{what}: not an object")
        return data

    def access_token(self) -> str:
        """Server-to-Server OAuth: one token per app, reused until a minute before it expires."""
        key = self._cache_key()
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached and cached[1] - 60 > self.clock():
                return cached[0]
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        resp = self._request("POST", self.oauth_url,
                             params={"grant_type": "account_credentials", "account_id": self.account_id},
                             headers={"Authorization": f"Basic {basic}", "Accept": "application/json"})
        if resp.status_code != 200:
            raise self._failure(resp, "token")
        data = self._json(resp, "token")
        token = data.get("access_token")
        if not isinstance(token, str) or not token or has_control_chars(token):
            raise WebconfError("bad_response", "token: no access_token")
        expires_in = data.get("expires_in")
        seconds = int(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600
        with _TOKENS_LOCK:
            _TOKENS[key] = (token, self.clock() + seconds)
        return token

    def _cache_key(self) -> tuple[str, str, str, str]:
        # The secret's digest is part of the key: new credentials take effect at once.
        digest = hashlib.sha256(self.client_secret.encode()).hexdigest()[:16]
        return (self.oauth_url, self.account_id, self.client_id, digest)

    def _drop_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._cache_key(), None)

    def _api(self, method: str, path: str, what: str, **kw: Any) -> Any:
        """One API call with the cached token; a 401 means the token was revoked: one fresh try."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token()}", "Accept": "application/json"}
            resp = self._request(method, self.api_url + path, headers=headers, **kw)
            if resp.status_code == 401 and attempt == 1:
                self._drop_token()
                continue
            return resp
        return resp  # pragma: no cover (the loop always returns)

    def _host_id(self, user: User) -> str:
        return user.email if self.host == "email" else self.host

    # -- Provider
    def open(self, user: User, current: WebMeeting | None) -> Opened:
        data: dict[str, Any] | None = None
        if current is not None and current.meeting_id.isdigit():
            resp = self._api("GET", f"/meetings/{current.meeting_id}", "meeting")
            if resp.status_code == 200:
                data = self._json(resp, "meeting")
            elif resp.status_code not in (404,):
                raise self._failure(resp, "meeting")
        if data is None:
            body = {"topic": _clean(user.display_name, 200) or "ClusterPBX", "type": 3,
                    "settings": self.settings}
            host = urllib.parse.quote(self._host_id(user), safe="@.")
            resp = self._api("POST", f"/users/{host}/meetings", "create", json=body)
            if resp.status_code != 201:
                raise self._failure(resp, "create")
            data = self._json(resp, "create")
        meeting_id = data.get("id")
        join_url, start_url = data.get("join_url"), data.get("start_url")
        if not isinstance(meeting_id, int | str) or not str(meeting_id).isdigit():
            raise WebconfError("bad_response", "meeting without a numeric id")
        for url in (join_url, start_url):
            if not isinstance(url, str) or not url.startswith("https://") or has_control_chars(url):
                raise WebconfError("bad_response", "meeting without https join_url/start_url")
        assert isinstance(join_url, str) and isinstance(start_url, str)
        return Opened(meeting_id=str(meeting_id), url=join_url, host_url=start_url, invite_url=join_url,
                      password=str(data.get("password") or ""))

    def invite_url(self, meeting: WebMeeting) -> str:
        return meeting.join_url

    @staticmethod
    def _uuid_path(uuid: str) -> str:
        # Zoom: a UUID that starts with "/" or contains "//" must be encoded twice.
        once = urllib.parse.quote(uuid, safe="")
        return urllib.parse.quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once

    def sessions(self, meeting: WebMeeting, known: set[str]) -> list[SessionReport]:
        resp = self._api("GET", f"/past_meetings/{meeting.meeting_id}/instances", "instances")
        if resp.status_code == 404:
            return []
        if resp.status_code != 200:
            raise self._failure(resp, "instances")
        instances = self._json(resp, "instances").get("meetings") or []
        reports = []
        for inst in instances if isinstance(instances, list) else []:
            uuid = inst.get("uuid") if isinstance(inst, dict) else None
            if not isinstance(uuid, str) or not uuid or uuid in known or len(uuid) > 128:
                continue
            detail = self._api("GET", f"/past_meetings/{self._uuid_path(uuid)}", "past meeting")
            if detail.status_code == 404:  # still running, or not ended yet: ask again later
                continue
            if detail.status_code != 200:
                raise self._failure(detail, "past meeting")
            d = self._json(detail, "past meeting")
            started = _utc(str(d.get("start_time") or inst.get("start_time") or ""))
            duration = d.get("duration")
            reports.append(SessionReport(uuid=uuid, started_at=started or utcnow(),
                                         ended_at=_utc(str(d.get("end_time") or "")),
                                         minutes=int(duration) if isinstance(duration, int | float) else None))
        return reports


# ------------------------------------------------------------------------------------------- services

def provider_for(tenant: Tenant) -> Provider:
    name = (tenant.webconf_provider or "jitsi").lower()
    config = dict(tenant.webconf_config or {})
    try:
        if name == "jitsi":
            return JitsiProvider(config)
        if name == "zoom":
            return ZoomProvider(config)
    except (TypeError, ValueError) as exc:  # token_minutes=abc, timeout=x, meeting_settings=[...]
        raise WebconfError("not_configured", f"{name}: {exc}") from None
    raise WebconfError("not_configured", f"unknown provider {name!r}")


def current_meeting(db: Session, user: User) -> WebMeeting | None:
    """The user's meeting at their tenant's current provider, if they opened one."""
    return db.scalar(select(WebMeeting).where(WebMeeting.user_id == user.id, WebMeeting.active.is_(True),
                                              WebMeeting.provider == (user.tenant.webconf_provider or "jitsi"))
                     .order_by(WebMeeting.id.desc()).limit(1))


def open_meeting(db: Session, user: User, provider: Provider | None = None) -> Meeting:
    """Give the user their meeting (created the first time, reused after), record it, commit."""
    provider = provider or provider_for(user.tenant)
    current = current_meeting(db, user)
    opened = provider.open(user, current)
    # Whatever a provider answers, the portal shows only http(s) links (never javascript: or data:).
    if not (urlpolicy.is_web_link(opened.host_url) and urlpolicy.is_web_link(opened.invite_url)):
        raise WebconfError("bad_response", "meeting links are not http(s) URLs")
    now = utcnow()
    if current is None or current.meeting_id != opened.meeting_id:
        if current is not None:  # the provider forgot it (deleted at Zoom): keep its usage, stop reusing it
            current.active = False
        current = WebMeeting(user_id=user.id, tenant_id=user.tenant_id, provider=provider.name,
                             meeting_id=opened.meeting_id, join_url=opened.url, minutes=0, created_at=now)
        db.add(current)
    current.join_url = opened.url
    current.last_opened_at = now
    db.flush()
    if provider.name == "jitsi":  # Jitsi reports nothing: count each opening as a meeting
        db.add(WebMeetingSession(meeting_id=current.id, uuid="open-" + secrets.token_hex(8), started_at=now))
    db.commit()
    return Meeting(provider=provider.name, meeting_id=opened.meeting_id, host_url=opened.host_url,
                   invite_url=opened.invite_url, password=opened.password, record_id=current.id,
                   expires_at=opened.expires_at)


def invitation_url(db: Session, user: User, provider: Provider | None = None) -> str | None:
    """The link guests use for the user's current meeting (None before the first opening)."""
    meeting = current_meeting(db, user)
    if meeting is None:
        return None
    link = (provider or provider_for(user.tenant)).invite_url(meeting)
    if not urlpolicy.is_web_link(link):
        raise WebconfError("bad_response", "the invitation link is not an http(s) URL")
    return link


def refresh_usage(db: Session, meeting: WebMeeting, provider: Provider | None = None) -> int:
    """Ask the provider for the meeting's held sessions not yet recorded; returns how many were added."""
    if provider is None:
        tenant = db.get(Tenant, meeting.tenant_id) if meeting.tenant_id else None
        if tenant is None or (tenant.webconf_provider or "jitsi") != meeting.provider:
            return 0
        provider = provider_for(tenant)
    known = set(db.scalars(select(WebMeetingSession.uuid).where(WebMeetingSession.meeting_id == meeting.id)))
    added = 0
    for report in provider.sessions(meeting, known):
        db.add(WebMeetingSession(meeting_id=meeting.id, uuid=report.uuid, started_at=report.started_at,
                                 ended_at=report.ended_at, minutes=report.minutes))
        added += 1
    db.flush()
    meeting.minutes = int(db.scalar(select(func.coalesce(func.sum(WebMeetingSession.minutes), 0))
                                    .where(WebMeetingSession.meeting_id == meeting.id)) or 0)
    meeting.usage_checked_at = utcnow()
    db.commit()
    return added


def refresh_user_usage(db: Session, user: User) -> int:
    added = 0
    for meeting in db.scalars(select(WebMeeting).where(WebMeeting.user_id == user.id,
                                                       WebMeeting.provider == "zoom")):
        added += refresh_usage(db, meeting)
    return added


def refresh_all_usage(db: Session, days: int = 35) -> int:
    """The daemon's job: every Zoom meeting opened in the last `days` days. One tenant's failure
    (bad credentials, Zoom down) is logged and does not stop the others."""
    since = utcnow() - dt.timedelta(days=days)
    added = 0
    meetings = list(db.scalars(select(WebMeeting).where(WebMeeting.provider == "zoom",
                                                        WebMeeting.last_opened_at >= since)))
    for meeting in meetings:
        try:
            added += refresh_usage(db, meeting)
        except WebconfError as exc:
            db.rollback()
            log.warning("web meeting %s: usage not refreshed: %s", meeting.id, exc)
    return added


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    now = now or utcnow()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage(db: Session, user: User, since: dt.datetime | None = None, recent: int = 10) -> Usage:
    """The user's meetings and minutes since `since` (the start of the month by default)."""
    since = since or month_start()
    base = (select(WebMeetingSession).join(WebMeeting, WebMeeting.id == WebMeetingSession.meeting_id)
            .where(WebMeeting.user_id == user.id, WebMeetingSession.started_at >= since))
    rows = list(db.scalars(base.order_by(WebMeetingSession.started_at.desc())))
    provider = user.tenant.webconf_provider or "jitsi"
    return Usage(provider=provider, meetings=len(rows), minutes=sum(r.minutes or 0 for r in rows),
                 minutes_reported=provider == "zoom", sessions=rows[:recent])
