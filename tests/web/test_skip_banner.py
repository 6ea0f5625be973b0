"""The banner of `make test` counts every test a missing component skipped, as pytest's own summary
does (a skipping session fixture runs once but skips every test that uses it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = "from tests.conftest import pytest_terminal_summary  # noqa: F401\n"
TESTS = '''
import pytest
from tests import components


@pytest.fixture(scope="session")
def absent():
    components.require("frobnicator", False, "apt-get install frobnicator")


@pytest.mark.parametrize("n", range(3))
def test_needs_it(absent, n):
    pass


def test_other():
    components.require("widget", False, "apt-get install widget")


def test_runs():
    pass
'''


def test_banner_counts_each_skipped_test(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_sample.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT.parent) + os.pathsep + str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull,
                          "--rootdir", str(tmp_path), str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert "4 skipped" in text, text
    assert "4 test(s) did not run" in text, text
    assert "MISSING COMPONENT frobnicator" in text and "MISSING COMPONENT widget" in text
