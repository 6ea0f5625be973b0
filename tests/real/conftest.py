"""The opt-in suite against a real Asterisk 22 and FreeSWITCH 1.10 (`make test-real`): the lab PBXs of
lab/ (built outside the repository, see lab/README.md) on loopback. Not part of `make test` or CI:
tests/conftest.py leaves this folder out unless CLUSTERPBX_REAL=1."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"


def lab_env(script: str) -> dict[str, str]:
    out = subprocess.run(["bash", str(LAB / script), "env"], capture_output=True, text=True, check=True).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if words and words[0] == "export":
            for word in words[1:]:
                name, sep, value = word.partition("=")
                if sep:
                    env[name] = value
    return env


def _running(script: str) -> bool:
    return subprocess.run(["bash", str(LAB / script), "status"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def asterisk_lab() -> dict[str, str]:
    """The lab Asterisk, started if it is built but stopped; the suite fails (not skips) without it."""
    if not _running("asterisk.sh"):
        started = subprocess.run(["bash", str(LAB / "asterisk.sh"), "start"], capture_output=True, text=True)
        assert started.returncode == 0, f"lab/asterisk.sh start failed:\n{started.stdout}\n{started.stderr}"
    return lab_env("asterisk.sh")


@pytest.fixture(scope="session")
def freeswitch_lab() -> dict[str, str]:
    if not _running("freeswitch.sh"):
        started = subprocess.run(["bash", str(LAB / "freeswitch.sh"), "start"], capture_output=True, text=True)
        assert started.returncode == 0, f"lab/freeswitch.sh start failed:\n{started.stdout}\n{started.stderr}"
    return lab_env("freeswitch.sh")


@pytest.fixture(scope="session")
def sipp() -> str:
    path = shutil.which("sipp")
    assert path, "sipp not found (apt-get install sip-tester)"
    return path
