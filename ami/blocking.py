"""A small blocking wrapper for the CLI and tests: runs an adapter on its own event loop in a background
thread; ``call(coro_fn, *args, timeout=...)`` runs ``coro_fn(*args)`` there and returns its result."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from clusterpbx.control.port import PbxTimeout

T = TypeVar("T")


class LoopThread:
    """One private asyncio loop in a daemon thread; ``close()`` stops it."""

    def __init__(self, name: str = "clusterpbx-ami") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = threading.Event()
        self._thread.start()
        self._started.wait(5)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def call(self, coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, timeout: float = 30.0) -> T:
        """Run ``coro_fn(*args)`` on the loop; PbxTimeout if it takes longer than ``timeout`` (the
        coroutine is then cancelled)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.call() from its own loop would deadlock")
        future = asyncio.run_coroutine_threadsafe(coro_fn(*args), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PbxTimeout(f"no result within {timeout:.1f}s") from None

    def call_soon(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run a plain function on the loop thread (to touch loop-owned state safely)."""
        async def run() -> T:
            return fn(*args)
        return self.call(run, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        if not self.loop.is_closed() and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockingAdapter:
    """An adapter (any PbxPort) driven from blocking code: ``BlockingAdapter(lambda: AsteriskAdapter(addr))``.
    The adapter is built on the loop thread, so everything it creates belongs to that loop."""

    def __init__(self, factory: Callable[[], Any], timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.thread = LoopThread()
        self.adapter: Any = self.thread.call_soon(factory)

    def call(self, coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, timeout: float | None = None) -> T:
        return self.thread.call(coro_fn, *args, timeout=timeout or self.timeout)

    def start(self) -> None:
        self.call(self.adapter.start)

    def close(self) -> None:
        try:
            self.call(self.adapter.stop, timeout=10)
        finally:
            self.thread.close()

    def __enter__(self) -> BlockingAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
