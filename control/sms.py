"""SMS and MMS ("SMS" screen): one-way text messages to mobile phones, sent through a provider chosen
per tenant.

Save first, then send: `send_sms` validates everything and stores the message as *queued* before
anything is contacted; the control daemon then delivers it (`deliver`) through the tenant's provider:

- ``pbx``: a SIP MESSAGE to the tenant's SMS trunk through the PBX port (AMI MessageSend, FreeSWITCH chat);
- ``twilio``: Twilio's REST API (or any Twilio-compatible one), with MMS media served by a signed,
  expiring URL of the portal and delivery reports on a status callback (X-Twilio-Signature checked);
- ``webhook``: a generic JSON POST, with an optional bearer token and HMAC signature.

No Flask and no sockets here except the providers' HTTP calls, which only the daemon makes.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import phonenumbers
import requests
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import urlpolicy, validation
from .callsettings import SettingRefused, check_destination
from .images import ImageRejected, clean_mms_image
from .models import Extension, NodeKind, SmsMessage, Tenant, User, utcnow
from .pbxnames import sip_domain
from .port import PbxError, PbxPort, PbxUnreachable

log = logging.getLogger(__name__)

PROVIDERS = ("pbx", "twilio", "webhook")
STATUSES = ("queued", "sent", "delivered", "failed")
MAX_BODY = 1600  # characters: Twilio's limit, the highest of the paths; body_limit() gives each path's
# What each path accepts. Asterisk's MessageSend carries the text Base64-encoded in one AMI header, and
# the adapter refuses a header value over 1,000 characters (ami/validate.py MAX_HEADER_VALUE; Asterisk
# itself cuts a line at 1,024 bytes): 750 bytes of UTF-8 at most. FreeSWITCH's `chat` takes 1,000
# characters (esl/validate.py MAX_MESSAGE_BODY). tests/sms/test_limits.py holds these to the adapters.
AMI_MAX_BODY_BYTES = 750
FREESWITCH_MAX_BODY = 1000
MAX_NUMBER_INPUT = 40
MEDIA_TTL = dt.timedelta(hours=1)  # how long a provider may fetch an MMS image
CLAIM_TTL = dt.timedelta(minutes=5)  # a send in progress (crash safety: retried after this)
GIVE_UP_AFTER = dt.timedelta(hours=24)  # a message still queued after this is marked failed
DEFAULT_HTTP_TIMEOUT = 4.0  # below the portal's command-channel timeout (5 s)
HISTORY_LIMIT = 100


class SmsRefused(ValueError):
    """The message cannot be accepted; `code` and `params` make the translated message."""

    def __init__(self, field: str, code: str, **params: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.params = params


# Why a message failed, as the portal words it (web/sms/__init__.py delivery_error_message; the API
# gives the code and the provider's English words).
ERROR_CODES = ("disabled", "misconfigured", "pbx_refused", "unreachable", "timeout", "refused", "too_long", "invalid_number",
               "destination_not_supported", "blocked_by_recipient", "unreachable_recipient", "landline",
               "filtered", "undelivered", "expired", "failed")

# Twilio's error codes (https://www.twilio.com/docs/api/errors) that a user can act on.
TWILIO_ERRORS = {"21211": "invalid_number", "21614": "landline", "30006": "landline",
                 "21408": "destination_not_supported", "21612": "destination_not_supported",
                 "21610": "blocked_by_recipient", "30004": "blocked_by_recipient",
                 "30003": "unreachable_recipient", "30005": "unreachable_recipient",
                 "30007": "filtered", "21617": "too_long", "30008": "undelivered"}


class ProviderError(Exception):
    """The provider refused or failed: the message is kept as failed with this text (the provider's or
    the PBX's words, for the operator) and `code` (for the user, in their language)."""

    def __init__(self, detail: str, code: str = "refused"):
        super().__init__(detail)
        self.code = code if code in ERROR_CODES else "failed"


class ProviderUnavailable(Exception):
    """Nobody to hand the message to right now (PBX node down): it stays queued for the retry job."""


# -- the text: line breaks, control characters, length, segments ----------------------------------------

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7, extended characters count 2) or UTF-16 code units (UCS-2)
    count: int  # SMS parts the text is split into
    per_segment: int  # capacity of each part for this length (160/153 or 70/67)


