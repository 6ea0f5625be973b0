"""The provisioning endpoint phones fetch from: `/prov/<tenant key>/<vendor file name>`, rendered from the
database at request time. The tenant key in the path lets a new phone in; each phone then has its own
HTTP Digest credentials (written into its config), optional source networks per tenant, failures
rate-limited per phone (client address and MAC) and per client address and logged in a
fail2ban-friendly line, and every request, whatever its outcome, recorded in ProvisioningFetch in
batches (fetchlog.py)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import sys
import time
from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine

from clusterpbx.control.db import BUSY_TIMEOUT, make_read_engine
from clusterpbx.control.models import Device, Tenant
from clusterpbx.provisioning import digest
from clusterpbx.provisioning.model import Rendered, clean
from clusterpbx.provisioning.render import base_url as tenant_base_url
from clusterpbx.provisioning.render import classify, ensure_credentials, generic_options
from clusterpbx.provisioning.softphone import APPS, linphone, redeem_token, zoiper
from clusterpbx.provisioning.state import DeviceState, config_from_state, device_state
from clusterpbx.provisioning.vendors import VENDORS
from clusterpbx.provisioning.vendors.base import Vendor

from .. import csrf
from ..db import get_db
from ..limiter import limiter
from ..softphone import account_for
from .cache import ConfigCache
from .fastpath import ChallengeFastPath
from .fetchlog import FetchLogWriter

bp = Blueprint("provision", __name__, url_prefix="/prov")
log = logging.getLogger("clusterpbx.web.provision")

MIN_KEY_LENGTH = 16
NOT_FOUND = "not found\n"


def _failure_limit() -> str:
    """Refusals allowed per phone (client address and MAC) over any minute."""
    return str(current_app.config["CLUSTERPBX"].extra.get("provisioning_failure_limit", "30 per minute"))


def _address_failure_limit() -> str:
    """Refusals allowed per client address over any minute, whatever the MAC: a scanner's ceiling, high
    enough that a misconfigured phone behind a NAT does not lock out its neighbours (each of them has
    its own per-phone allowance)."""
    return str(current_app.config["CLUSTERPBX"].extra.get("provisioning_address_failure_limit", "600 per minute"))


def _count_failure(response: Response) -> bool:
    # Only refusals count toward the limit: a normal Digest challenge or a config served does not.
    return bool(g.get("prov_failed"))


# The fetch endpoint applies its two limits itself, with the portal limiter's storage and strategy (moving
# window): the same rule as Flask-Limiter's decorators (checked before, a refusal counted after), at a
# fraction of their cost per request, which a boot storm pays twice per phone. When the storage cannot
# be reached (Redis down) the limits go on in this process's memory, as Flask-Limiter's fallback does.
SCOPE = "provision.fetch"
_fallback = MovingWindowRateLimiter(MemoryStorage())


@lru_cache(maxsize=64)
def _parsed(text: str) -> RateLimitItem:
    return parse_limit(text)


def _limits_for(settings: Any, address: str, mac: str) -> list[tuple[RateLimitItem, str]]:
    """The two limits of a fetch and their keys (the same keys as _phone_key and _address_key)."""
    extra = settings.extra
    return [(_parsed(str(extra.get("provisioning_failure_limit", "30 per minute"))), f"prov-phone:{address}:{mac or '-'}"),
            (_parsed(str(extra.get("provisioning_address_failure_limit", "600 per minute"))), f"prov-address:{address}")]


_storage_down_until = 0.0
STORAGE_RETRY = 30.0  # seconds in memory before the storage is tried again


def _strategy(method: str, item: RateLimitItem, key: str) -> bool:
    global _storage_down_until
    if time.monotonic() >= _storage_down_until:
        try:
            return bool(getattr(limiter.limiter, method)(item, key, SCOPE))
        except Exception:  # noqa: BLE001 - the storage is unreachable: count in memory meanwhile
            log.warning("rate limit storage unreachable; provisioning limits counted in this process for %.0f s",
                        STORAGE_RETRY, exc_info=True)
            _storage_down_until = time.monotonic() + STORAGE_RETRY
    return bool(getattr(_fallback, method)(item, key, SCOPE))


def over_limit(settings: Any, address: str, mac: str) -> bool:
    """Whether this phone or this address has used its allowance of refusals (also the fast path's check)."""
    return limiter.enabled and not all(_strategy("test", item, key) for item, key in _limits_for(settings, address, mac))


def _count_refusal(mac: str) -> None:
    if limiter.enabled:
        for item, key in _limits_for(current_app.config["CLUSTERPBX"], _address(), mac):
            _strategy("hit", item, key)


def too_many() -> Response:
    g.prov_failed = False
    retry = max(1, int(_parsed(_failure_limit()).get_expiry()))
    return Response("too many requests\n", 429, mimetype="text/plain", headers={"Retry-After": str(retry)})


def _phone_key() -> str:
    """The rate-limit key of one phone: its address and the MAC its request names (the file name or,
    for Yealink's common boot file, the User-Agent); without a MAC, the address alone."""
    filename = str((request.view_args or {}).get("filename") or (request.view_args or {}).get("app_name") or "")
    req = classify(filename, request.headers.get("User-Agent", "")) if filename else None
    g.prov_request = req
    mac = req.mac if req is not None and req.mac else ""
    return f"prov-phone:{_address()}:{mac or '-'}"


def _address_key() -> str:
    return f"prov-address:{_address()}"


def fetch_log(app: Flask) -> FetchLogWriter:
    writer: FetchLogWriter | None = app.extensions.get("clusterpbx.fetchlog")
    if writer is None:
        writer = FetchLogWriter(app.extensions["clusterpbx.sessions"])
        app.extensions["clusterpbx.fetchlog"] = writer
    return writer


def config_cache(app: Flask) -> ConfigCache:
    cache: ConfigCache | None = app.extensions.get("clusterpbx.provcache")
    if cache is None:
        cache = app.extensions["clusterpbx.provcache"] = ConfigCache()
    return cache


def rendered_file(app: Flask, state: DeviceState, vendor: Vendor, name: str) -> Rendered:
    """The phone's file `name`, built from the row just read (`state`, with its fingerprint) and kept with
    it: served again from this process's cache only for exactly the same data (the endpoint and the fast
    path both)."""
    assert state.device_id is not None and state.fingerprint is not None
    cache = config_cache(app)
    rendered = cache.get(state.device_id, name, state.fingerprint)
    if rendered is None:
        rendered = vendor.render(config_from_state(state, str(app.config["CLUSTERPBX"].public_url)), name)
        cache.put(state.device_id, name, state.fingerprint, rendered)
    return rendered


def read_engine(app: Flask) -> Engine:
    """The engine of the provisioning lookups (control/db.py make_read_engine), made at the first one."""
    engine: Engine | None = app.extensions.get("clusterpbx.read_engine")
    if engine is None:
        engine = app.extensions["clusterpbx.read_engine"] = make_read_engine(
            app.extensions["clusterpbx.engine"], float(app.config.get("DATABASE_BUSY_TIMEOUT", BUSY_TIMEOUT)))
    return engine


def _engine() -> Engine:
    return read_engine(current_app._get_current_object())  # type: ignore[attr-defined]


def public_url() -> str:
    return str(current_app.config["CLUSTERPBX"].public_url)


def _address() -> str:
    return request.remote_addr or "unknown"


def in_networks(address: str, networks: str) -> bool:
    if not networks.strip():
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for cidr in networks.split(","):
        try:
            if cidr.strip() and ip in ipaddress.ip_network(cidr.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def note(outcome: str, *, device: Device | None = None, mac: str = "", tenant: Tenant | None = None,
         device_id: int | None = None, tenant_id: int | None = None) -> None:
    """What happened to this request, for the fetch log written when the response leaves."""
    if device is not None:
        device_id, mac, tenant_id = device.id, mac or device.mac, tenant_id or device.tenant_id
    if tenant is not None:
        tenant_id = tenant.id
    g.prov_log = {"outcome": outcome, "device_id": device_id, "mac": mac, "tenant_id": tenant_id}


@bp.after_request
def _log_request(response: Response) -> Response:
    # Every request to /prov/ ends here, the ones Flask-Limiter refused before the view ran included.
    entry = dict(g.get("prov_log") or {})
    if response.status_code == 429:
        entry["outcome"] = "rate_limited"
        req = g.get("prov_request")
        entry.setdefault("mac", req.mac if req is not None and req.mac else "")
    outcome = entry.pop("outcome", None) or ("served" if response.status_code == 200 else "error")
    path = str((request.view_args or {}).get("filename") or "") or request.path.removeprefix("/prov/")
    fetch_log(current_app._get_current_object()).add(  # type: ignore[attr-defined]
        outcome=outcome, result=response.status_code, address=_address(), path=clean(path, 255), **entry)
    return response


def refuse(reason: str, path: str, *, status: int = 404, device: Device | None = None, mac: str = "",
           challenge: str = "", tenant: Tenant | None = None, device_id: int | None = None,
           tenant_id: int | None = None) -> Response:
    """The same body whatever went wrong, so a scanner learns nothing; one log line for fail2ban."""
    g.prov_failed = True
    log.warning("provisioning refused: address=%s reason=%s path=%s", _address(), reason,
                clean(path, 120).replace(" ", "_") or "-")
    note(reason, device=device, mac=mac, tenant=tenant, device_id=device_id, tenant_id=tenant_id)
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    return Response(NOT_FOUND if status == 404 else "unauthorized\n", status, mimetype="text/plain",
                    headers=headers)


def served(body: bytes, mimetype: str) -> Response:
    return Response(body, 200, mimetype=mimetype, headers={"Cache-Control": "no-store"})


@bp.route("/<key>/<path:filename>", methods=["GET"])
@csrf.exempt
def fetch(key: str, filename: str) -> Any:
    # Refusals are limited per phone and per address (_limits_for); over either, 429 before anything.
    req = g.prov_request = classify(filename, request.headers.get("User-Agent", ""))
    mac = req.mac or ""
    if over_limit(current_app.config["CLUSTERPBX"], _address(), mac):
        return too_many()
    response = _fetch(key, filename)
    if g.get("prov_failed"):
        _count_refusal(mac)
    return response


def _fetch(key: str, filename: str) -> Any:
    if len(key) < MIN_KEY_LENGTH:
        return refuse("bad_key", filename)
    req = g.prov_request
    auth = request.authorization
    # One statement: the tenant of this key and its device with this MAC (plus, for a request that is
    # likely to be served, the fingerprint of its configuration); no ORM, nothing written.
    mac = req.mac if req.kind == "device" else ""
    state = device_state(_engine(), key, mac, full=bool(mac) and auth is not None)
    # The lookup is by value; compare again in constant time before trusting it.
    if state is None or not hmac.compare_digest(state.tenant_key.encode(), key.encode()):
        return refuse("bad_key", filename)
    tenant_id = state.tenant_id
    if not in_networks(_address(), state.networks):
        return refuse("network", filename, tenant_id=tenant_id)
    if req.kind == "invalid":
        return refuse("bad_path", filename, tenant_id=tenant_id)
    if req.kind == "generic" and req.vendor is not None:
        tenant = get_db().get(Tenant, tenant_id)
        assert tenant is not None
        rendered = req.vendor.render_generic(filename, generic_options(tenant), tenant_base_url(public_url(), tenant))
        note("served", tenant_id=tenant_id)
        return served(rendered.body, rendered.mimetype)
    if state.device_id is None:
        return refuse("unknown_mac", filename, mac=req.mac, tenant_id=tenant_id)
    device_id = state.device_id
    vendor = VENDORS.get(state.vendor)
    name = vendor.canonical(filename, state.mac, state.model) if vendor is not None else None
    if vendor is None or name is None or (req.vendor is not None and req.vendor is not vendor):
        return refuse("unknown_file", filename, device_id=device_id, mac=state.mac, tenant_id=tenant_id)

    secret = current_app.config["SECRET_KEY"]
    overrides = state.overrides or {}
    prov_state = dict(overrides.get("_prov") or {})
    # require_digest: true = always, false = never (tenant key only, for a phone that cannot answer a
    # challenge; weaker, the operator's explicit choice), absent = after the first boot.
    policy = overrides.get("require_digest")
    armed = bool(policy) if policy is not None else bool(prov_state.get("armed"))
    who = {"device_id": device_id, "mac": state.mac, "tenant_id": tenant_id}
    if auth is not None and auth.type == "digest":
        verdict = digest.verify(auth.parameters, method=request.method, path=request.path,
                                username=state.prov_username, password=state.prov_password, secret=secret)
        if verdict == "stale":
            g.prov_failed = False
            note("stale", **who)
            return Response("unauthorized\n", 401, mimetype="text/plain",
                            headers={"WWW-Authenticate": digest.challenge(secret, stale=True)})
        if verdict != "ok":
            return refuse("bad_credentials", filename, status=401, challenge=digest.challenge(secret), **who)
    elif auth is not None or armed:
        if auth is not None:
            return refuse("bad_credentials", filename, status=401, challenge=digest.challenge(secret), **who)
        # A normal first step of Digest: ask for credentials (not a failure, not counted as one).
        note("challenge", **who)
        return Response("unauthorized\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": digest.challenge(secret)})

    if not state.prov_password:
        # Its Digest credentials are generated on its first fetch (then written into its files).
        db = get_db()
        device = db.get(Device, device_id)
        if device is not None and ensure_credentials(device):
            db.commit()
        state = None
    if state is None or state.fingerprint is None:
        state = device_state(_engine(), key, mac, full=True)
        if state is None or state.device_id != device_id or state.fingerprint is None:
            return refuse("unknown_mac", filename, mac=req.mac, tenant_id=tenant_id)  # deleted meanwhile
    rendered = rendered_file(current_app._get_current_object(), state, vendor, name)  # type: ignore[attr-defined]
    if (policy is None and not armed and state.prov_password
            and state.prov_password.encode() in rendered.body):
        # The phone now holds its own credentials: from here on, Digest is required for this MAC
        # (an admin re-opens the window with `clusterpbx provision reopen --mac`).
        db = get_db()
        device = db.get(Device, device_id)
        if device is not None:
            overrides = dict(device.overrides or {})
            overrides["_prov"] = {**dict(overrides.get("_prov") or {}), "armed": True}
            device.overrides = overrides
            db.commit()
    note("served", **who)
    return served(rendered.body, rendered.mimetype)


@bp.record_once
def _install_fast_path(state: Any) -> None:
    # The Digest challenge of a known phone is answered in front of Flask (fastpath.py).
    state.app.wsgi_app = ChallengeFastPath(state.app, state.app.wsgi_app, sys.modules[__name__])


@limiter.request_filter
def _fetch_is_limited_by_itself() -> bool:
    # The fetch endpoint applies its limits itself: Flask-Limiter's per-request pass has nothing to do there.
    return request.endpoint == "provision.fetch"


@bp.route("/softphone/<app_name>", methods=["GET"])
@csrf.exempt
@limiter.limit(_failure_limit, key_func=_phone_key, deduct_when=_count_failure)
@limiter.limit(_address_failure_limit, key_func=_address_key, deduct_when=_count_failure)
def softphone(app_name: str) -> Any:
    """The single-use URL behind the softphone QR code (Linphone) or Zoiper's token URL."""
    token = request.args.get("t", "")
    if app_name not in APPS or not token or len(token) > 512:
        return refuse("bad_token", f"softphone/{app_name}")
    db = get_db()
    user = redeem_token(db, current_app.config["SECRET_KEY"], token, app_name, _address())
    if user is None:
        return refuse("bad_token", f"softphone/{app_name}")
    account = account_for(user)
    if account is None:
        return refuse("no_extension", f"softphone/{app_name}")
    rendered = linphone(account) if app_name == "linphone" else zoiper(account)
    note("served", tenant=user.tenant)
    return served(rendered.body, rendered.mimetype)
