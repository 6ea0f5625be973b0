"""A fixed device configuration for the golden files: two accounts, one key of each kind, a phonebook
with a picture, and operator template parameters that the user's keys must not wipe."""

from __future__ import annotations

import dataclasses

from clusterpbx.provisioning.model import Account, Contact, DeviceConfig, Key, options_from
from clusterpbx.provisioning.vendors import VENDORS

PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")

# Raw parameters an operator set in the vendor's own names (the template).
OPERATOR_PARAMS = {"yealink": {"programablekey.2.type": "28", "linekey.27.label": "Parking"},
                   "grandstream": {"P8": "1"},
                   "polycom": {"softkey.1.label": "Park", "softkey.1.action": "*85"},
                   "cisco": {"Dial_Plan_1_": "(*xx|[3469]11|0|00|[2-9]xxxxxx)"},
                   "snom": {"dkey_directory": "keyevent F_DIRECTORY_SEARCH"},
                   "fanvil": {}}


def sample(vendor: str, model: str, *, keys: tuple[Key, ...] | None = None, label: str = "Réception") -> DeviceConfig:
    options = options_from({"sip_server": "pbx.acme.test", "language": "fr", "timezone": "America/Montreal"},
                           {"transport": "tls", "params": OPERATOR_PARAMS.get(vendor, {})})
    return DeviceConfig(
        mac="0015651a2b3c", vendor=vendor, model=model,
        accounts=(Account(1, "201", "acme-201", "s3cr3t-201", "Marie Tremblay", "201 Marie"),
                  Account(2, "251", "acme-251", "s3cr3t-251", "Marie Tremblay", "251 Marie")),
        keys=keys if keys is not None else (
            Key(1, "line", "201", "", 1), Key(2, "line2", "251", "Ligne 2", 2),
            Key(3, "blf", "219", "JP Vallée", 1), Key(4, "speed", "5149079050", label, 1)),
        contacts=(Contact("JP Vallée", "219", "JP", "Vallée", PNG_1PX), Contact("Mamadou Koné", "217", "Mamadou", "Koné")),
        options=options, base_url="https://portal.acme.test/prov/K3y-abc/", prov_username="0015651a2b3c",
        prov_password="Pr0v-pass", label="Marie")


def cases() -> list[tuple[str, str]]:
    return [(v, m) for v, vendor in VENDORS.items() for m in vendor.models]


def with_keys(cfg: DeviceConfig, keys: tuple[Key, ...]) -> DeviceConfig:
    return dataclasses.replace(cfg, keys=keys)
