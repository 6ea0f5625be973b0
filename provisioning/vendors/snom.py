"""Snom D7xx: the phone asks for `snom<model>-<MAC>.htm` (XML settings) holding phone settings,
`<fkey idx=...>` function keys (`blf sip:101@host|**`, `speed 101`, `line`) and the `tbook` phonebook,
whose entries carry the contact's profile picture (Base64 `<photo>`)."""

from __future__ import annotations

import base64
import re

from ..model import DeviceConfig, Key, Options, Rendered
from ..tz import standard_offset_minutes
from .base import ModelSpec, Vendor, render_template

LANGUAGE = {"fr": "Français", "en": "English"}
CODEC = {"G722": "g722", "PCMU": "pcmu", "PCMA": "pcma", "opus": "opus", "G729": "g729"}


class Snom(Vendor):
    name = "snom"
    label = "Snom"
    models = {"D715": ModelSpec("D715", 5), "D735": ModelSpec("D735", 32), "D785": ModelSpec("D785", 24)}
    default_model = "D785"
    generic_patterns = (r"snom[A-Za-z0-9]{2,8}\.htm",)

    def device_files(self, mac: str, model: str) -> list[str]:
        return [f"snom{self.spec(model).name}-{mac.upper()}.htm"]

    def canonical(self, filename: str, mac: str, model: str) -> str | None:
        # The phone writes the MAC in upper case; accept any case and any Snom model prefix.
        return self.device_files(mac, model)[0] if filename.lower().endswith(f"-{mac}.htm") \
            and filename.lower().startswith("snom") else None

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        body = render_template("snom/settings.xml.j2", settings=self.merged(self.settings(cfg), cfg.options),
                               fkeys=self.fkeys(cfg), contacts=[self.contact(c) for c in cfg.contacts])
        return Rendered(body.encode(), "application/xml")

    def render_generic(self, filename: str, options: Options, base_url: str) -> Rendered:
        model = re.sub(r"^snom|\.htm$", "", filename)
        # The phone replaces {mac} with its own MAC address.
        body = render_template("snom/setting-files.xml.j2", url=f"{base_url}snom{model}-{{mac}}.htm")
        return Rendered(body.encode(), "application/xml")

    @staticmethod
    def contact(c: object) -> dict[str, str]:
        photo = getattr(c, "photo_png", None)
        return {"first_name": getattr(c, "first_name", "") or getattr(c, "name", ""),
                "last_name": getattr(c, "last_name", ""), "number": getattr(c, "number", ""),
                "photo": base64.b64encode(photo).decode("ascii") if photo else ""}

    def settings(self, cfg: DeviceConfig) -> dict[str, str]:
        o = cfg.options
        lang = LANGUAGE.get(o.language[:2], "English")
        spec = self.spec(cfg.model)
        server = cfg.url_with_credentials("")
        s: dict[str, str] = {
            "language": lang, "web_language": lang, "ntp_server": o.ntp_server,
            "utc_offset": str(standard_offset_minutes(o.timezone) * 60),
            "setting_server": f"{server}snom{spec.name}-{{mac}}.htm",
        }
        transport = "" if o.transport == "udp" else f";transport={o.transport}"
        for a in cfg.accounts:
            n = a.index
            s.update({
                f"user_active#{n}": "on", f"user_realname#{n}": a.display_name, f"user_name#{n}": a.username,
                f"user_pname#{n}": a.username, f"user_pass#{n}": a.password,
                f"user_host#{n}": f"{o.sip_server}:{o.sip_port}{transport}", f"user_outbound#{n}": o.outbound_proxy,
                f"codec_priority_list#{n}": ",".join(CODEC[c] for c in o.codecs if c in CODEC),
            })
        return s

    def fkeys(self, cfg: DeviceConfig) -> list[dict[str, str]]:
        capacity = self.key_capacity(cfg.model)
        keys = self.keys_by_position(cfg, capacity)
        return [self.fkey(pos - 1, keys.get(pos), cfg.options) for pos in range(1, capacity + 1)]

    @staticmethod
    def fkey(idx: int, key: Key | None, o: Options) -> dict[str, str]:
        if key is None:
            return {"idx": str(idx), "context": "active", "label": "", "value": "none"}
        if key.kind in ("line", "line2"):
            return {"idx": str(idx), "context": str(key.account), "label": key.label, "value": "line"}
        if key.kind == "blf":
            # The |<prefix> suffix is what lets the key pick up a ringing call (FreePBX once dropped it).
            return {"idx": str(idx), "context": "active", "label": key.label,
                    "value": f"blf sip:{key.value}@{o.sip_server}|{o.pickup_prefix}"}
        return {"idx": str(idx), "context": "active", "label": key.label, "value": f"speed {key.value}"}
