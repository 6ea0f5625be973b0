"""The one clock of the domain: naive UTC datetimes, as the database stores them and the port's values
carry (the adapters stamp PBX events with it too)."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
