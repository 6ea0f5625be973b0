"""SimPBX: the PBX model with its AMI server (and the ESL server when available) running on a private
asyncio loop in a background thread, for tests, demos and benchmarks."""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from clusterpbx.sim import lab as labmod
from clusterpbx.sim.ami import AmiServer
from clusterpbx.sim.model import PBXModel

log = logging.getLogger(__name__)
T = TypeVar("T")


class SimPBX:
    """Start with ``start()``, stop with ``stop()``; ports 0 pick free ephemeral ports.

    Everything touching the model must run on the sim's loop: use ``call_soon(fn, *args)`` (runs fn there
    and returns its result) or ``run(coro)``.
    """

    def __init__(self, model: PBXModel | None = None, lab: str = "asterisk", host: str = "127.0.0.1",
                 ami_port: int = 0, esl_port: int | None = 0, spool_dir: Path | str | None = None, seed: int = 0,
                 esl_password: str = labmod.ESL_PASSWORD) -> None:
        if model is None:
            loader = labmod.freeswitch_lab if lab == "freeswitch" else labmod.asterisk_lab
            model = loader(spool_dir=spool_dir, seed=seed)
        self.model = model
        self.host = host
        self.ami = AmiServer(model, host=host, port=ami_port)
        self.esl: Any = None
        self._esl_port = esl_port
        self._esl_password = esl_password
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.scenario: Any = None

    # ------------------------------------------------------------------ ports

    @property
    def ami_port(self) -> int:
        return self.ami.port

    @property
    def esl_port(self) -> int | None:
        return self.esl.port if self.esl is not None else None

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> SimPBX:
        if self._thread is not None:
            return self
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            assert self.loop is not None
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()
            # Drain callbacks scheduled by the servers' shutdown before closing.
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

        self._thread = threading.Thread(target=main, name="simpbx", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        self.run(self._start_servers(), timeout)
        return self

    async def _start_servers(self) -> None:
        await self.ami.start()
        if self._esl_port is None:
            return
        try:
            mod = importlib.import_module("clusterpbx.sim.esl.server")
        except ImportError:
            return
        cls = getattr(mod, "EslServer", None)
        if cls is None:
            return
        self.esl = cls(self.model, host=self.host, port=self._esl_port, password=self._esl_password)
        await self.esl.start()

    async def _stop_servers(self) -> None:
        if self.scenario is not None:
            self.scenario.stop()
        await self.ami.stop()
        if self.esl is not None:
            await self.esl.stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self.loop is None:
            return
        try:
            self.run(self._stop_servers(), timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            log.warning("sim servers did not stop cleanly")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> SimPBX:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 10.0) -> T:
        """Run a coroutine on the sim's loop and return its result."""
        assert self.loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call_soon(self, fn: Callable[..., T], *args: Any, timeout: float | None = 10.0, **kwargs: Any) -> T:
        """Run fn(*args, **kwargs) on the sim's loop (where the model lives) and return its result."""
        async def call() -> T:
            return fn(*args, **kwargs)
        return self.run(call(), timeout)

    def start_scenario(self, rate: float | None = 0.2, seed: int = 0, count: int | None = None,
                       **driver_options: Any) -> Any:
        """Start a scenario driver on the sim's loop at ``rate`` calls/second (None: as fast as possible);
        ``driver_options`` go to ScenarioDriver (mix, talk_seconds...). ``self.scenario`` holds it."""
        from clusterpbx.sim.scenario import ScenarioDriver

        async def go() -> Any:
            self.scenario = ScenarioDriver(self.model, seed=seed, **driver_options)
            self.scenario.start(rate=rate, count=count)
            return self.scenario
        return self.run(go())
