"""The control daemon's local command channel: JSON lines over loopback TCP with a shared secret.

Web workers use `ControlClient` for the few things that need the PBX now (apply a change, resync a
phone, click-to-call...). Every call has a timeout; if the daemon is down the caller gets
`DaemonUnavailable` and the portal says so while the saved setting stays pending.

In cluster mode (`control_cluster`) any daemon accepts any command and forwards it to the daemon owning
the user's node; a client whose configured daemon cannot be reached tries the other live daemons listed
in the database (control/cluster.py).
"""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .cluster import peer_addresses
from .config import Settings, instance_secret

MAX_LINE = 1 << 20  # requests
MAX_REPLY = 40 << 20  # replies may carry a voicemail message's audio (base64)
# Run before every round trip. No database transaction may stay open across one (docs/transactions.md):
# the portal registers a hook that ends the request's transaction (web/db.py), whatever the caller forgot.
BEFORE_CALL: list[Callable[[], None]] = []


class CommandError(Exception):
    """The daemon answered with an error; `kind` is the PBX error class or 'invalid'."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class DaemonUnavailable(CommandError):
    def __init__(self, message: str):
        super().__init__("daemon_unavailable", message)


def channel_address(settings: Settings) -> tuple[str, int]:
    url = urlparse(settings.control_url)
    return url.hostname or "127.0.0.1", url.port or 8765


def channel_secret(settings: Settings) -> str:
    return instance_secret(Path(settings.instance_path), "control_secret")


def check_secret(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class ControlClient:
    host: str
    port: int
    secret: str
    timeout: float = 5.0
    # Cluster mode: the other live daemons' command channels, asked for only when (host, port) cannot be
    # reached. Only a failed connection moves on to the next daemon: a command sent and not answered in
    # time may have been carried out, and is not sent twice.
    peers: Callable[[], list[tuple[str, int]]] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ControlClient:
        host, port = channel_address(settings)
        peers = None
        if settings.control_cluster:
            url, lease = settings.database_url, settings.control_node_lease

            def peers() -> list[tuple[str, int]]:
                return peer_addresses(url, lease)

        return cls(host, port, channel_secret(settings), settings.control_timeout, peers)

    def _connect(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as first:
            if self.peers is None:
                raise
            try:
                others = [a for a in self.peers() if a != (self.host, self.port)]
            except Exception:  # the database unreachable too: the first failure is the one to report
                raise first from None
            for address in others:
                try:
                    return socket.create_connection(address, timeout=self.timeout)
                except OSError:
                    continue
            raise

    def call(self, command: str, **args: Any) -> dict[str, Any]:
        for hook in BEFORE_CALL:
            hook()
        payload = json.dumps({"secret": self.secret, "command": command, "args": args}).encode() + b"\n"
        try:
            with self._connect() as sock:
                sock.settimeout(self.timeout)
                sock.sendall(payload)
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    if len(buf) > MAX_REPLY:
                        raise DaemonUnavailable("reply too large")
        except TimeoutError:
            raise DaemonUnavailable("the control daemon did not answer in time") from None
        except OSError as exc:
            raise DaemonUnavailable(f"the control daemon is not reachable ({exc.strerror or exc})") from None
        try:
            reply = json.loads(buf)
        except ValueError:
            raise DaemonUnavailable("the control daemon sent an unreadable reply") from None
        if not reply.get("ok"):
            if reply.get("error") == "daemon_unavailable":  # in a cluster: no daemon owns the node right now
                raise DaemonUnavailable(str(reply.get("message", "")))
            raise CommandError(str(reply.get("error", "error")), str(reply.get("message", "")))
        result: dict[str, Any] = reply.get("result") or {}
        return result


def apply_wait(settings: Settings) -> float:
    """How long `apply_user` may wait for the push before answering "being applied": the configured
    budget, and always well inside the command's own timeout (past it the caller would hear "daemon
    unreachable" while the push succeeds)."""
    return max(0.0, min(settings.apply_wait, settings.control_timeout * 0.8))