def segments(text: str) -> Segments:
    """How a text travels: GSM-7 when every character is in the GSM 03.38 alphabet, else UCS-2."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return Segments(encoding, units, 1 if units else 0, single)
    return Segments(encoding, units, math.ceil(units / multi), multi)


@dataclass(frozen=True)
class BodyLimit:
    chars: int  # characters of plain text (what the form's counter shows)
    utf8_bytes: int | None = None  # a path that counts bytes: accented letters and emoji take more

    def fits(self, text: str) -> bool:
        return len(text) <= self.chars and (self.utf8_bytes is None or len(text.encode("utf-8")) <= self.utf8_bytes)


def body_limit(tenant: Tenant, provider: str | None = None) -> BodyLimit:
    """What the tenant's SMS path accepts (`provider`: the path of this message, default the tenant's),
    so a message is refused before it is saved, not after."""
    if (provider or tenant.sms_provider) == "pbx":
        node = tenant.node
        if node is not None and node.kind is NodeKind.FREESWITCH:
            return BodyLimit(FREESWITCH_MAX_BODY)
        return BodyLimit(AMI_MAX_BODY_BYTES, AMI_MAX_BODY_BYTES)
    return BodyLimit(MAX_BODY)


def clean_body(raw: str) -> str:
    """Line breaks become plain LF (CR and CRLF too); tabs become spaces; any other control or format
    character is refused, so nothing can break a protocol line further down."""
    if not isinstance(raw, str) or _has_surrogates(raw):
        raise SmsRefused("body", "control_characters")
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if validation.has_control_chars(text.replace("\n", "")):
        raise SmsRefused("body", "control_characters")
    text = text.strip()
    if len(text) > MAX_BODY:
        raise SmsRefused("body", "too_long", max=str(MAX_BODY))
    return text


def _has_surrogates(text: str) -> bool:
    # A lone UTF-16 surrogate (JSON "\\ud800") is not a character: it cannot be stored, counted or sent.
    return any("\ud800" <= c <= "\udfff" for c in text)


# -- numbers ------------------------------------------------------------------------------------------------

_EXTENSION_INPUT = re.compile(r"[0-9]{2,10}")  # an extension as dialled on a phone (validation.extension)


def tenant_extension(db: Session, tenant_id: int, raw: str) -> Extension | None:
    """The extension of the sender's own tenant that `raw` names, else None. Tenants are namespaces:
    "202" is resolved within the sender's tenant only, never to another tenant's 202 on the same node."""
    if not isinstance(raw, str) or validation.has_control_chars(raw):
        return None
    number = raw.strip()
    if not _EXTENSION_INPUT.fullmatch(number):
        return None
    return db.scalar(select(Extension).where(Extension.tenant_id == tenant_id, Extension.number == number))


def endpoint_in_domain(tenant: Tenant, sip_username: str) -> str:
    """An endpoint as the PBX port's send_message takes it: ``<SIP user>@<tenant's SIP domain>``
    (control.pbxnames.sip_domain: FreeSWITCH's directory domain of the tenant, the From's domain on
    Asterisk)."""
    domain = sip_domain(tenant)
    return f"{sip_username}@{domain}" if domain else sip_username

def _national_shape(parsed: phonenumbers.PhoneNumber, country: str) -> bool:
    """A number of the tenant's own country with that country's general shape (NANP: ten digits, the area
    code not starting with 0 or 1): numbering plans change faster than the metadata's per-exchange lists,
    and the guide's own example, 5141231234, is not in them."""
    home = (country or "CA").upper()
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(home)
    if metadata is None or parsed.country_code != metadata.country_code:
        return False
    pattern = metadata.general_desc.national_number_pattern if metadata.general_desc else None
    national = phonenumbers.national_significant_number(parsed)
    return bool(pattern and re.fullmatch(pattern, national))


