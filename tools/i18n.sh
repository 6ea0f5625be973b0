#!/usr/bin/env bash
# The standard gettext workflow: extract the portal's messages into the template, merge them into the French
# catalog (web/translations/fr/LC_MESSAGES/messages.po, which translators edit directly or with Poedit,
# Weblate...), check that every message has its French and none is fuzzy, and compile the catalogs.
# A new message arrives with an empty msgstr (or a fuzzy guess from a similar one): write its French in the
# .po, remove the fuzzy flag if any, and run this again.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel -q extract -F babel.cfg -k _l -o web/translations/messages.pot web cli control
.venv/bin/pybabel -q update -i web/translations/messages.pot -d web/translations -l fr -w 100
.venv/bin/python tools/check_catalog.py
.venv/bin/pybabel -q compile -d web/translations
