"""setup.cfg is the one declaration of the packages: every folder it maps under `clusterpbx` (package_dir)
that holds an __init__.py is listed in `packages`, and nothing else is."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _options() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg["options"]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_every_package_folder_is_declared_once_in_setup_cfg() -> None:
    options = _options()
    roots = dict(line.split(" = ") for line in _lines(options["package_dir"]))
    declared = _lines(options["packages"])
    on_disk = set()
    for name, folder in roots.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if any(part.startswith((".", "__")) for part in rel.parts):
                continue
            on_disk.add(".".join((name, *rel.parts)))
    assert len(declared) == len(set(declared))
    assert set(declared) == on_disk


def test_setup_py_declares_no_packages() -> None:
    """The only job left to setup.py is compiling the catalogs at build time."""
    source = (ROOT / "setup.py").read_text()
    assert "packages" not in source.replace("The packages themselves", "")
    assert "cmdclass" in source