def normalise_number(raw: str, country: str) -> str:
    """The number as E.164 (+15141231234), read with the tenant's default country when it has no +."""
    if not isinstance(raw, str) or validation.has_control_chars(raw) or _has_surrogates(raw):
        raise SmsRefused("to", "control_characters", number="")
    shown = raw.strip()[:MAX_NUMBER_INPUT]
    if not shown:
        raise SmsRefused("to", "number_required", number="")
    if len(raw.strip()) > MAX_NUMBER_INPUT or not re.fullmatch(r"[0-9+()./\s\-]+", raw.strip()):
        raise SmsRefused("to", "invalid_number", number=shown)
    try:
        parsed = phonenumbers.parse(raw.strip(), (country or "CA").upper())
    except phonenumbers.NumberParseException:
        raise SmsRefused("to", "invalid_number", number=shown) from None
    if not phonenumbers.is_valid_number(parsed) and not _national_shape(parsed, country):
        raise SmsRefused("to", "invalid_number", number=shown)
    kind = phonenumbers.number_type(parsed)
    if kind in (phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST):
        raise SmsRefused("to", "premium_number", number=shown)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _check_destination(db: Session, user: User, number: str) -> None:
    try:
        check_destination(db, user, number, "to")
    except SettingRefused as exc:
        raise SmsRefused("to", exc.code, number=number, rule=exc.params.get("rule", "")) from None


def check_allowed(db: Session, user: User, e164: str) -> None:
    """The user's allowed destinations (control.callsettings.check_destination, the rule the settings
    screen applies and the dialplan enforces on calls). A number of the tenant's own country is checked
    as the user would dial it (national form, e.g. 5141231234) and in its international digits
    (15141231234); a foreign number only in its international digits."""
    parsed = phonenumbers.parse(e164)
    candidates = [e164.lstrip("+")]
    if phonenumbers.region_code_for_number(parsed) == (user.tenant.default_country or "CA").upper():
        national = re.sub(r"\D", "", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))
        candidates += [national, phonenumbers.national_significant_number(parsed)]
    refusal: SettingRefused | None = None
    for number in dict.fromkeys(candidates):
        try:
            check_destination(db, user, number, "to")
            return
        except SettingRefused as exc:
            refusal = refusal or exc
    assert refusal is not None
    raise SmsRefused("to", refusal.code, number=e164, rule=refusal.params.get("rule", ""))


# -- quota ----------------------------------------------------------------------------------------------------

