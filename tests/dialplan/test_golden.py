"""The sample snapshot renders byte-for-byte as in tests/dialplan/golden/.

After an intended change: `python -m tests.dialplan.regen` (or CLUSTERPBX_REGEN_GOLDEN=1 pytest tests/dialplan),
then review the diff of golden/ before committing.
"""

from __future__ import annotations

import os

import pytest

from clusterpbx.dialplan.render import render_node
from tests.dialplan import regen
from tests.dialplan.sample import acme

EXPECTED = regen.expected()


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_golden(rel: str) -> None:
    path = regen.GOLDEN / rel
    if os.environ.get("CLUSTERPBX_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(EXPECTED[rel].encode("utf-8"))
    assert path.exists(), f"missing golden file; run: python -m tests.dialplan.regen ({rel})"
    assert EXPECTED[rel].encode("utf-8") == path.read_bytes(), f"{rel} differs; review and regenerate"


def test_no_stale_golden_files() -> None:
    on_disk = {str(p.relative_to(regen.GOLDEN)) for p in regen.GOLDEN.rglob("*") if p.is_file()}
    assert on_disk == set(EXPECTED)


def test_rendering_is_deterministic_and_order_independent() -> None:
    snap = acme()
    import dataclasses

    shuffled = dataclasses.replace(
        snap,
        tenants=tuple(
            dataclasses.replace(t, extensions=tuple(reversed(t.extensions))) for t in reversed(snap.tenants)
        ),
    )
    assert render_node(snap) == render_node(shuffled)
