"""Grandstream GXP21xx: `cfg<mac>.xml` (`gs_provision` with P-values); line keys P1363+2(n-1)...,
multi-purpose keys P323-P329 with P301... triplets then P353+ quadruplets; AddressBook phonebook fetched
as `<P331 path>/phonebook.xml`."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..model import DeviceConfig, Key, Rendered
from ..tz import posix_rule
from .base import ModelSpec, Vendor, render_template

TRANSPORT = {"udp": "0", "tcp": "1", "tls": "2"}
# MPK modes: 0 speed dial, 1 BLF; line-key modes add 10 to them (0 = line).
MODE = {"speed": 0, "blf": 1}
VOCODER = {"PCMU": "0", "PCMA": "8", "G722": "9", "G729": "18", "opus": "123"}
VOCODER_SLOTS = ("P57", "P58", "P59", "P60", "P61", "P62")
MPK_MAX = 18  # P-values documented for MPK 1-18


class Grandstream(Vendor):
    name = "grandstream"
    label = "Grandstream"
    # line_keys here = line keys + mapped multi-purpose keys; LINE_KEYS holds the line keys alone.
    models = {
        "GXP2140": ModelSpec("GXP2140", 4 + 5),
        "GXP2160": ModelSpec("GXP2160", 6 + 18),
        "GXP2170": ModelSpec("GXP2170", 12 + 18),
    }
    LINE_KEYS = {"GXP2140": 4, "GXP2160": 6, "GXP2170": 12}
    default_model = "GXP2170"

    def device_files(self, mac: str, model: str) -> list[str]:
        return [f"cfg{mac}.xml", f"gs{mac}/phonebook.xml"]

    def canonical(self, filename: str, mac: str, model: str) -> str | None:
        # Older firmware asks for cfg<mac> without the extension.
        return f"cfg{mac}.xml" if filename == f"cfg{mac}" else super().canonical(filename, mac, model)

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        if filename.endswith("phonebook.xml"):
            body = render_template("grandstream/phonebook.xml.j2", contacts=cfg.contacts)
        else:
            body = render_template("grandstream/cfg.xml.j2", mac=cfg.mac,
                                   params=self.merged(self.params(cfg), cfg.options))
        return Rendered(body.encode(), "application/xml")

    def params(self, cfg: DeviceConfig) -> dict[str, str]:
        o = cfg.options
        url = urlsplit(cfg.base_url)
        path = f"{url.netloc}{url.path.rstrip('/')}"
        https = url.scheme == "https"
        p: dict[str, str] = {
            "P1362": o.language[:2],
            "P30": o.ntp_server,
            "P64": posix_rule(o.timezone),
            "P212": "2" if https else "1",
            "P237": path,
            "P1360": cfg.prov_username,
            "P1361": cfg.prov_password,
            "P330": "3" if https else "1",
            "P331": f"{path}/gs{cfg.mac}",
            "P332": "60",
        }
        if cfg.accounts:
            a = cfg.accounts[0]
            server = o.sip_server if o.sip_port in (5060, 5061) else f"{o.sip_server}:{o.sip_port}"
            p.update({"P271": "1", "P270": a.label, "P47": server, "P35": a.username, "P36": a.username,
                      "P34": a.password, "P3": a.display_name, "P130": TRANSPORT[o.transport],
                      "P48": o.outbound_proxy})
        known = [VOCODER[c] for c in o.codecs if c in VOCODER]
        for slot, value in zip(VOCODER_SLOTS, known + [known[0] if known else "0"] * 6, strict=False):
            p[slot] = value
        line_keys = self.LINE_KEYS.get(cfg.model, self.LINE_KEYS[self.default_model])
        capacity = self.key_capacity(cfg.model)
        keys = self.keys_by_position(cfg, capacity)
        for n in range(1, line_keys + 1):
            p.update(self.line_key(n, keys.get(n)))
        for k in range(1, capacity - line_keys + 1):
            p.update(self.mpk(k, keys.get(line_keys + k)))
        return p

    @staticmethod
    def line_key(n: int, key: Key | None) -> dict[str, str]:
        mode, account, name, value = "0", "0", "", ""
        if key is not None:
            account = str(key.account - 1)
            name = key.label
            if key.kind in MODE:
                mode, value = str(10 + MODE[key.kind]), key.value
        step = 2 * (n - 1)
        return {f"P{1363 + step}": mode, f"P{1364 + step}": account, f"P{1465 + step}": name,
                f"P{1466 + step}": value}

    @staticmethod
    def mpk(k: int, key: Key | None) -> dict[str, str]:
        # Line appearances cannot live on an MPK: they are left empty there (speed dial with no value).
        mode, account, name, value = "0", "0", "", ""
        if key is not None and key.kind in MODE:
            mode, account, name, value = str(MODE[key.kind]), str(key.account - 1), key.label, key.value
        if k <= 7:
            base = 301 + 3 * (k - 1)
            return {f"P{322 + k}": mode, f"P{base}": account, f"P{base + 1}": name, f"P{base + 2}": value}
        base = 353 + 4 * (k - 8)
        return {f"P{base}": mode, f"P{base + 1}": account, f"P{base + 2}": name, f"P{base + 3}": value}
