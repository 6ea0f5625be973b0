"""Every generated Asterisk file passes asterisklint 0.4.3, except where asterisklint lags Asterisk 22."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterpbx.dialplan.asterisk import render_asterisk
from tests.dialplan.lint import lint_config, lint_dialplan
from tests.dialplan.sample import acme

pytest.importorskip("asterisklint")

# (message code, text fragment) -> why it is not a problem on Asterisk 20/22.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("E_APP_MISSING", "'MessageSend'"): (
        "MessageSend() is a core application since Asterisk 10 (main/message.c; the lab's own "
        "extensions.conf uses it on Asterisk 22.10.1); asterisklint 0.4.3 has no definition for it"
    ),
    ("E_FUNC_MISSING", "'PJSIP_PARSE_URI_FROM'"): (
        "PJSIP_PARSE_URI_FROM() exists since Asterisk 18.24.0, 20.9.0 and 21.4.0 (so in 22); "
        "asterisklint 0.4.3 knows the Asterisk 13 function set. Only the SMS-to-trunk route uses it"
    ),
    ("I_NOTIMPL_HINT", "hint directive"): (
        "informational: asterisklint does not implement 'exten => N,hint,...' lines; hints are "
        "standard dialplan (BLF of every extension)"
    ),
}


def _unexpected(messages: list[tuple[str, int, str, str]]) -> list[tuple[str, int, str, str]]:
    return [m for m in messages if not any(code == m[2] and frag in m[3] for code, frag in EXCEPTIONS)]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("asterisk")
    for name, body in render_asterisk(acme()).items():
        (out / name).write_text(body)
    return out


def test_dialplan_passes_asterisklint(rendered: Path) -> None:
    messages = lint_dialplan(rendered)
    assert _unexpected(messages) == []
    # the exceptions are really exercised, so this list stays honest
    assert {m[2] for m in messages} <= {code for code, _ in EXCEPTIONS}


@pytest.mark.parametrize("name", ["pjsip", "queues", "confbridge", "voicemail"])
def test_config_files_pass_asterisklint(rendered: Path, name: str) -> None:
    assert lint_config(rendered / f"{name}_clusterpbx.conf") == []


def test_lint_catches_a_broken_dialplan(tmp_path: Path) -> None:
    # guard against a lint helper that silently reports nothing
    (tmp_path / "extensions_clusterpbx.conf").write_text(
        "[x]\nexten => s,1,NoSuchApp(1)\n same => n,Goto(nolabel)\n"
    )
    codes = {m[2] for m in lint_dialplan(tmp_path)}
    assert "E_APP_MISSING" in codes
