"""Run a real control daemon (with a fake of our own PBX port) on its own loop thread, wired to a test app."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from tests.fakes import FakePbx


@contextlib.contextmanager
def daemon_for_app(app: Any, engine: Any, fake: FakePbx, secret: str = "s3cret") -> Iterator[ControlDaemon]:
    loop = asyncio.new_event_loop()
    daemon = ControlDaemon(make_session_factory(engine), secret, port=0, port_factory=lambda n, a: fake)
    # Started on its own thread's loop: the calling thread may already run one (Playwright's).
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(daemon.start(), loop).result(30)
    settings = app.config["CLUSTERPBX"]
    old_url = settings.control_url
    settings.control_url = f"http://127.0.0.1:{daemon.port}"
    instance = Path(settings.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "control_secret").write_text(secret)
    try:
        yield daemon
    finally:
        settings.control_url = old_url
        asyncio.run_coroutine_threadsafe(daemon.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
