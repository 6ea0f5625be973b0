#!/usr/bin/env bash
# Re-extract the portal's messages, rewrite the French catalog and compile both catalogs.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel -q extract -F babel.cfg -k _l -o web/translations/messages.pot web cli control
.venv/bin/python tools/translations_fr.py
.venv/bin/pybabel -q compile -d web/translations
