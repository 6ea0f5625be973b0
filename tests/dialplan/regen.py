"""Regenerate the golden files: `python -m tests.dialplan.regen` (or run the tests with CLUSTERPBX_REGEN_GOLDEN=1)."""

from __future__ import annotations

from pathlib import Path

from clusterpbx.dialplan.render import render_node
from tests.dialplan.sample import acme

GOLDEN = Path(__file__).resolve().parent / "golden"


def expected() -> dict[str, str]:
    """golden-relative path -> content, for the sample snapshot on both kinds of node."""
    out: dict[str, str] = {}
    for kind in ("asterisk", "freeswitch"):
        for name, body in render_node(acme(kind)).items():
            out[f"{kind}/{name}"] = body
    return out


def regenerate() -> list[Path]:
    written = []
    for rel, body in expected().items():
        path = GOLDEN / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode("utf-8"))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in regenerate():
        print(path)
