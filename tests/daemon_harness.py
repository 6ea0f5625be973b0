"""Run a real control daemon on its own loop thread, wired to a test app: with the real adapters
(`running_daemon`, for the embedded PBX of the demo or the lab's real ones) or with a fake of our own PBX
port (`daemon_for_app`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from clusterpbx.control.daemon import ControlDaemon, NodeRunner, PortFactory, default_port_factory
from clusterpbx.control.db import make_session_factory
from tests.fakes import FakePbx

OnLoop = Callable[..., Any]  # on_loop(coro, timeout=60.0): the coroutine's result, run on the daemon's loop


@contextlib.contextmanager
def running_daemon(app: Any, engine: Any, secret: str = "s3cret",
                   port_factory: PortFactory = default_port_factory) -> Iterator[tuple[ControlDaemon, OnLoop]]:
    """Yield (daemon, on_loop) once the daemon is started (its nodes connect in the background), with the
    app's settings (public URL and key, for SMS) and the app's command channel pointed at it (control_url
    and the instance's control_secret); stopped on the way out."""
    loop = asyncio.new_event_loop()
    daemon = ControlDaemon(make_session_factory(engine), secret, port=0, port_factory=port_factory)
    settings = app.config["CLUSTERPBX"]
    daemon.settings = settings
    # Started on its own thread's loop: the calling thread may already run one (Playwright's).
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    on_loop(daemon.start(), 30)
    old_url = settings.control_url
    settings.control_url = f"http://127.0.0.1:{daemon.port}"
    instance = Path(settings.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "control_secret").write_text(secret)
    try:
        yield daemon, on_loop
    finally:
        settings.control_url = old_url
        on_loop(daemon.stop(), 30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@contextlib.contextmanager
def daemon_for_app(app: Any, engine: Any, fake: FakePbx, secret: str = "s3cret") -> Iterator[ControlDaemon]:
    """`running_daemon` whose every node is `fake`."""
    with running_daemon(app, engine, secret, port_factory=lambda n, a: fake) as (daemon, _on_loop):
        yield daemon


@contextlib.asynccontextmanager
async def resynced_daemon(sessions: Any, node_id: int, timeout: float = 2.0
                          ) -> AsyncIterator[tuple[ControlDaemon, NodeRunner]]:
    """A control daemon on the running loop (real adapters, as in production), once its node has
    connected and re-asserted desired state; stopped afterwards."""
    daemon = ControlDaemon(sessions, "secret", port=0, timeout=timeout)
    await daemon.start()
    try:
        runner = daemon.nodes[node_id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        yield daemon, runner
    finally:
        await daemon.stop()


async def die_like_kill_9(d: ControlDaemon) -> None:
    """What kill -9 leaves of a daemon: nothing more runs, its PBX and command connections drop, nothing
    is flushed and no lease or row is given back (cluster mode's take-over tests)."""
    if d.scheduler is not None:
        d.scheduler.shutdown(wait=False)
        d.scheduler = None
    tasks = list(d._tasks) + list(d._node_tasks) + list(d._node_jobs.values())
    for runner in d.nodes.values():
        tasks += runner._tasks
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(BaseException):
            await t
    if d.server is not None:
        d.server.close()
    for runner in d.nodes.values():
        await runner.port.stop()
    d.nodes.clear()
    await asyncio.to_thread(d.db.close)
