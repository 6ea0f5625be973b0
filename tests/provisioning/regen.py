"""Regenerate the golden files: `.venv/bin/python -m tests.provisioning.regen` (or run the tests with
CLUSTERPBX_REGEN_GOLDEN=1), then review the diff of tests/provisioning/golden/ against the vendor docs."""

from __future__ import annotations

from pathlib import Path

from clusterpbx.provisioning.vendors import VENDORS
from tests.provisioning.sample import cases, sample

GOLDEN = Path(__file__).resolve().parent / "golden"


def expected() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for vendor, model in cases():
        cfg = sample(vendor, model)
        v = VENDORS[vendor]
        for name in v.device_files(cfg.mac, model):
            out[f"{vendor}/{model}/{name.replace('/', '_')}"] = v.render(cfg, name).body
    for name, vendor in (("y000000000066.cfg", "yealink"), ("000000000000.cfg", "polycom"),
                         ("spa8841.cfg", "cisco"), ("snomD785.htm", "snom")):
        cfg = sample(vendor, VENDORS[vendor].default_model)
        out[f"{vendor}/generic/{name}"] = VENDORS[vendor].render_generic(name, cfg.options, cfg.base_url).body
    return out


def regenerate() -> list[Path]:
    written = []
    for rel, body in expected().items():
        path = GOLDEN / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in regenerate():
        print(path)
