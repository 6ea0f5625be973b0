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


def test_missing_component_banner_from_the_reports_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under pytest-xdist the skips happen in the workers: `components.MISSING` stays empty where the
    summary is written, and the banner still names each component and counts each test from the skip
    reports that the workers send back."""
    from types import SimpleNamespace

    from tests.conftest import pytest_terminal_summary

    monkeypatch.setattr(components, "MISSING", [])
    pg = "Skipped: MISSING COMPONENT postgresql: set CLUSTERPBX_TEST_POSTGRES_URL"
    skipped = [SimpleNamespace(longrepr=("tests/x.py", 3, pg)) for _ in range(3)]
    skipped.append(SimpleNamespace(longrepr=("tests/y.py", 9, "Skipped: MISSING COMPONENT chromium: apt-get")))
    skipped.append(SimpleNamespace(longrepr=("tests/z.py", 1, "Skipped: meaningful after the test above")))
    lines: list[str] = []
    reporter = SimpleNamespace(stats={"skipped": skipped}, section=lambda title, **kw: lines.append(title),
                               write_line=lambda line, **kw: lines.append(line))
    pytest_terminal_summary(reporter)
    assert lines == ["SKIPPED FOR MISSING COMPONENTS", "MISSING COMPONENT chromium: apt-get",
                     "MISSING COMPONENT postgresql: set CLUSTERPBX_TEST_POSTGRES_URL",
                     "4 test(s) did not run; run `bash .ci/run` for the full suite."]
