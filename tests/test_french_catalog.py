"""The French catalog is the ordinary gettext one (web/translations/fr/LC_MESSAGES/messages.po, edited
directly or with a translator's tool; tools/i18n.sh extracts, merges, checks and compiles): it must be up to
date with the sources, and every message must have its French, none left fuzzy."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]


def check_catalog() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_catalog", ROOT / "tools" / "check_catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_has_its_french_and_none_is_fuzzy() -> None:
    assert check_catalog().problems() == []


def test_the_template_is_the_one_the_sources_give(tmp_path: Path) -> None:
    """A message added to the code without running tools/i18n.sh is missing from the template (and so
    from the catalog): the same extraction as tools/i18n.sh must give the committed template's messages."""
    pybabel = Path(sys.executable).with_name("pybabel")
    out = tmp_path / "messages.pot"
    subprocess.run([str(pybabel if pybabel.exists() else shutil.which("pybabel")), "-q", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-o", str(out), "web", "cli", "control"], cwd=ROOT, check=True, timeout=120)

    def ids(path: Path) -> set[object]:
        with open(path, "rb") as f:
            return {m.id for m in read_po(f) if m.id}

    extracted, committed = ids(out), ids(ROOT / "web" / "translations" / "messages.pot")
    assert extracted - committed == set(), "run tools/i18n.sh: new messages"
    assert committed - extracted == set(), "run tools/i18n.sh: messages no longer used"


def test_the_check_finds_what_is_untranslated_fuzzy_or_missing(tmp_path: Path) -> None:
    template, catalog = tmp_path / "messages.pot", tmp_path / "messages.po"
    template.write_text('msgid ""\nmsgstr ""\n\nmsgid "Save"\nmsgstr ""\n\nmsgid "Home"\nmsgstr ""\n\n'
                        'msgid "Log out"\nmsgstr ""\n\nmsgid "Directory"\nmsgstr ""\n', encoding="utf-8")
    catalog.write_text('msgid ""\nmsgstr ""\n"Language: fr\\n"\n\nmsgid "Save"\nmsgstr "Enregistrer"\n\n'
                       'msgid "Home"\nmsgstr ""\n\n#, fuzzy\nmsgid "Log out"\nmsgstr "Déconnexion"\n',
                       encoding="utf-8")
    found = check_catalog().problems(template, catalog)
    assert [line.split(":")[0] for line in found] == ["no French", "fuzzy (review the French, then remove the fuzzy flag)",
                                                     "not in the French catalog (run tools/i18n.sh)"]
    assert "'Home'" in found[0] and "'Log out'" in found[1] and "'Directory'" in found[2]
