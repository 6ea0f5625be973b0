"""docs/architecture.md cannot rot silently: every path, `module::Name`, daemon command and API route it
names exists in the tree, every Markdown link reaches a file, and its table names every blueprint,
template folder, daemon command or job and API route there is. Plus the one rule the page states that
nothing else checks: importing the portal's blueprints loads neither panoramisk nor greenswitch.

Reads files only (no app, no database), except the last test, which imports the portal in a fresh
interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
TABLE_HEADING = "## Where each screen's code lives"

ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)$")
DAEMON_NAME = re.compile(r"^(?:cmd|job)_\w+$")
SYMBOL = re.compile(r"^([\w./-]+\.py)::(\w+)$")
PATH_SUFFIXES = (".py", ".md", ".html", ".js", ".css", ".cfg", ".toml", ".txt", ".json", ".sh")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _ticks(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def _is_path(token: str) -> bool:
    """A repository path as the page writes them: relative, no placeholder (`web/<screen>/`), no URL."""
    if token.startswith(("/", "../")) or any(c in token for c in "<>{}*: ()\"'"):
        return False
    return "/" in token or token.endswith(PATH_SUFFIXES)


def _table() -> tuple[list[str], list[list[str]]]:
    lines = _text().splitlines()
    start = lines.index(TABLE_HEADING)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    header, separator, body = rows[0], rows[1], rows[2:]
    assert set("".join(separator)) <= {"-", "|", " "}, separator
    for row in body:
        assert len(row) == len(header), f"a row of the table has {len(row)} cells, not {len(header)}: {row[0]}"
    return header, body


def _column(name: str) -> list[str]:
    header, body = _table()
    index = next(i for i, title in enumerate(header) if title.startswith(name))
    return [token for row in body for token in _ticks(row[index])]


def _defines(path: Path, name: str) -> bool:
    pattern = rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]"
    return re.search(pattern, path.read_text(encoding="utf-8"), re.MULTILINE) is not None


def _daemon_names() -> set[str]:
    """Every command handler and job of the daemon, wherever under control/ it lives."""
    names: set[str] = set()
    for path in (ROOT / "control").rglob("*.py"):
        names.update(re.findall(r"^\s*(?:async\s+)?def\s+((?:cmd|job)_\w+)\s*\(",
                                path.read_text(encoding="utf-8"), re.MULTILINE))
    return names


def _normalise(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _api_routes() -> set[tuple[str, str]]:
    """(method, URL) of every route in web/api/: `v1` routes sit under /api, `bp` ones at the root."""
    prefixes = {"v1": "/api", "bp": ""}
    routes: set[tuple[str, str]] = set()
    decorator = re.compile(r'@(\w+)\.route\(\s*"([^"]+)"(?:\s*,\s*methods=\[([^\]]*)\])?')
    for path in sorted((ROOT / "web" / "api").glob("*.py")):
        for blueprint, url, methods in decorator.findall(path.read_text(encoding="utf-8")):
            assert blueprint in prefixes, f"{path.name}: a route on an unknown blueprint {blueprint!r}"
            for method in re.findall(r"\w+", methods) or ["GET"]:
                routes.add((method, _normalise(prefixes[blueprint] + url)))
    return routes


def test_every_path_on_the_page_exists() -> None:
    missing = [token for token in _ticks(_text()) if _is_path(token) and not (ROOT / token).exists()]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
    folders = [token for token in _ticks(_text()) if _is_path(token) and token.endswith("/")
               and not (ROOT / token).is_dir()]
    assert not folders, f"written as folders but not folders: {folders}"


def test_every_module_and_name_on_the_page_exists() -> None:
    symbols = [SYMBOL.match(token) for token in _ticks(_text())]
    found = [m for m in symbols if m]
    assert len(found) >= 10  # the confusable names
    wrong = [m.group(0) for m in found if not (ROOT / m.group(1)).is_file() or not _defines(ROOT / m.group(1),
                                                                                              m.group(2))]
    assert not wrong, f"docs/architecture.md names classes or functions that are not there: {wrong}"


def test_every_markdown_link_reaches_a_file() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", _text())
    local = [link.split("#")[0] for link in links if not re.match(r"^[a-z]+:", link)]
    assert local
    broken = [link for link in local if not (DOC.parent / link).exists()]
    assert not broken, f"broken links in docs/architecture.md: {broken}"


def test_the_daemon_commands_and_port_methods_exist_and_every_command_is_listed() -> None:
    tokens = _column("Daemon")
    commands = {t for t in tokens if DAEMON_NAME.match(t)}
    port_methods = {t for t in tokens if not DAEMON_NAME.match(t) and not _is_path(t)}
    there = _daemon_names()
    assert there, "no cmd_*/job_* under control/: the daemon's commands moved; update this test and the page"
    assert not commands - there, f"not daemon commands or jobs (def cmd_*/job_* under control/): {commands - there}"
    assert not there - commands, f"daemon commands or jobs missing from the table: {sorted(there - commands)}"
    port = ROOT / "control" / "port.py"
    absent = sorted(m for m in port_methods if not _defines(port, m))
    assert not absent, f"not methods of the port (control/port.py): {absent}"
    named = {t for t in _ticks(_text()) if DAEMON_NAME.match(t)}
    assert not named - there, f"the page names commands that do not exist: {named - there}"


def test_each_rows_daemon_commands_are_in_the_modules_it_names() -> None:
    """A row names the module(s) of control/daemon/ that register its commands and jobs (each feature
    registers its own): a newcomer opens that file and finds them."""
    header, body = _table()
    index = next(i for i, title in enumerate(header) if title.startswith("Daemon"))
    checked = 0
    for row in body:
        tokens = _ticks(row[index])
        names = [t for t in tokens if DAEMON_NAME.match(t)]
        modules = [ROOT / t for t in tokens if _is_path(t)]
        assert all(str(m.relative_to(ROOT)).startswith("control/daemon/") for m in modules), (row[0], modules)
        if names:
            assert modules, f"{row[0]}: name the module of control/daemon/ that registers {names}"
        for name in names:
            assert any(m.is_file() and _defines(m, name) for m in modules), \
                f"{row[0]}: {name} is not in {[str(m.relative_to(ROOT)) for m in modules]}"
            checked += 1
    assert checked >= 15


def test_the_api_routes_exist_and_every_route_is_listed() -> None:
    listed = set()
    resources = set()
    for token in _column("API"):
        route = ROUTE.match(token)
        if route:
            listed.add((route.group(1), _normalise(route.group(2))))
        elif not _is_path(token) and token != "{resource}":
            resources.add(token)
    there = _api_routes()
    assert len(there) > 20
    assert not listed - there, f"the table lists routes web/api/ does not have: {sorted(listed - there)}"
    assert not there - listed, f"routes of web/api/ missing from the table: {sorted(there - listed)}"
    registered = set()
    for path in (ROOT / "control" / "admin").glob("*.py"):
        registered.update(re.findall(r'^    name = "(\w+)"', path.read_text(encoding="utf-8"), re.MULTILINE))
    assert resources and not resources - registered, f"not administration resources: {resources - registered}"


def test_every_blueprint_and_template_folder_is_in_the_table() -> None:
    blueprints = {p.parent.name for p in (ROOT / "web").glob("*/__init__.py")}
    assert {"calls", "sms", "admin", "api"} <= blueprints
    named = {t.split("/")[1] for t in _column("Blueprint") if t.startswith("web/") and t.count("/") >= 2}
    assert not blueprints - named, f"blueprints missing from the table: {sorted(blueprints - named)}"
    folders = {p.name for p in (ROOT / "web" / "templates").iterdir() if p.is_dir()}
    named = {t.split("/")[2] for t in _column("Templates") if t.startswith("web/templates/") and t.count("/") >= 3}
    assert not folders - named, f"template folders missing from the table: {sorted(folders - named)}"


def test_every_screen_of_the_guides_menu_has_a_row() -> None:
    screens = " ".join(row[0] for row in _table()[1])
    for name in ("Connexion", "Accueil", "Mon image de profil", "Détails d'appels", "Messagerie vocale",
                 "Appels en cours", "Mon softphone", "Mon téléphone", "Mes files d'attente", "Répertoire", "SMS",
                 "Conférence en ligne", "Conférence personnelle", "Paramètres avancés", "Compte",
                 "Messagerie Vocale", "Déconnexion", "S'enregistrer", "Mot de passe oublié", "Connexion avec Gmail"):
        assert name in screens, name


def test_web_workers_never_import_the_pbx_libraries() -> None:
    code = (
        "import importlib, sys\n"
        "import clusterpbx.web as web\n"
        "for name in web.BLUEPRINTS: importlib.import_module('clusterpbx.web.' + name)\n"
        "importlib.import_module('clusterpbx.web.asgi')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('panoramisk', 'greenswitch', 'gevent')"
        " or m.startswith(('clusterpbx.ami', 'clusterpbx.esl.adapter', 'clusterpbx.esl.connection')))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if done.returncode:
        pytest.fail(f"importing the portal failed:\n{done.stderr}")
    assert done.stdout.split() == [], f"the portal's modules load a PBX library: {done.stdout}"
