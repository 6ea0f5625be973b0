"""The suite's helpers for what lives outside the repository: ../shared/fixtures is found relative to
the checkout (never an absolute path), and its absence fails with a message saying where it looked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import components


def test_shared_fixtures_are_next_to_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTERPBX_FIXTURES", raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert (repo / "setup.cfg").is_file()
    assert components.shared_fixtures() == repo.parent / "shared" / "fixtures"
    assert components.shared_fixtures("freeswitch", "json_cdr").is_dir()


def test_missing_shared_fixtures_fail_with_the_place_looked_at(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("CLUSTERPBX_FIXTURES", str(tmp_path / "nowhere"))
    with pytest.raises(pytest.fail.Exception, match=r"MISSING FIXTURES: .*nowhere.*CLUSTERPBX_FIXTURES"):
        components.shared_fixtures("asterisk")
    monkeypatch.setenv("CLUSTERPBX_FIXTURES", str(tmp_path))
    assert components.shared_fixtures("asterisk") == tmp_path / "asterisk"
