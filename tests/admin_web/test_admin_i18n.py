"""The services' labels and messages (marked N_ in control/admin/) reach the French catalog, and every
one of them, and every admin screen message, has its French."""

from __future__ import annotations

from pathlib import Path

from babel.support import Translations

ROOT = Path(__file__).resolve().parents[2]
SAME_IN_FRENCH = {"Administration", "Port", "Agents", "Actions", "Pages", "Secret", "English", "Label", "Type"}


def service_msgids() -> list[str]:
    """Every label, help text and message of the administration services, in registry order."""
    import importlib
    import pkgutil

    from clusterpbx.control import admin

    found: list[str] = []

    def add(text: str) -> None:
        if text and text not in found:
            found.append(text)

    for res in admin.resources():
        add(res.label)
        for f in res.fields:
            add(f.label)
            add(f.help)
    for info in pkgutil.iter_modules(admin.__path__):
        module = importlib.import_module(f"{admin.__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and " " in value and value.rstrip().endswith("."):
                add(value)
    return found


def test_every_admin_message_has_french():
    from babel.messages.pofile import read_po

    with open(ROOT / "web" / "translations" / "messages.pot", "rb") as f:
        template = read_po(f)
    ours = {loc for m in template for loc, _line in m.locations if "admin" in loc}
    assert "control/admin/users.py" in ours and "web/templates/admin/form.html" in ours
    extracted = [m.id if isinstance(m.id, str) else m.id[0] for m in template
                 if any(loc in ours for loc, _line in m.locations)]
    catalog = Translations.load(str(ROOT / "web" / "translations"), ["fr"])
    missing_from_catalog = [m for m in service_msgids() if m not in extracted]
    assert not missing_from_catalog, f"run tools/i18n.sh; not extracted: {missing_from_catalog}"
    untranslated = [m for m in extracted if catalog.gettext(m) == m and m not in SAME_IN_FRENCH]
    assert not untranslated, f"run tools/i18n.sh; no French for: {untranslated}"
