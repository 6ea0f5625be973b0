"""Flask-Limiter instance. Its storage comes from configuration (memory:// per process for the
demo; redis:// in production so the limits hold across gunicorn workers and servers).

Every limit is a moving window: "20 per minute" holds over any 60 seconds. Flask-Limiter's default
fixed window resets when the window opened by the first request expires, so a client could spend the
whole allowance in the last second of one window and again in the first second of the next, twice
the limit in two seconds. The limits here protect money (SMS, e-mail) and accounts (login, password
reset, provisioning secrets), so they all take the exact strategy. It needs a storage that keeps
each hit's time: memory, Redis, Redis Cluster, Valkey or MongoDB (not memcached), see docs/deploy.md.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

STRATEGY = "moving-window"

limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy=STRATEGY)
