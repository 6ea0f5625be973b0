"""Entry points: render every generated file of a node, and write them atomically next to the operator's own.

Only files whose names we generate are ever written, so an operator's configuration is never touched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import asterisk, freeswitch
from .model import NodeSnapshot
from .sanitize import RenderError


def render_node(snapshot: NodeSnapshot) -> dict[str, str]:
    """All generated files of the node, by file name (deterministic: same snapshot, same bytes)."""
    if snapshot.node.kind == "asterisk":
        return asterisk.render_asterisk(snapshot)
    if snapshot.node.kind == "freeswitch":
        return freeswitch.render_freeswitch(snapshot)
    raise RenderError(f"unknown node kind {snapshot.node.kind!r}")


def our_file_names() -> frozenset[str]:
    return frozenset(asterisk.ASTERISK_FILES) | frozenset(freeswitch.FREESWITCH_FILES)


def write_files(files: dict[str, str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write each file atomically (temp file + fsync + rename); returns the paths that changed.

    Unchanged files are left alone so their mtime (and any reload trigger watching it) stays put.
    """
    allowed = our_file_names()
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for name, body in sorted(files.items()):
        # Refuse anything that is not one of our own flat file names (no paths, no operator files).
        if name not in allowed or Path(name).name != name:
            raise RenderError(f"refusing to write {name!r}: not a ClusterPBX file")
        target = directory / name
        data = body.encode("utf-8")
        if target.exists() and target.read_bytes() == data:
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        changed.append(target)
    return changed
