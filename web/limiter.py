"""Flask-Limiter instance. Its storage comes from configuration (memory:// per process for the
demo; redis:// in production so the limits hold across gunicorn workers)."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])
