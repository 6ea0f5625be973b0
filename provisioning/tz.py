"""Time-zone facts phones need: the standard UTC offset, whether daylight saving applies, and the
POSIX TZ rule (the footer of the zone's TZif file), computed from the IANA name."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=256)
def standard_offset_minutes(name: str) -> int:
    """The offset outside daylight saving (the smaller of January's and July's)."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    offsets = []
    for month in (1, 7):
        off = dt.datetime(2026, month, 15, 12, tzinfo=zone).utcoffset()
        offsets.append(int(off.total_seconds() // 60) if off is not None else 0)
    return min(offsets)


@lru_cache(maxsize=256)
def has_dst(name: str) -> bool:
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return any(dt.datetime(2026, m, 15, 12, tzinfo=zone).dst() for m in (1, 7))


@lru_cache(maxsize=256)
def posix_rule(name: str) -> str:
    """e.g. America/Montreal -> EST5EDT,M3.2.0,M11.1.0 (falls back to a fixed offset)."""
    for root in ("/usr/share/zoneinfo",):
        path = Path(root) / name
        try:
            if ".." not in name and path.is_file():
                tail = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("ascii", "replace")
                if tail and all(c.isprintable() for c in tail):
                    return tail
        except OSError:
            pass
    minutes = standard_offset_minutes(name)
    sign = "-" if minutes > 0 else "+"  # POSIX counts west as positive
    return f"UTC{sign}{abs(minutes) // 60}" + (f":{abs(minutes) % 60:02d}" if minutes % 60 else "")


def gmt_label(name: str) -> str:
    """GMT-05:00 style (Cisco)."""
    minutes = standard_offset_minutes(name)
    sign = "-" if minutes < 0 else "+"
    return f"GMT{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
