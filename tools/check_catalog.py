"""Check the French catalog against the extracted template: every message of the portal translated, none
fuzzy (a guess `pybabel update` made from a similar message, to be reviewed), none missing.

Run by tools/i18n.sh after `pybabel update`, and by tests/test_french_catalog.py; prints the problems and
exits 1 when there are any."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "web" / "translations" / "messages.pot"
FRENCH = ROOT / "web" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"


def _key(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def problems(template: Path = TEMPLATE, catalog: Path = FRENCH) -> list[str]:
    with open(template, "rb") as f:
        wanted = [_key(m.id) for m in read_po(f) if m.id]
    with open(catalog, "rb") as f:
        french = read_po(f, locale="fr")
    found = {_key(m.id): m for m in french if m.id}
    out = []
    for msgid in wanted:
        message = found.get(msgid)
        if message is None:
            out.append(f"not in the French catalog (run tools/i18n.sh): {msgid!r}")
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            out.append(f"no French: {msgid!r}")
        elif message.fuzzy:
            out.append(f"fuzzy (review the French, then remove the fuzzy flag): {msgid!r}")
    return out


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
