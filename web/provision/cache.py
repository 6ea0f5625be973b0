"""Rendered configuration files kept per device, in this process.

A file is kept with the fingerprint of what it was rendered from (provisioning/state.py: the device,
its tenant and node, its owner, their extensions, keys and contacts, read in one statement) and served
again only to a request that reads the same fingerprint, so a change anywhere (another worker, the
command line, an import, plain SQL) is seen by the next fetch. Bounded in entries and bytes, least
recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from clusterpbx.provisioning.model import Rendered


class ConfigCache:
    def __init__(self, max_entries: int = 20_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._entries: OrderedDict[tuple[int, str], tuple[tuple[Any, ...], Rendered]] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, device_id: int, name: str, fingerprint: tuple[Any, ...]) -> Rendered | None:
        with self._lock:
            entry = self._entries.get((device_id, name))
            if entry is None or entry[0] != fingerprint:
                self.misses += 1
                return None
            self._entries.move_to_end((device_id, name))
            self.hits += 1
            return entry[1]

    def put(self, device_id: int, name: str, fingerprint: tuple[Any, ...], rendered: Rendered) -> None:
        size = len(rendered.body)
        if size > self._max_bytes // 16:
            return  # one huge file (a phonebook full of pictures) would push out hundreds of phones
        with self._lock:
            old = self._entries.pop((device_id, name), None)
            if old is not None:
                self._bytes -= len(old[1].body)
            self._entries[(device_id, name)] = (fingerprint, rendered)
            self._bytes += size
            while self._entries and (len(self._entries) > self._max_entries or self._bytes > self._max_bytes):
                _key, (_fp, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