def month_start_utc(tenant: Tenant, now: dt.datetime | None = None) -> dt.datetime:
    """The first instant of the current month in the tenant's time zone, as naive UTC."""
    now = now or utcnow()
    tz = ZoneInfo(tenant.timezone or "UTC")
    local = now.replace(tzinfo=dt.UTC).astimezone(tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def month_usage(db: Session, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Messages of the tenant this month that count against the quota (all but the failed ones)."""
    return int(db.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.tenant_id == tenant.id, SmsMessage.created_at >= month_start_utc(tenant, now),
        SmsMessage.status != "failed")) or 0)


# -- intake (the portal, the REST API) --------------------------------------------------------------------------

def send_sms(db: Session, user: User, to: str, body: str, image: bytes | None = None, *,
             now: dt.datetime | None = None, max_image_bytes: int | None = None) -> SmsMessage:
    """Validate and store the message as queued (committed); the caller then asks the daemon to send it
    (`cmd_sms_send`). Raises SmsRefused (nothing stored) or ImageRejected."""
    tenant = user.tenant
    provider = tenant.sms_provider if tenant.sms_provider in PROVIDERS else ""
    if not provider or tenant.sms_monthly_quota <= 0:
        raise SmsRefused("to", "disabled")
    text = clean_body(body)
    internal = tenant_extension(db, tenant.id, to)
    if internal is not None:
        # An extension of the sender's own tenant: the allowed-destinations rule of calls decides, as for
        # any number (an extension of the tenant passes it); the message goes through the PBX, where the
        # extension is, whatever carries the tenant's SMS to mobiles.
        destination = internal.number
        _check_destination(db, user, destination)
        provider = "pbx"
    else:
        destination = normalise_number(to, tenant.default_country)
        check_allowed(db, user, destination)
    limit = body_limit(tenant, provider)
    if not limit.fits(text):
        raise SmsRefused("body", "too_long_bytes" if limit.utf8_bytes and len(text) <= limit.chars else "too_long",
                         max=str(limit.chars))
    if provider == "pbx" and user.primary_extension is None:
        raise SmsRefused("to", "no_extension")
    data: bytes | None = None
    if image:
        if provider == "pbx":
            raise SmsRefused("image", "mms_unsupported")
        data = clean_mms_image(image, **({"max_bytes": max_image_bytes} if max_image_bytes else {})).data
    if not text and data is None:
        raise SmsRefused("body", "empty")
    # One message at a time per tenant past this point (PostgreSQL row lock), so the quota holds.
    db.execute(select(Tenant.id).where(Tenant.id == tenant.id).with_for_update())
    if month_usage(db, tenant, now) >= tenant.sms_monthly_quota:
        db.rollback()
        raise SmsRefused("to", "quota_reached", quota=str(tenant.sms_monthly_quota))
    msg = SmsMessage(tenant_id=tenant.id, user_id=user.id, to_number=destination, body=text, image=data,
                     status="queued", provider=provider, created_at=now or utcnow())
    db.add(msg)
    db.commit()
    return msg


def history(db: Session, user: User, limit: int = HISTORY_LIMIT) -> list[SmsMessage]:
    """The user's own messages, newest first."""
    return list(db.scalars(select(SmsMessage).where(SmsMessage.user_id == user.id)
                           .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc()).limit(limit)))


def own_message(db: Session, user: User, message_id: int) -> SmsMessage | None:
    msg = db.get(SmsMessage, message_id)
    return msg if msg is not None and msg.user_id == user.id else None


# -- signed media URLs and status callbacks ----------------------------------------------------------------------

def _media_sig(secret: str, message_id: int, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"sms-media:{message_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def media_path(secret: str, message_id: int, now: dt.datetime | None = None, ttl: dt.timedelta = MEDIA_TTL) -> str:
    expires = int(((now or utcnow()) + ttl).replace(tzinfo=dt.UTC).timestamp())
    return f"/sms/media/{message_id}/{expires}/{_media_sig(secret, message_id, expires)}.jpg"


def media_signature_ok(secret: str, message_id: int, expires: int, sig: str, now: dt.datetime | None = None) -> bool:
    if expires < int((now or utcnow()).replace(tzinfo=dt.UTC).timestamp()):
        return False
    return hmac.compare_digest(_media_sig(secret, message_id, expires).encode(), sig.encode())


def callback_path(message_id: int) -> str:
    return f"/sms/status/{message_id}"


def twilio_signature(auth_token: str, url: str, params: Mapping[str, list[str]]) -> str:
    """Twilio's X-Twilio-Signature: Base64(HMAC-SHA1(auth token, URL + each POST parameter's name and
    value, sorted by name; a repeated value once, as Twilio's own validator does))."""
    data = url + "".join(k + v for k in sorted(params) for v in sorted(set(params[k])))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 2}
TWILIO_STATUSES = {"sent": "sent", "delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def apply_status(db: Session, msg: SmsMessage, status: str, error: str = "", now: dt.datetime | None = None,
                 code: str = "undelivered") -> bool:
    """A delivery report: moves the status forward only (a late "sent" never undoes "delivered")."""
    if status not in _RANK or _RANK[status] <= _RANK.get(msg.status, 0):
        return False
    msg.status = status
    msg.status_at = now or utcnow()
    if status == "failed":
        msg.error = safe_text(error) or "failed"
        msg.error_code = code if code in ERROR_CODES else "undelivered"
    db.commit()
    return True


def handle_status_callback(db: Session, message_id: int, *, url: str, form: Mapping[str, list[str]],
                           raw_body: bytes, headers: Mapping[str, str]) -> str:
    """Authenticate a provider's delivery report and apply it. Returns "ok", "not_found" or "forbidden"."""
    msg = db.get(SmsMessage, message_id)
    if msg is None or not msg.provider_message_id:
        return "not_found"
    tenant = db.get(Tenant, msg.tenant_id)
    cfg = dict(tenant.sms_config or {}) if tenant else {}
    if msg.provider == "twilio":
        token = str(cfg.get("auth_token", ""))
        given = headers.get("X-Twilio-Signature", "")
        if not token or not hmac.compare_digest(twilio_signature(token, url, form).encode(), given.encode()):
            return "forbidden"
        if (form.get("MessageSid") or form.get("SmsSid") or [""])[0] != msg.provider_message_id:
            return "forbidden"
        status = TWILIO_STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or [""])[0], "")
        code = (form.get("ErrorCode") or [""])[0]
        apply_status(db, msg, status, f"Twilio error {code}" if code else "undelivered",
                     code=TWILIO_ERRORS.get(code, "undelivered"))
        return "ok"
    if msg.provider == "webhook":
        secret = str(cfg.get("hmac_secret", ""))
        given = headers.get("X-ClusterPBX-Signature", "")
        if not secret or not hmac.compare_digest(webhook_signature(secret, raw_body).encode(), given.encode()):
            return "forbidden"
        try:
            report = json.loads(raw_body)
        except ValueError:
            return "forbidden"
        if not isinstance(report, dict) or str(report.get("id", "")) != msg.provider_message_id:
            return "forbidden"
        apply_status(db, msg, str(report.get("status", "")), str(report.get("error", "")))
        return "ok"
    return "not_found"


