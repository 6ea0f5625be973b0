"""render_node / write_files: atomic writes of our own files only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clusterpbx.dialplan.render import render_node, write_files
from clusterpbx.dialplan.sanitize import RenderError
from tests.dialplan.sample import acme


def test_write_files_atomic_and_idempotent(tmp_path: Path) -> None:
    operator = tmp_path / "extensions.conf"
    operator.write_text("[default]\n")
    files = render_node(acme())
    changed = write_files(files, tmp_path)
    assert sorted(p.name for p in changed) == sorted(files)
    assert operator.read_text() == "[default]\n"
    assert (tmp_path / "extensions_clusterpbx.conf").read_text() == files["extensions_clusterpbx.conf"]
    # nothing changed: nothing rewritten
    assert write_files(files, tmp_path) == []
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


@pytest.mark.parametrize(
    "name", ["extensions.conf", "../pjsip_clusterpbx.conf", "sub/voicemail_clusterpbx.conf"]
)
def test_write_files_refuses_foreign_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(RenderError):
        write_files({name: "x"}, tmp_path)


def test_render_node_dispatches_on_kind() -> None:
    assert "extensions_clusterpbx.conf" in render_node(acme("asterisk"))
    assert "dialplan_clusterpbx.xml" in render_node(acme("freeswitch"))
