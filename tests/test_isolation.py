"""What the code under test keeps per process does not leak from one test into the next
(tests/conftest.py: process_state_restored). The tests of a pair run in file order; the second fails
if the first's change survived."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterpbx.control import urlpolicy
from clusterpbx.control.config import load_settings

BEFORE: list[urlpolicy.UrlPolicy] = []


def test_a_settings_load_sets_the_process_url_policy(tmp_path: Path) -> None:
    BEFORE.append(urlpolicy.current())
    load_settings({"instance_path": str(tmp_path), "outbound_allow_http": True, "outbound_allow_private": True})
    assert urlpolicy.current().allow_http and urlpolicy.current().allow_private


def test_the_next_test_starts_from_the_policy_before_it() -> None:
    if not BEFORE:
        pytest.skip("meaningful after the test above only (run alone or in another order)")
    assert urlpolicy.current() is BEFORE[-1]
