"""The admin screens' app: the control channel points at a closed loopback port, so that a
"test connection" never reaches whatever daemon happens to run on this machine."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    from clusterpbx.web import create_app

    app = create_app({
        "TESTING": True,
        "SETTINGS": {"database_url": database_url, "instance_path": str(tmp_path / "instance"),
                     "session_cookie_secure": False, "ratelimit_storage_url": "memory://",
                     "control_url": f"http://127.0.0.1:{closed_port()}", "control_timeout": 2.0},
    })
    yield app
    app.extensions["clusterpbx.engine"].dispose()
