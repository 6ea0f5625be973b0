"""Each vendor and model renders byte-for-byte as in tests/provisioning/golden/.

After an intended change: `.venv/bin/python -m tests.provisioning.regen` (or CLUSTERPBX_REGEN_GOLDEN=1
pytest tests/provisioning), then review the diff of golden/ against the vendor's documented key names.
"""

from __future__ import annotations

import os

import pytest

from tests.provisioning import regen

EXPECTED = regen.expected()


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_golden(rel: str) -> None:
    path = regen.GOLDEN / rel
    if os.environ.get("CLUSTERPBX_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(EXPECTED[rel])
    assert path.exists(), f"missing golden file; run: python -m tests.provisioning.regen ({rel})"
    assert EXPECTED[rel] == path.read_bytes(), f"{rel} differs; review and regenerate"


def test_no_stale_golden_files() -> None:
    on_disk = {str(p.relative_to(regen.GOLDEN)) for p in regen.GOLDEN.rglob("*") if p.is_file()}
    assert on_disk == set(EXPECTED)
