"""Imports sit at the top of modules, and the domain (`control/`) has no import cycle.

Reads the sources with `ast` (nothing is imported). Three checks:

- the import graph of `control/` (every `import` statement, at the top or inside a function) has no
  cycle: a cycle is what pushed imports into functions before (`control/accounts.py` ->
  `control/admin/users.py` -> `control/identity.py` -> `control/accounts.py`);
- an import inside a function is allowed only where `LAZY` lists it, with the reason. A new one fails
  here: move it to the top of its module, or, if it is genuinely heavy, optional or breaks a cycle of
  another package, list it with the reason;
- the domain does not import the daemon (`control/daemon/`), and only the daemon's wiring module names
  the adapters.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Each top-level folder installs as clusterpbx.<folder> (setup.cfg's package_dir); cli/ is clusterpbx itself.
PACKAGE_OF_FOLDER = {"cli": "clusterpbx", "control": "clusterpbx.control", "web": "clusterpbx.web",
                     "dialplan": "clusterpbx.dialplan", "provisioning": "clusterpbx.provisioning",
                     "ami": "clusterpbx.ami", "esl": "clusterpbx.esl", "sim": "clusterpbx.sim"}
SCANNED = ("control", "web", "cli")

# Imports left inside functions, per file: (imported module, why it is not at the top).
LAZY: dict[str, list[tuple[str, str]]] = {
    "cli/__init__.py": [("clusterpbx.cli", "the console script's entry point loads the commands when called")],
    "cli/demo_oidc.py": [("PIL", "Pillow draws the demo's profile picture only when it is asked for")],
    "cli/demo_runtime.py": [
        ("clusterpbx.sim.model", "the embedded PBX, only when the demo starts it"),
        ("clusterpbx.sim.runner", "the embedded PBX, only when the demo starts it"),
    ],
    "control/daemon/wiring.py": [
        ("clusterpbx.ami.adapter", "only the adapter of a node's kind is loaded, when such a node starts"),
        ("clusterpbx.esl.adapter", "only the adapter of a node's kind is loaded (greenswitch brings gevent)"),
    ],
    "web/identity/google.py": [
        ("authlib.integrations.requests_client", "Authlib, only when an operator turned Google sign-in on"),
    ],
    "web/live/feed.py": [("psycopg", "the PostgreSQL driver, never imported on SQLite")],
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = [PACKAGE_OF_FOLDER[rel.parts[0]], *rel.parts[1:]]
    parts[-1] = parts[-1].removesuffix(".py")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The module an `from ... import` names, resolved against the file's package."""
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if not _is_package(path):
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> list[tuple[str, bool, list[str]]]:
    """(module, inside a function, names imported) for every import statement of the file."""
    found: list[tuple[str, bool, list[str]]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                found.append((_absolute(path, child), in_function, [a.name for a in child.names]))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _control_graph() -> dict[str, set[str]]:
    files = _files("control")
    modules = {_module_name(p) for p in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for path in files:
        source = _module_name(path)
        for module, _, names in _imports(path):
            # `from . import audit` imports the module control.audit; `from .admin import Actor` the package.
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules] or [module]
            for target in targets:
                if target in modules and target != source:
                    graph[source].add(target)
                # Importing a.b.c runs a.b first: an edge to every enclosing package inside control/
                # (not to the source's own packages, which Python has already started).
                parts = target.split(".")
                for i in range(3, len(parts)):
                    prefix = ".".join(parts[:i])
                    if prefix in modules and not source.startswith(prefix + "."):
                        graph[source].add(prefix)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_the_graph_sees_the_control_packages_imports() -> None:
    graph = _control_graph()
    assert "clusterpbx.control.models" in graph["clusterpbx.control.accounts"]
    assert "clusterpbx.control.admin" in graph["clusterpbx.control.admin.users"]
    assert "clusterpbx.control.audit" in graph["clusterpbx.control.admin.users"]  # from .. import audit
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_control_has_no_import_cycle() -> None:
    cycles = _cycles(_control_graph())
    assert not cycles, f"modules of control/ that import each other in a circle: {cycles}"


def test_imports_inside_functions_are_only_the_listed_ones() -> None:
    """Each import inside a function must be in LAZY for its file (so their number cannot grow)."""
    unexpected: list[str] = []
    for path in _files(*SCANNED):
        rel = str(path.relative_to(ROOT))
        found = Counter(module for module, in_function, _ in _imports(path) if in_function)
        allowed = Counter(module for module, _ in LAZY.get(rel, []))
        unexpected += [f"{rel}: {m}" for m in (found - allowed).elements()]
    assert not unexpected, ("imports inside functions: move them to the top of the module (or list them in LAZY "
                            f"with the reason they must stay): {unexpected}")


def test_the_domain_does_not_import_the_daemon() -> None:
    """The daemon (control/daemon/) sits on top of the domain: models, services, validation and the port
    never import it, and within control/ only its wiring module loads the adapters (ami/, esl/)."""
    daemon = "clusterpbx.control.daemon"
    graph = _control_graph()
    assert {f"{daemon}.core", f"{daemon}.registry", f"{daemon}.sms"} <= set(graph)
    assert f"{daemon}.core" in graph[f"{daemon}.sms"]  # the graph sees the package's own imports
    wrong = sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                   if not (source == daemon or source.startswith(daemon + "."))
                   and (target == daemon or target.startswith(daemon + ".")))
    assert not wrong, f"the domain imports the daemon: {wrong}"
    adapters = sorted(str(path.relative_to(ROOT)) for path in _files("control")
                      for module, _, _ in _imports(path) if module.split(".")[:2] in (["clusterpbx", "ami"],
                                                                                     ["clusterpbx", "esl"]))
    assert adapters == ["control/daemon/wiring.py", "control/daemon/wiring.py"], adapters
