"""The services' labels and messages (marked N_ in control/admin/) reach the French catalog, and every
one of them, and every admin screen message, has its French."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from babel.support import Translations

ROOT = Path(__file__).resolve().parents[2]
SAME_IN_FRENCH = {"Administration", "Port", "Agents", "Actions", "Pages", "Secret", "English", "Label", "Type"}


def fr_admin():
    spec = importlib.util.spec_from_file_location("fr_admin", ROOT / "tools" / "fr_admin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_admin_message_has_french():
    from babel.messages.pofile import read_po

    with open(ROOT / "web" / "translations" / "messages.pot", "rb") as f:
        template = read_po(f)
    ours = {loc for m in template for loc, _line in m.locations if "admin" in loc}
    assert "control/admin/users.py" in ours and "web/templates/admin/form.html" in ours
    extracted = [m.id if isinstance(m.id, str) else m.id[0] for m in template
                 if any(loc in ours for loc, _line in m.locations)]
    catalog = Translations.load(str(ROOT / "web" / "translations"), ["fr"])
    module = fr_admin()
    missing_from_catalog = [m for m in module.service_msgids() if m not in extracted]
    assert not missing_from_catalog, f"run tools/i18n.sh; not extracted: {missing_from_catalog}"
    untranslated = [m for m in extracted if catalog.gettext(m) == m and m not in SAME_IN_FRENCH]
    assert not untranslated, f"run tools/i18n.sh; no French for: {untranslated}"