def safe_text(value: Any, limit: int = 300) -> str:
    """A provider's words made safe to store and show: one line, no control characters, bounded."""
    text = "".join(" " if validation.has_control_chars(c) else c for c in str(value))
    return " ".join(text.split())[:limit]


# -- providers ----------------------------------------------------------------------------------------------------

@dataclass
class Outgoing:
    """What a provider needs, read from the database before anything is contacted."""

    message_id: int
    to: str
    body: str
    has_image: bool
    from_endpoint: str  # PBX path: the sender's endpoint in its tenant's domain (endpoint_in_domain)
    to_endpoint: str = ""  # PBX path, to an extension of the tenant: its endpoint (else `to` is a number)
    media_url: str = ""
    callback_url: str = ""
    config: dict[str, Any] = field(default_factory=dict)


class SmsProvider(Protocol):
    name: str

    async def send(self, out: Outgoing) -> str:
        """Hand the message over; return the provider's message id ("" if none)."""


class PbxProvider:
    """SIP MESSAGE through the tenant's PBX node to its SMS trunk (`trunk` in sms_config)."""

    name = "pbx"

    def __init__(self, port: PbxPort | None):
        self.port = port

    async def send(self, out: Outgoing) -> str:
        if self.port is None or not self.port.connected:
            raise ProviderUnavailable("the telephone system is not connected")
        try:
            if out.to_endpoint:  # an extension: straight to its phone, never out through the trunk
                await self.port.send_message(out.from_endpoint, out.to_endpoint, out.body)
            else:  # without a trunk, to the number on the PBX itself (as before: only the PBX can route it)
                await self.port.send_message(out.from_endpoint, out.to, out.body, pbx_trunk(out.config))
        except PbxUnreachable as exc:
            raise ProviderUnavailable(str(exc)) from None
        except PbxError as exc:
            raise ProviderError(f"PBX: {safe_text(exc)}", "pbx_refused") from None
        except validation.InvalidValue as exc:
            code = {"too_long": "too_long", "invalid_number": "invalid_number"}.get(exc.code, "misconfigured")
            raise ProviderError(f"PBX: {exc.field}: {exc.code}", code) from None
        return ""


# -- the settings (tenants.sms_config, edited as key=value lines: control/admin/tenants.py) ----------------------

_TRUNK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")  # a PJSIP endpoint or a sofia gateway/host
_TRUNK_HOST = re.compile(r"(?=[A-Za-z0-9.\-]{1,253}:)[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*:([0-9]{1,5})")


