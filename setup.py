"""Build glue that setup.cfg cannot express: package discovery under the
`clusterpbx` import name, and compiling the portal's translations at install."""
from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

# Top-level folder -> import name; must match package_dir in setup.cfg.
ROOTS = {
    "cli": "clusterpbx",
    "control": "clusterpbx.control",
    "ami": "clusterpbx.ami",
    "esl": "clusterpbx.esl",
    "web": "clusterpbx.web",
    "dialplan": "clusterpbx.dialplan",
    "provisioning": "clusterpbx.provisioning",
    "sim": "clusterpbx.sim",
    "migrations": "clusterpbx.migrations",
}
HERE = os.path.dirname(os.path.abspath(__file__))


def find_packages() -> list[str]:
    found = []
    for folder, name in ROOTS.items():
        base = os.path.join(HERE, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
            if "__init__.py" not in filenames:
                continue
            rel = os.path.relpath(dirpath, base)
            found.append(name if rel == "." else name + "." + rel.replace(os.sep, "."))
    return sorted(found)


def compile_catalogs() -> None:
    """Compile web/translations/*/LC_MESSAGES/messages.po into .mo files."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    tdir = os.path.join(HERE, "web", "translations")
    for lang in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        po = os.path.join(tdir, lang, "LC_MESSAGES", "messages.po")
        if not os.path.exists(po):
            continue
        with open(po, "rb") as f:
            catalog = read_po(f, locale=lang)
        with open(po[:-3] + ".mo", "wb") as f:
            write_mo(f, catalog)


class BuildPy(build_py):
    def run(self) -> None:
        compile_catalogs()
        super().run()


setup(packages=find_packages(), cmdclass={"build_py": BuildPy})
