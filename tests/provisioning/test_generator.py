"""The generator: XML outputs parse, every value is escaped, keys land on the vendor's documented
parameters, the operator's template survives the user's keys, and removed keys are written empty."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from clusterpbx.provisioning.model import Key, options_from
from clusterpbx.provisioning.vendors import VENDORS
from tests.provisioning.sample import cases, sample, with_keys

EVIL = 'A&B <x>"q\' \nevil.injected = 13\r\n</Title><P34>stolen</P34>;fnc=sd;nme=z'


def files(vendor: str, model: str, label: str = "Réception"):
    cfg = sample(vendor, model, label=label)
    v = VENDORS[vendor]
    return {name: v.render(cfg, name).body.decode() for name in v.device_files(cfg.mac, model)}


def is_xml(text: str) -> bool:
    return text.lstrip().startswith("<?xml")


@pytest.mark.parametrize(("vendor", "model"), cases())
def test_xml_outputs_parse_even_with_a_hostile_label(vendor, model):
    for name, text in files(vendor, model, label=EVIL).items():
        if is_xml(text):
            ET.fromstring(text.encode())  # raises on a broken document
        # The label's newline cannot start a new line: the injected key never appears at line start.
        assert not re.search(r"^\s*evil\.injected", text, re.M), name
        if is_xml(text):
            assert "<P34>stolen</P34>" not in text, name
        assert "\r" not in text


@pytest.mark.parametrize(("vendor", "model"), cases())
def test_hostile_label_kept_as_text(vendor, model):
    for name, text in files(vendor, model, label=EVIL).items():
        if is_xml(text) and vendor != "polycom":
            root = ET.fromstring(text.encode())
            texts = " ".join((e.text or "") + " " + " ".join(e.attrib.values()) for e in root.iter())
            if "Réception" in files(vendor, model)[name]:
                assert "A&B <x>" in texts, name


def test_cisco_label_cannot_add_a_field():
    text = files("cisco", "CP-8841", label=EVIL)["0015651a2b3c.xml"]
    line = ET.fromstring(text.encode()).findtext("Extended_Function_4_")
    assert line.count(";") == 2 and line.count("nme=") == 1 and "fnc=sd;ext=5149079050@$PROXY;" in line


def test_yealink_keys_and_empty_keys():
    text = files("yealink", "T48S")["0015651a2b3c.cfg"]
    assert "linekey.3.type = 16\n" in text and "linekey.3.value = 219\n" in text
    assert "linekey.3.pickup_value = **219\n" in text
    assert "linekey.4.type = 13\n" in text
    assert "linekey.29.type = 0\n" in text and "linekey.29.value = %NULL%\n" in text
    assert "linekey.30." not in text  # T48S has 29 line keys
    assert "remote_phonebook.data.1.url = https://0015651a2b3c:Pr0v-pass@portal.acme.test/prov/K3y-abc/0015651a2b3c-phonebook.xml" in text
    assert "account.1.sip_server.1.transport_type = 2" in text


def test_yealink_expansion_module_keys():
    cfg = sample("yealink", "T54W")
    cfg = cfg.__class__(**{**cfg.__dict__, "options": options_from(
        {"sip_server": "pbx.acme.test"}, {"expansion_modules": 1})})
    cfg = with_keys(cfg, (Key(28, "blf", "230", "Module", 1),))
    text = VENDORS["yealink"].render(cfg, "0015651a2b3c.cfg").body.decode()
    assert "expansion_module.1.key.1.type = 16" in text and "expansion_module.1.key.1.value = 230" in text
    assert "expansion_module.1.key.60.type = 0" in text


def test_operator_template_survives_user_keys():
    # The FreePBX failure: adding BLF keys wiped the operator's softkeys. Here they are kept.
    for vendor, expected in (("polycom", 'softkey.1.label="Park"'), ("yealink", "programablekey.2.type = 28"),
                             ("yealink", "linekey.27.label = Parking"), ("grandstream", "<P8>1</P8>"),
                             ("cisco", "<Dial_Plan_1_"), ("snom", "F_DIRECTORY_SEARCH")):
        model = VENDORS[vendor].default_model
        cfg = sample(vendor, model)
        body = "".join(VENDORS[vendor].render(cfg, n).body.decode() for n in VENDORS[vendor].device_files(cfg.mac, model))
        assert expected in body, vendor


def test_grandstream_key_parameters():
    text = files("grandstream", "GXP2140")["cfg0015651a2b3c.xml"]
    root = ET.fromstring(text.encode())
    p = {e.tag: e.text or "" for e in root.find("config")}
    # line keys 1-4: mode P1363+2(n-1), account P1364+..., name P1465+..., value P1466+...
    assert (p["P1363"], p["P1364"]) == ("0", "0")
    assert (p["P1365"], p["P1366"], p["P1467"]) == ("0", "1", "Ligne 2")
    assert (p["P1367"], p["P1469"], p["P1470"]) == ("11", "JP Vallée", "219")  # BLF = 10 + 1
    assert (p["P1369"], p["P1472"]) == ("10", "5149079050")  # speed dial = 10 + 0
    assert p["P271"] == "1" and p["P47"] == "pbx.acme.test" and p["P35"] == "acme-201" and p["P34"] == "s3cr3t-201"
    assert p["P212"] == "2" and p["P237"] == "portal.acme.test/prov/K3y-abc"
    assert p["P1360"] == "0015651a2b3c" and p["P1361"] == "Pr0v-pass"
    assert p["P330"] == "3" and p["P331"].endswith("/gs0015651a2b3c")
    assert {"P323", "P301", "P302", "P303", "P327"} <= set(p)  # multi-purpose keys 1-5


def test_grandstream_mpk_beyond_seven():
    cfg = with_keys(sample("grandstream", "GXP2160"), (Key(6 + 8, "blf", "230", "Eight", 1),))
    root = ET.fromstring(VENDORS["grandstream"].render(cfg, "cfg0015651a2b3c.xml").body)
    p = {e.tag: e.text or "" for e in root.find("config")}
    assert (p["P353"], p["P354"], p["P355"], p["P356"]) == ("1", "0", "Eight", "230")


def test_poly_blf_and_speed_dial():
    f = files("polycom", "VVX450")
    settings = ET.fromstring(f["0015651a2b3c-clusterpbx.cfg"].encode())
    attrs = {k: v for e in settings for k, v in e.attrib.items()}
    assert attrs["attendant.resourceList.1.address"] == "219@pbx.acme.test"
    assert attrs["attendant.resourceList.1.label"] == "JP Vallée"
    assert attrs["lineKey.3.category"] == "BLF" and attrs["lineKey.4.category"] == "SpeedDial"
    assert attrs["reg.2.auth.userId"] == "acme-251"
    directory = ET.fromstring(f["0015651a2b3c-directory.xml"].encode())
    assert [i.findtext("sd") for i in directory.iter("item")][-1] == "1"
    master = ET.fromstring(f["0015651a2b3c.cfg"].encode())
    assert master.get("CONFIG_FILES") == "0015651a2b3c-clusterpbx.cfg"


def test_snom_and_fanvil_keys():
    snom = files("snom", "D785")["snomD785-0015651A2B3C.htm"]
    assert ">blf sip:219@pbx.acme.test|**</fkey>" in snom and "<photo>iVBOR" in snom
    fanvil = ET.fromstring(files("fanvil", "X4U")["0015651a2b3c.cfg"].encode())
    page1 = fanvil.find("dsskey/internal")
    keys = {k.get("index"): (k.findtext("Type"), k.findtext("Value")) for k in page1.iter("Fkey")}
    assert keys["1"] == ("2", "SIP1") and keys["3"] == ("1", "219@1/bc") and keys["4"] == ("1", "5149079050@1/f")


@pytest.mark.parametrize(("vendor", "model"), cases())
def test_key_capacity_is_respected(vendor, model):
    v = VENDORS[vendor]
    capacity = v.key_capacity(model)
    cfg = with_keys(sample(vendor, model), tuple(Key(i, "speed", str(1000 + i), f"k{i}", 1)
                                                  for i in range(1, capacity + 3)))
    body = "".join(v.render(cfg, n).body.decode() for n in v.device_files(cfg.mac, model))
    assert str(1000 + capacity) in body
    assert str(1000 + capacity + 1) not in body


def test_operator_params_with_bad_names_are_dropped():
    o = options_from({}, {"params": {"ok.name": "1", "bad name": "x", "<x>": "y", "P8": "line\nnext"}})
    assert o.params == {"ok.name": "1", "P8": "line next"}


@pytest.mark.parametrize("value", [EVIL, "", "plain", "&&", "<<>>", "'\"", "é & ü", 0, 35, 2.5, None, True])
def test_xml_values_are_escaped_as_jinja_autoescape_escapes_them(value):
    from markupsafe import escape

    from clusterpbx.provisioning.vendors.base import render_template, xml_text

    assert xml_text(value) == str(escape(value))
    # Every `{{ }}` of an XML template is escaped, with or without a filter; text formats are left as they are.
    assert render_template("polycom/master.xml.j2", config_files=value).count(str(escape(value))) >= 1
    assert render_template("yealink/boot.j2", includes=[value]).count(str(value)) >= 1