def trunk_problem(value: Any) -> str | None:
    """Why `value` cannot be the `pbx` provider's trunk (None: it can): a PJSIP endpoint or FreeSWITCH
    host/gateway name, or a SIP host with its port (``trunk.example.com:5080``)."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        return "invalid_trunk"
    m = _TRUNK_HOST.fullmatch(value)
    if m is not None:
        return None if 0 < int(m.group(1)) < 65536 else "invalid_trunk"
    return None if _TRUNK_NAME.fullmatch(value) else "invalid_trunk"


def config_of(tenant: Tenant) -> dict[str, Any]:
    """The tenant's provider settings as a dict; anything else stored behind the portal's back (a list,
    a string...) is "misconfigured", never a crash."""
    cfg = tenant.sms_config
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ProviderError("SMS provider misconfigured: the settings are not key=value pairs", "misconfigured")
    return dict(cfg)


def pbx_trunk(config: Any) -> str:
    """The `pbx` provider's trunk from its settings, "" when none is set; a malformed one is
    "misconfigured". The generated dialplans read the same key (dialplan/from_db.py)."""
    value = config.get("trunk", "") if isinstance(config, dict) else ""
    if value in ("", None):
        return ""
    if trunk_problem(value):
        raise ProviderError("SMS provider misconfigured: trunk", "misconfigured")
    return str(value)


def config_problems(provider: str, config: Any) -> dict[str, str]:
    """Settings that cannot work for `provider`: key -> code (checked when an operator saves them)."""
    if not isinstance(config, dict):
        return {"": "not_key_value"}
    problems: dict[str, str] = {}
    if provider == "pbx" and config.get("trunk") not in ("", None):
        code = trunk_problem(config.get("trunk"))
        if code:
            problems["trunk"] = code
    return problems


def _http_url(value: Any, what: str) -> str:
    # The outbound URL policy (https, public host unless the operator allows otherwise); checked on save
    # too, and again on connection by the transport.
    try:
        url = urlpolicy.check_url(str(value or ""))
    except urlpolicy.UrlRefused as exc:
        log.info("SMS provider URL %s refused: %s", what, exc)
        raise ProviderError(f"SMS provider misconfigured: {what}", "misconfigured") from None
    return url.rstrip("/")


def _timeout(cfg: Mapping[str, Any]) -> float:
    try:
        return max(0.5, min(float(cfg.get("timeout", DEFAULT_HTTP_TIMEOUT)), DEFAULT_HTTP_TIMEOUT))
    except (TypeError, ValueError):
        return DEFAULT_HTTP_TIMEOUT


def _post(url: str, timeout: float, **kw: Any) -> Any:
    try:
        with urlpolicy.session() as http:
            return http.post(url, timeout=timeout, allow_redirects=False, **kw)
    except requests.Timeout:
        raise ProviderError(f"the SMS provider did not answer within {timeout:g} s", "timeout") from None
    except requests.RequestException as exc:
        refused = urlpolicy.refusal(exc)
        if refused is not None:
            raise ProviderError(f"SMS provider misconfigured: address not allowed ({refused})", "misconfigured") from None
        raise ProviderError(f"the SMS provider cannot be reached ({type(exc).__name__})", "unreachable") from None


def _config_value(cfg: Mapping[str, Any], key: str) -> str:
    value = str(cfg.get(key, "") or "")
    if not value or validation.has_control_chars(value):
        raise ProviderError(f"SMS provider misconfigured: {key}", "misconfigured")
    return value


class TwilioProvider:
    """Twilio's Messages API (form-encoded, basic auth); any Twilio-compatible API through `api_base`."""

    name = "twilio"

    async def send(self, out: Outgoing) -> str:
        cfg = out.config
        sid = _config_value(cfg, "account_sid")
        token = _config_value(cfg, "auth_token")
        if not re.fullmatch(r"[A-Za-z0-9]{1,64}", sid):
            raise ProviderError("SMS provider misconfigured: account_sid", "misconfigured")
        base = _http_url(cfg.get("api_base") or "https://api.twilio.com", "api_base")
        form: list[tuple[str, str]] = [("To", out.to)]
        sender = _config_value(cfg, "from")
        form.append(("MessagingServiceSid" if sender.startswith("MG") else "From", sender))
        if out.body:
            form.append(("Body", out.body))
        if out.media_url:
            form.append(("MediaUrl", out.media_url))
        if out.callback_url:
            form.append(("StatusCallback", out.callback_url))
        url = f"{base}/2010-04-01/Accounts/{sid}/Messages.json"
        resp = await asyncio.to_thread(_post, url, _timeout(cfg), data=form, auth=(sid, token))
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if resp.status_code >= 300:
            detail = answer.get("message") or resp.reason or ""
            code = f" ({answer['code']})" if answer.get("code") else ""
            kind = TWILIO_ERRORS.get(str(answer.get("code", "")),
                                     "misconfigured" if resp.status_code in (401, 403, 404) else "refused")
            raise ProviderError(safe_text(f"Twilio refused the message: HTTP {resp.status_code} {detail}{code}"), kind)
        return safe_text(answer.get("sid", ""), 128)


