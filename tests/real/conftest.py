"""The opt-in suite against a real Asterisk 22 and FreeSWITCH 1.10 (`make test-real`): the lab PBXs of
lab/ (built outside the repository, see lab/README.md) on loopback. Not part of `make test` or CI:
tests/conftest.py leaves this folder out unless CLUSTERPBX_REAL=1."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"


def _load_check() -> Any:
    spec = importlib.util.spec_from_file_location("clusterpbx_lab_check", LAB / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The connection settings `lab/<script> env` prints: lab/check.py's reader, not a copy of it.
lab_env = _load_check().lab_env


def _running(script: str) -> bool:
    return subprocess.run(["bash", str(LAB / script), "status"], capture_output=True).returncode == 0


def _started(script: str) -> dict[str, str]:
    """The lab PBX, started if it is built but stopped; the suite fails (not skips) without it."""
    if not _running(script):
        started = subprocess.run(["bash", str(LAB / script), "start"], capture_output=True, text=True)
        assert started.returncode == 0, f"lab/{script} start failed:\n{started.stdout}\n{started.stderr}"
    return dict(lab_env(script))


@pytest.fixture(scope="session")
def asterisk_lab() -> dict[str, str]:
    return _started("asterisk.sh")


@pytest.fixture(scope="session")
def freeswitch_lab() -> dict[str, str]:
    return _started("freeswitch.sh")


@pytest.fixture(scope="session")
def sipp() -> str:
    path = shutil.which("sipp")
    assert path, "sipp not found (apt-get install sip-tester)"
    return path


def until(what: str, check: Callable[[], Any], seconds: float = 30) -> Any:
    """check()'s first true value, polled every 0.3 s; fails saying what was not reached in time."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not reached in {seconds} s: {what}"
        time.sleep(0.3)
