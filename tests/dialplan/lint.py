"""Run asterisklint 0.4.3 on generated files, each run in its own process (asterisklint keeps global state)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_MESSAGE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+) (?P<code>[A-Z]_[A-Z0-9_]+): (?P<text>.*)$")

# The operator's extensions.conf as we document it: their [general]/[globals], then our #include.
WRAPPER = "[general]\nstatic=yes\nwriteprotect=yes\n\n[globals]\n\n#include extensions_clusterpbx.conf\n"

_CONFIG_SCRIPT = """
import sys
from asterisklint import FileConfigParser
parser = FileConfigParser()
parser.include(sys.argv[1])
for _ in parser:
    pass
"""


def _run(args: list[str], cwd: Path) -> list[tuple[str, int, str, str]]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    out = []
    for line in proc.stderr.splitlines():
        m = _MESSAGE.match(line)
        if m:
            out.append((m["file"], int(m["line"]), m["code"], m["text"]))
        elif line.strip():
            out.append(("?", 0, "CRASH", line))
    return out


def lint_dialplan(directory: Path) -> list[tuple[str, int, str, str]]:
    (directory / "extensions.conf").write_text(WRAPPER)
    exe = Path(sys.executable).with_name("asterisklint")
    return _run([str(exe), "dialplan-check", "extensions.conf"], directory)


def lint_config(path: Path) -> list[tuple[str, int, str, str]]:
    return _run([sys.executable, "-c", _CONFIG_SCRIPT, path.name], path.parent)
