"""Yealink T4x/T5x: `<mac>.boot` (or `y000000000000.boot`, MAC from the User-Agent) includes the model's
common file `y0000000000NN.cfg` and `<mac>.cfg`; keys are `linekey.N.*` and `expansion_module.X.key.Y.*`;
the phonebook is a YealinkIPPhoneDirectory."""

from __future__ import annotations

from ..model import DeviceConfig, Key, Options, Rendered
from ..tz import has_dst, standard_offset_minutes
from .base import ModelSpec, Vendor, render_template

TRANSPORT = {"udp": "0", "tcp": "1", "tls": "2"}
# linekey.N.type values (Yealink admin guide; FusionPBX app/devices/app_config.php).
TYPE_EMPTY, TYPE_SPEED, TYPE_LINE, TYPE_BLF = "0", "13", "15", "16"
LANGUAGE = {"fr": "French", "en": "English"}
# Yealink codec parameter names for the codecs we know.
CODECS = {"PCMU": "pcmu", "PCMA": "pcma", "G722": "g722", "opus": "opus", "G729": "g729"}


def tz_value(name: str) -> str:
    minutes = standard_offset_minutes(name)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")


class Yealink(Vendor):
    name = "yealink"
    label = "Yealink"
    models = {
        "T46S": ModelSpec("T46S", 27, 40, "66"),
        "T48S": ModelSpec("T48S", 29, 40, "65"),
        "T54W": ModelSpec("T54W", 27, 60, "96"),
        "T46U": ModelSpec("T46U", 27, 60, "108"),
        "T48U": ModelSpec("T48U", 29, 60, "109"),
    }
    default_model = "T46S"
    generic_patterns = (r"y0000000000[0-9]{2,3}\.cfg",)

    def common_file(self, model: str) -> str:
        return f"y{self.spec(model).code.zfill(12)}.cfg"

    def device_files(self, mac: str, model: str) -> list[str]:
        return [f"{mac}.boot", f"{mac}.cfg", f"{mac}-phonebook.xml"]

    def canonical(self, filename: str, mac: str, model: str) -> str | None:
        # y000000000000.boot is asked for with the MAC in the User-Agent: the same as <mac>.boot.
        return f"{mac}.boot" if filename == "y000000000000.boot" else super().canonical(filename, mac, model)

    def render(self, cfg: DeviceConfig, filename: str) -> Rendered:
        if filename.endswith(".boot"):
            body = render_template("yealink/boot.j2", includes=[self.common_file(cfg.model), f"{cfg.mac}.cfg"])
            return Rendered(body.encode(), "text/plain")
        if filename.endswith("-phonebook.xml"):
            body = render_template("yealink/phonebook.xml.j2", contacts=cfg.contacts,
                                   title=self.phonebook_name(cfg.options.language))
            return Rendered(body.encode(), "application/xml")
        body = render_template("yealink/device.cfg.j2", mac=cfg.mac, model=cfg.model,
                               params=self.merged(self.params(cfg), cfg.options))
        return Rendered(body.encode(), "text/plain")

    def render_generic(self, filename: str, options: Options, base_url: str) -> Rendered:
        body = render_template("yealink/device.cfg.j2", mac="", model=filename,
                               params=self.merged(self.common_params(options), options))
        return Rendered(body.encode(), "text/plain")

    def common_params(self, o: Options) -> dict[str, str]:
        lang = LANGUAGE.get(o.language[:2], "English")
        p = {
            "lang.gui": lang,
            "lang.wui": lang,
            "local_time.ntp_server1": o.ntp_server,
            "local_time.time_zone": tz_value(o.timezone),
            "local_time.summer_time": "2" if has_dst(o.timezone) else "0",
            # The phone puts its MAC in the User-Agent, which is how y000000000000.boot is answered.
            "sip.mac_in_ua": "1",
            "sip.notify_reboot_enable": "0",
        }
        return p

    def params(self, cfg: DeviceConfig) -> dict[str, str]:
        o = cfg.options
        p = self.common_params(o)
        p["static.auto_provision.server.url"] = cfg.base_url
        p["static.auto_provision.server.username"] = cfg.prov_username
        p["static.auto_provision.server.password"] = cfg.prov_password
        for a in cfg.accounts:
            n = a.index
            p.update({
                f"account.{n}.enable": "1",
                f"account.{n}.label": a.label,
                f"account.{n}.display_name": a.display_name,
                f"account.{n}.auth_name": a.username,
                f"account.{n}.user_name": a.username,
                f"account.{n}.password": a.password,
                f"account.{n}.sip_server.1.address": o.sip_server,
                f"account.{n}.sip_server.1.port": str(o.sip_port),
                f"account.{n}.sip_server.1.transport_type": TRANSPORT[o.transport],
                f"account.{n}.outbound_proxy_enable": "1" if o.outbound_proxy else "0",
                f"account.{n}.outbound_proxy.1.address": o.outbound_proxy or "%NULL%",
            })
            known = [c for c in o.codecs if c in CODECS]
            for prio, codec in enumerate(known, 1):
                p[f"account.{n}.codec.{CODECS[codec]}.enable"] = "1"
                p[f"account.{n}.codec.{CODECS[codec]}.priority"] = str(prio)
            for codec in sorted(set(CODECS) - set(known)):
                p[f"account.{n}.codec.{CODECS[codec]}.enable"] = "0"
        p["features.remote_phonebook.enable"] = "1"
        p["remote_phonebook.data.1.url"] = cfg.url_with_credentials(f"{cfg.mac}-phonebook.xml")
        p["remote_phonebook.data.1.name"] = self.phonebook_name(o.language)
        spec = self.spec(cfg.model)
        keys = self.keys_by_position(cfg, self.key_capacity(cfg.model, o.expansion_modules))
        for pos in range(1, spec.line_keys + 1):
            p.update(self.key_params(f"linekey.{pos}", keys.get(pos), o))
        for module in range(1, o.expansion_modules + 1):
            for k in range(1, spec.module_keys + 1):
                pos = spec.line_keys + (module - 1) * spec.module_keys + k
                p.update(self.key_params(f"expansion_module.{module}.key.{k}", keys.get(pos), o))
        return p

    @staticmethod
    def key_params(prefix: str, key: Key | None, o: Options) -> dict[str, str]:
        if key is None:
            # Written as empty so a key the user removed really disappears from the phone.
            return {f"{prefix}.type": TYPE_EMPTY, f"{prefix}.line": "%NULL%", f"{prefix}.value": "%NULL%",
                    f"{prefix}.label": "%NULL%", f"{prefix}.extension": "%NULL%",
                    f"{prefix}.pickup_value": "%NULL%"}
        kind = {"line": TYPE_LINE, "line2": TYPE_LINE, "blf": TYPE_BLF, "speed": TYPE_SPEED}[key.kind]
        pickup = f"{o.pickup_prefix}{key.value}" if key.kind == "blf" else "%NULL%"
        return {f"{prefix}.type": kind, f"{prefix}.line": str(key.account),
                f"{prefix}.value": key.value if key.kind in ("blf", "speed") else "%NULL%",
                f"{prefix}.label": key.label or "%NULL%", f"{prefix}.extension": pickup,
                f"{prefix}.pickup_value": pickup}
