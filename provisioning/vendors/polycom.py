"""Poly (Polycom) VVX: the master file `<mac>.cfg` (or the generic `000000000000.cfg`) names
`<mac>-clusterpbx.cfg`, which holds `reg.N.*`, BLF as `attendant.resourceList.N.*` and the key layout
(`lineKey.N.category/index`); speed dials are `<sd>` entries of `<mac>-directory.xml`."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..model import DeviceConfig, Options, Rendered
from ..tz import has_dst, standard_offset_minutes
from .base import ModelSpec, Vendor, render_template

TRANSPORT = {"udp": "UDPOnly", "tcp": "TCPOnly", "tls": "TLS"}
LANGUAGE = {"fr": "French_France", "en": "English_United_States"}
CODEC = {"G722": "G722", "PCMU": "G711_Mu", "PCMA": "G711_A", "opus": "Opus", "G729": "G729_AB"}


class Polycom(Vendor):
    name = "polycom"
    label = "Poly"
    models = {"VVX250": ModelSpec("VVX250", 4), "VVX350": ModelSpec("VVX350", 6),
              "VVX450": ModelSpec("VVX450", 12)}
    default_model = "VVX450"
    generic_patterns = (r"000000000000\.cfg",)

    def device_files(self, mac: str, model: str) -> list[str]:
        return [f"{mac}.cfg", f"{mac}-clusterpbx.cfg", f"{mac}-directory.xml"]

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        if filename == f"{cfg.mac}.cfg":
            body = render_template("polycom/master.xml.j2", config_files=f"{cfg.mac}-clusterpbx.cfg")
        elif filename.endswith("-directory.xml"):
            body = render_template("polycom/directory.xml.j2", items=self.directory(cfg))
        else:
            body = render_template("polycom/settings.xml.j2",
                                   groups=self.grouped(self.merged(self.params(cfg), cfg.options)))
        return Rendered(body.encode(), "application/xml")

    def render_generic(self, filename: str, options: Options, base_url: str) -> Rendered:
        # The phone substitutes its own MAC for [PHONE_MAC_ADDRESS].
        body = render_template("polycom/master.xml.j2", config_files="[PHONE_MAC_ADDRESS]-clusterpbx.cfg")
        return Rendered(body.encode(), "application/xml")

    @staticmethod
    def grouped(params: dict[str, str]) -> dict[str, dict[str, str]]:
        groups: dict[str, dict[str, str]] = {}
        for name, value in params.items():
            groups.setdefault(name.split(".", 1)[0], {})[name] = value
        return groups

    def directory(self, cfg: DeviceConfig) -> list[dict[str, str]]:
        items = [{"fn": c.first_name or c.name, "ln": c.last_name, "ct": c.number, "sd": ""} for c in cfg.contacts]
        speed = [k for k in sorted(cfg.keys, key=lambda k: k.position)
                 if k.kind == "speed" and k.position <= self.key_capacity(cfg.model)]
        for sd, key in enumerate(speed, 1):
            items.append({"fn": key.label or key.value, "ln": "", "ct": key.value, "sd": str(sd)})
        return items

    def params(self, cfg: DeviceConfig) -> dict[str, str]:
        o = cfg.options
        url = urlsplit(cfg.base_url)
        p: dict[str, str] = {
            "device.set": "1",
            "device.prov.serverType.set": "1",
            "device.prov.serverType": "HTTPS" if url.scheme == "https" else "HTTP",
            "device.prov.serverName.set": "1",
            "device.prov.serverName": f"{url.netloc}{url.path.rstrip('/')}",
            "device.prov.user.set": "1",
            "device.prov.user": cfg.prov_username,
            "device.prov.password.set": "1",
            "device.prov.password": cfg.prov_password,
            "lcl.ml.lang": LANGUAGE.get(o.language[:2], "English_United_States"),
            "tcpIpApp.sntp.address": o.ntp_server,
            "tcpIpApp.sntp.gmtOffset": str(standard_offset_minutes(o.timezone) * 60),
            "tcpIpApp.sntp.daylightSavings.enable": "1" if has_dst(o.timezone) else "0",
        }
        for prio, codec in enumerate([c for c in o.codecs if c in CODEC], 1):
            p[f"voice.codecPref.{CODEC[codec]}"] = str(prio)
        for a in cfg.accounts:
            n = a.index
            p.update({
                f"reg.{n}.address": a.username, f"reg.{n}.auth.userId": a.username,
                f"reg.{n}.auth.password": a.password, f"reg.{n}.displayName": a.display_name,
                f"reg.{n}.label": a.label, f"reg.{n}.lineKeys": "1",
                f"reg.{n}.server.1.address": o.sip_server, f"reg.{n}.server.1.port": str(o.sip_port),
                f"reg.{n}.server.1.transport": TRANSPORT[o.transport],
                f"reg.{n}.outboundProxy.address": o.outbound_proxy,
            })
        # Flexible line keys put each key where the user placed it.
        p["lineKey.reassignment.enabled"] = "1"
        capacity = self.key_capacity(cfg.model)
        keys = self.keys_by_position(cfg, capacity)
        blf_n = sd_n = 0
        speed_order = [k.position for k in sorted(cfg.keys, key=lambda k: k.position)
                       if k.kind == "speed" and k.position <= capacity]
        for pos in range(1, capacity + 1):
            key = keys.get(pos)
            category, index = "Unassigned", "0"
            if key is not None and key.kind in ("line", "line2"):
                category, index = "Line", str(key.account)
            elif key is not None and key.kind == "blf":
                blf_n += 1
                category, index = "BLF", str(blf_n)
                p[f"attendant.resourceList.{blf_n}.address"] = f"{key.value}@{o.sip_server}"
                p[f"attendant.resourceList.{blf_n}.label"] = key.label
                p[f"attendant.resourceList.{blf_n}.type"] = "normal"
            elif key is not None and key.kind == "speed":
                sd_n = speed_order.index(pos) + 1
                category, index = "SpeedDial", str(sd_n)
            p[f"lineKey.{pos}.category"] = category
            p[f"lineKey.{pos}.index"] = index
        return p
