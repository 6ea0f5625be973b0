"""Header templates of FreeSWITCH 1.10.12 events, recorded in fixtures/freeswitch/ and stored as data in
sim/data/esl_templates.json (written by tests/sim/fsfixtures.py generate_templates(); do not edit it by hand).

Each template is the recorded header list in wire order; values are the recorded ones with call-specific parts
replaced by {{placeholders}} (uuids, numbers, times); empty values of the common block are filled at send time.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_PATH = Path(__file__).parents[1] / "data" / "esl_templates.json"


def load(path: Path = DATA_PATH) -> dict[str, list[tuple[str, str]]]:
    """The templates keyed by event kind, in the recordings' order."""
    with open(path, encoding="utf-8") as fh:
        raw: dict[str, list[list[str]]] = json.load(fh)
    return {key: [(name, value) for name, value in pairs] for key, pairs in raw.items()}


TEMPLATES: dict[str, list[tuple[str, str]]] = load()
