"""One module per vendor behind the small `Vendor` interface; `VENDORS` maps a vendor name to it."""

from __future__ import annotations

from .base import ModelSpec, Vendor
from .cisco import Cisco
from .fanvil import Fanvil
from .grandstream import Grandstream
from .polycom import Polycom
from .snom import Snom
from .yealink import Yealink

VENDORS: dict[str, Vendor] = {v.name: v for v in (Yealink(), Grandstream(), Polycom(), Cisco(), Snom(), Fanvil())}

__all__ = ["VENDORS", "ModelSpec", "Vendor"]
