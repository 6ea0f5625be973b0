"""Fanvil X-series (firmware 2.x XML, `<sysConf>`): `<mac>.cfg` with `<sip><line>` accounts and DSS keys
`<Fkey>`: type 2 `SIP1` for a line, type 1 `101@1/bc` for BLF and `101@1/f` for speed dial (since
firmware 2, BLF must be type 1)."""

from __future__ import annotations

from ..model import DeviceConfig, Key, Rendered
from .base import ModelSpec, Vendor, render_template

TRANSPORT = {"udp": "0", "tcp": "1", "tls": "2"}
PER_PAGE = {"X3U": 6, "X4U": 10, "X6U": 20}


class Fanvil(Vendor):
    name = "fanvil"
    label = "Fanvil"
    models = {"X3U": ModelSpec("X3U", 6), "X4U": ModelSpec("X4U", 30), "X6U": ModelSpec("X6U", 60)}
    default_model = "X4U"

    def device_files(self, mac: str, model: str) -> list[str]:
        return [f"{mac}.cfg"]

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        o = cfg.options
        per_page = PER_PAGE.get(cfg.model, 10)
        capacity = self.key_capacity(cfg.model)
        keys = self.keys_by_position(cfg, capacity)
        pages: dict[int, list[dict[str, str]]] = {}
        for pos in range(1, capacity + 1):
            page, index = divmod(pos - 1, per_page)
            pages.setdefault(page + 1, []).append({"index": str(index + 1), **self.fkey(keys.get(pos))})
        body = render_template("fanvil/device.xml.j2", cfg=cfg, o=o, transport=TRANSPORT[o.transport],
                               pages=pages, params=o.params)
        return Rendered(body.encode(), "application/xml")

    @staticmethod
    def fkey(key: Key | None) -> dict[str, str]:
        if key is None:
            return {"type": "0", "value": "", "title": ""}
        if key.kind in ("line", "line2"):
            return {"type": "2", "value": f"SIP{key.account}", "title": key.label}
        code = "bc" if key.kind == "blf" else "f"
        return {"type": "1", "value": f"{key.value}@{key.account}/{code}", "title": key.label}
