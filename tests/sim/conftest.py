"""Fixtures for the sim tests: a started SimPBX with the Asterisk lab on ephemeral ports."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterpbx.sim.runner import SimPBX

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimPBX]:
    pbx = SimPBX(spool_dir=tmp_path / "spool", esl_port=None)
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()
