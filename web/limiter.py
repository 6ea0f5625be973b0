"""Flask-Limiter instance. Its storage comes from configuration (memory:// per process for the
demo; redis:// in production so the limits hold across gunicorn workers and servers).

Every limit is a moving window: "20 per minute" holds over any 60 seconds. Flask-Limiter's default
fixed window resets when the window opened by the first request expires, so a client could spend the
whole allowance in the last second of one window and again in the first second of the next, twice
the limit in two seconds. The limits here protect money (SMS, e-mail) and accounts (login, password
reset, provisioning secrets), so they all take the exact strategy. It needs a storage that keeps
each hit's time: memory, Redis, Redis Cluster, Valkey or MongoDB (not memcached), see docs/deploy.md.

Several portal servers share one storage (Redis), or each would grant the whole allowance. When that
storage cannot be reached, the limits go on in each process's memory (Flask-Limiter's in-memory
fallback, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED) until it answers again: a Redis outage loosens the limits
to one allowance per process for its duration, and never turns the portal's pages into errors.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

log = logging.getLogger("clusterpbx.web.limiter")
STRATEGY = "moving-window"

limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy=STRATEGY)


# Per-user limits shared by a screen and its API route (`limiter.shared_limit` with the same scope and
# `user_key`): one allowance, not one per route.
SMS_PER_USER = "20 per minute"
MEETINGS_PER_USER = "20 per minute"


def user_key(scope: str, user_id: int) -> str:
    """The one key of a per-user limit, whichever way the user comes (a screen or the API, any token):
    the SMS a user sends through both count against one allowance."""
    return f"{scope}:user:{user_id}"


def config(settings: Any) -> dict[str, Any]:
    """The Flask-Limiter configuration of the portal (create_app)."""
    storage = settings.ratelimit_storage_url
    if getattr(settings, "control_cluster", False) and storage.startswith("memory"):
        log.warning("ratelimit_storage_url is %s: each portal process counts its own rate limits, so with "
                    "several servers every limit is multiplied; set it to a shared Redis (docs/deploy.md)",
                    storage)
    return {"RATELIMIT_STORAGE_URI": storage, "RATELIMIT_HEADERS_ENABLED": True,
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True}
