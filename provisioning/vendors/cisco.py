"""Cisco MPP and SPA: `spa$PSN.cfg` points the phone to `<mac>.xml` (flat-profile); keys are
`Extension_N_`, `Short_Name_N_` and `Extended_Function_N_`; the directory is a CiscoIPPhoneDirectory
named by `XML_Directory_Service_URL`."""

from __future__ import annotations

import re

from ..model import DeviceConfig, Key, Options, Rendered, clean
from ..tz import gmt_label
from .base import ModelSpec, Vendor, render_template

TRANSPORT = {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}
LANGUAGE = {"fr": "French", "en": "English"}
CODEC = {"PCMU": "G711u", "PCMA": "G711a", "G722": "G722", "opus": "OPUS", "G729": "G729a"}


def function_label(value: str) -> str:
    # `;` and `=` separate the fields of Extended_Function: a label must not be able to add one.
    return re.sub(r"[;=]", " ", clean(value, 40)).strip()


class Cisco(Vendor):
    name = "cisco"
    label = "Cisco"
    models = {"CP-6851": ModelSpec("CP-6851", 4), "CP-7841": ModelSpec("CP-7841", 4),
              "CP-8841": ModelSpec("CP-8841", 10), "CP-8851": ModelSpec("CP-8851", 10),
              "SPA504G": ModelSpec("SPA504G", 4)}
    default_model = "CP-8841"
    generic_patterns = (r"spa[A-Za-z0-9\-]{1,16}\.cfg",)

    def device_files(self, mac: str, model: str) -> list[str]:
        return [f"{mac}.xml", f"{mac}-directory.xml"]

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        if filename.endswith("-directory.xml"):
            body = render_template("cisco/directory.xml.j2", contacts=cfg.contacts,
                                   title=self.phonebook_name(cfg.options.language))
        else:
            body = render_template("cisco/flat-profile.xml.j2", params=self.merged(self.params(cfg), cfg.options))
        return Rendered(body.encode(), "application/xml")

    def render_generic(self, filename: str, options: Options, base_url: str) -> Rendered:
        # $MA is the phone's MAC, substituted by the phone itself.
        body = render_template("cisco/flat-profile.xml.j2", params={"Profile_Rule": f"{base_url}$MA.xml"})
        return Rendered(body.encode(), "application/xml")

    def params(self, cfg: DeviceConfig) -> dict[str, str]:
        o = cfg.options
        auth = f"[--uid {cfg.prov_username} --pwd {cfg.prov_password}]" if cfg.prov_password else ""
        p: dict[str, str] = {
            "Profile_Rule": f"{auth}{cfg.base_url}$MA.xml",
            "Language_Selection": LANGUAGE.get(o.language[:2], "English"),
            "Primary_NTP_Server": o.ntp_server,
            "Time_Zone": gmt_label(o.timezone),
            "XML_Directory_Service_Name": self.phonebook_name(o.language),
            "XML_Directory_Service_URL": cfg.url_with_credentials(f"{cfg.mac}-directory.xml"),
        }
        for a in cfg.accounts:
            n = a.index
            p.update({
                f"Line_Enable_{n}_": "Yes", f"Display_Name_{n}_": a.display_name, f"User_ID_{n}_": a.username,
                f"Auth_ID_{n}_": a.username, f"Use_Auth_ID_{n}_": "Yes", f"Password_{n}_": a.password,
                f"Proxy_{n}_": o.sip_server if o.sip_port in (5060, 5061) else f"{o.sip_server}:{o.sip_port}",
                f"Outbound_Proxy_{n}_": o.outbound_proxy, f"SIP_Transport_{n}_": TRANSPORT[o.transport],
            })
            for slot, codec in enumerate([c for c in o.codecs if c in CODEC][:3], 1):
                name = {1: "Preferred_Codec", 2: "Second_Preferred_Codec", 3: "Third_Preferred_Codec"}[slot]
                p[f"{name}_{n}_"] = CODEC[codec]
        capacity = self.key_capacity(cfg.model)
        keys = self.keys_by_position(cfg, capacity)
        for n in range(1, capacity + 1):
            p.update(self.key_params(n, keys.get(n), o))
        return p

    @staticmethod
    def key_params(n: int, key: Key | None, o: Options) -> dict[str, str]:
        if key is None:
            return {f"Extension_{n}_": "Disabled", f"Short_Name_{n}_": "", f"Extended_Function_{n}_": ""}
        if key.kind in ("line", "line2"):
            return {f"Extension_{n}_": str(key.account), f"Short_Name_{n}_": function_label(key.label) or "$USER",
                    f"Extended_Function_{n}_": ""}
        label = function_label(key.label or key.value)
        if key.kind == "blf":
            fnc = f"fnc=sd+blf+cp;sub={key.value}@{o.sip_server};nme={label}"
        else:
            fnc = f"fnc=sd;ext={key.value}@$PROXY;nme={label}"
        return {f"Extension_{n}_": "Disabled", f"Short_Name_{n}_": label, f"Extended_Function_{n}_": fnc}