class WebhookProvider:
    """A JSON POST to the tenant's URL (optional bearer token, optional HMAC-SHA256 of the body)."""

    name = "webhook"

    async def send(self, out: Outgoing) -> str:
        cfg = out.config
        url = _http_url(cfg.get("url"), "url")
        payload = {"message_id": out.message_id, "to": out.to, "body": out.body, "from": str(cfg.get("from", "")),
                   "media_url": out.media_url or None, "status_callback": out.callback_url or None}
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if cfg.get("bearer_token"):
            headers["Authorization"] = f"Bearer {_config_value(cfg, 'bearer_token')}"
        if cfg.get("hmac_secret"):
            headers["X-ClusterPBX-Signature"] = webhook_signature(_config_value(cfg, "hmac_secret"), body)
        resp = await asyncio.to_thread(_post, url, _timeout(cfg), data=body, headers=headers)
        if resp.status_code >= 300:
            raise ProviderError(safe_text(f"the SMS gateway refused the message: HTTP {resp.status_code} "
                                          f"{resp.text[:200]}"),
                                "misconfigured" if resp.status_code in (401, 403, 404) else "refused")
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        return safe_text(answer.get("id", ""), 128) if isinstance(answer, dict) else ""


# -- delivery (the control daemon) ------------------------------------------------------------------------------

@dataclass
class SmsContext:
    """What the daemon gives the delivery: the PBX port of a tenant, the portal's public URL and key."""

    port_for_tenant: Callable[[Tenant], PbxPort | None]
    public_url: str
    secret_key: str


def _claim(db: Session, message_id: int, now: dt.datetime) -> bool:
    taken = db.connection().execute(
        update(SmsMessage)
        .where(SmsMessage.id == message_id, SmsMessage.status == "queued",
               (SmsMessage.claimed_at.is_(None)) | (SmsMessage.claimed_at < now - CLAIM_TTL))
        .values(claimed_at=now, attempts=SmsMessage.attempts + 1)
    ).rowcount
    db.commit()
    return bool(taken)


