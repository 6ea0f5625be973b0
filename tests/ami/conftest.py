"""Fixtures for the Asterisk adapter tests: the sim (Asterisk lab) on an ephemeral port, and an adapter
driven through the blocking wrapper, collecting its domain events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.ami.blocking import BlockingAdapter
from clusterpbx.control.port import NodeAddress, PbxEvent
from clusterpbx.sim.runner import SimPBX


class Events:
    """Thread-safe list of the adapter's domain events, with waiting on a condition."""

    def __init__(self) -> None:
        self.items: list[PbxEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: PbxEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def of(self, kind: type) -> list[Any]:
        with self._cond:
            return [e for e in self.items if isinstance(e, kind)]

    def wait(self, predicate: Callable[[list[PbxEvent]], bool], timeout: float = 30.0) -> list[PbxEvent]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"condition not met within {timeout}s; events: {self.items!r}")
                self._cond.wait(left)
            return list(self.items)

    def wait_for(self, kind: type, count: int = 1, timeout: float = 30.0, **match: Any) -> list[Any]:
        def ok(items: list[PbxEvent]) -> bool:
            return len(self._matching(items, kind, match)) >= count
        self.wait(ok, timeout)
        with self._cond:
            return self._matching(self.items, kind, match)

    @staticmethod
    def _matching(items: list[PbxEvent], kind: type, match: dict[str, Any]) -> list[Any]:
        return [e for e in items if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())]


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimPBX]:
    pbx = SimPBX(spool_dir=tmp_path / "spool", esl_port=None)
    pbx.start()
    try:
        yield pbx
    finally:
        pbx.stop()


def address(port: int, spool: Path | None = None, **extra: str) -> NodeAddress:
    return NodeAddress(host="127.0.0.1", port=port, username="portal", secret="portalsecret",
                       spool_path=str(spool or ""), sip_domain="pbx.test", timeout=2.0, extra=dict(extra))


@pytest.fixture
def make_adapter() -> Iterator[Callable[..., tuple[BlockingAdapter, Events]]]:
    made: list[BlockingAdapter] = []

    def make(addr: NodeAddress, start: bool = True, **kwargs: Any) -> tuple[BlockingAdapter, Events]:
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_max", 0.2)
        blocking = BlockingAdapter(lambda: AsteriskAdapter(addr, **kwargs), timeout=10)
        made.append(blocking)
        events = Events()
        blocking.adapter.subscribe(events)
        if start:
            blocking.start()
        return blocking, events

    yield make
    for b in made:
        b.close()


@pytest.fixture
def adapter(sim: SimPBX, tmp_path: Path, make_adapter: Callable[..., tuple[BlockingAdapter, Events]]
            ) -> tuple[BlockingAdapter, Events]:
    return make_adapter(address(sim.ami_port, tmp_path / "spool"))