async def deliver(sessions: sessionmaker[Session], message_id: int, ctx: SmsContext,
                  now: Callable[[], dt.datetime] = utcnow) -> dict[str, str]:
    """Send one queued message through its tenant's provider and record the outcome. A message being
    sent elsewhere, or already sent, is left alone.

    Three short transactions, none open while the provider or the PBX is talked to, each in a worker
    thread so the daemon's event loop never waits on the database: claim the message and read what the
    send needs; send; record the outcome (docs/transactions.md)."""

    def claim() -> tuple[dict[str, str] | None, Outgoing | None, SmsProvider | ProviderError | None]:
        with sessions() as db:
            if not _claim(db, int(message_id), now()):
                msg = db.get(SmsMessage, int(message_id))
                if msg is None:
                    raise LookupError("no such message")
                return {"status": msg.status, "error": msg.error}, None, None
            msg = db.get(SmsMessage, int(message_id))
            assert msg is not None
            tenant = db.get(Tenant, msg.tenant_id)
            user = db.get(User, msg.user_id)
            assert tenant is not None and user is not None
            ext = user.primary_extension
            base = ctx.public_url.rstrip("/")
            out = Outgoing(message_id=msg.id, to=msg.to_number, body=msg.body, has_image=msg.image is not None,
                           from_endpoint=endpoint_in_domain(tenant, ext.sip_username) if ext else "")
            try:
                out.config = config_of(tenant)
                if not msg.to_number.startswith("+"):
                    # An extension of the sender's tenant, resolved now within that tenant to its endpoint.
                    target = tenant_extension(db, tenant.id, msg.to_number)
                    if target is None:
                        raise ProviderError(f"no extension {safe_text(msg.to_number, 32)} in the company",
                                            "invalid_number")
                    out.to_endpoint = endpoint_in_domain(tenant, target.sip_username)
            except ProviderError as exc:
                db.commit()
                return None, out, exc
            if msg.provider != "pbx":
                out.callback_url = base + callback_path(msg.id)
                if msg.image is not None:
                    out.media_url = base + media_path(ctx.secret_key, msg.id, now())
            provider: SmsProvider | None = None
            if msg.provider == "pbx":
                provider = PbxProvider(ctx.port_for_tenant(tenant))
            elif msg.provider == "twilio":
                provider = TwilioProvider()
            elif msg.provider == "webhook":
                provider = WebhookProvider()
            db.commit()  # the claim; nothing stays open while the provider is called
            return None, out, provider

    def release() -> None:
        with sessions() as db:
            db.execute(update(SmsMessage).where(SmsMessage.id == message_id).values(claimed_at=None))
            db.commit()

    done, out, provider = await asyncio.to_thread(claim)
    if done is not None:
        return done
    if isinstance(provider, ProviderError):
        log.info("sms %s failed: %s", message_id, safe_text(provider))
        return await asyncio.to_thread(_record, sessions, message_id, "failed", safe_text(provider) or "failed",
                                       provider.code, now)
    if provider is None or out is None:
        return await asyncio.to_thread(_record, sessions, message_id, "failed", "no SMS provider configured",
                                       "disabled", now)
    try:
        provider_id = await provider.send(out)
    except ProviderUnavailable as exc:
        await asyncio.to_thread(release)
        return {"status": "queued", "error": safe_text(exc)}
    except ProviderError as exc:
        log.info("sms %s failed: %s", message_id, safe_text(exc))
        return await asyncio.to_thread(_record, sessions, message_id, "failed", safe_text(exc) or "failed",
                                       exc.code, now)
    return await asyncio.to_thread(_record, sessions, message_id, "sent", "", "", now, provider_id)


def _record(sessions: sessionmaker[Session], message_id: int, status: str, error: str, code: str,
            now: Callable[[], dt.datetime], provider_id: str = "") -> dict[str, str]:
    with sessions() as db:
        msg = db.get(SmsMessage, int(message_id))
        if msg is None:
            raise LookupError("no such message")
        msg.status, msg.error, msg.error_code, msg.status_at = status, error, code, now()
        if status == "sent":
            msg.provider_message_id, msg.sent_at = provider_id, msg.status_at
        db.commit()
    return {"status": status, "error": error, "error_code": code}


def due_messages(db: Session, now: dt.datetime, limit: int = 100) -> list[int]:
    """Queued messages to (re)try; those queued for too long are marked failed instead."""
    stale = db.scalars(select(SmsMessage).where(SmsMessage.status == "queued",
                                                SmsMessage.created_at < now - GIVE_UP_AFTER)).all()
    for msg in stale:
        msg.status, msg.error, msg.error_code, msg.status_at = "failed", "not sent within 24 hours", "expired", now
    db.commit()
    return list(db.scalars(select(SmsMessage.id).where(
        SmsMessage.status == "queued",
        (SmsMessage.claimed_at.is_(None)) | (SmsMessage.claimed_at < now - CLAIM_TTL))
        .order_by(SmsMessage.id).limit(limit)))


__all__ = ["ImageRejected", "SmsRefused", "send_sms", "deliver", "segments", "normalise_number"]
