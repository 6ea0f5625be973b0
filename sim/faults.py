"""Fault injection on a running SimPBX, callable from any thread (tests): each function marshals onto the
sim's loop and applies to the AMI server, and to the ESL server when it offers the same fault."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clusterpbx.sim.runner import SimPBX


def _servers(pbx: SimPBX, which: str) -> list[Any]:
    out: list[Any] = []
    if which in ("ami", "all"):
        out.append(pbx.ami)
    if which in ("esl", "all") and pbx.esl is not None:
        out.append(pbx.esl)
    return out


def drop_connections(pbx: SimPBX, which: str = "ami") -> None:
    """Close every client connection at once, without any goodbye."""
    for srv in _servers(pbx, which):
        if hasattr(srv, "drop_all"):
            pbx.call_soon(srv.drop_all)


def restart(pbx: SimPBX, down_for: float = 0.2) -> None:
    """Like 'core restart now': Shutdown (Restart: True) event, sockets closed, the port refuses connections
    for ``down_for`` seconds, then a new listener answers with a fresh banner. Returns once it listens again."""
    pbx.run(pbx.ami.restart(down_for=down_for), timeout=down_for + 10)


def stop(pbx: SimPBX) -> None:
    """Like 'core stop now': Shutdown (Restart: False), sockets closed, nothing listens on the port any more."""
    pbx.run(pbx.ami.stop_pbx())


def stall(pbx: SimPBX, seconds: float, which: str = "ami") -> None:
    """Stop answering for ``seconds``: requests are read but answered only afterwards."""
    for srv in _servers(pbx, which):
        if hasattr(srv, "stall"):
            pbx.call_soon(srv.stall, seconds)


def send_malformed(pbx: SimPBX, data: bytes | None = None, which: str = "ami") -> None:
    """Write a frame that is not valid protocol to every connected client."""
    for srv in _servers(pbx, which):
        if hasattr(srv, "send_malformed"):
            if data is None:
                pbx.call_soon(srv.send_malformed)
            else:
                pbx.call_soon(srv.send_malformed, data)


def reject_logins(pbx: SimPBX, on: bool = True, which: str = "ami") -> None:
    """Make every login fail (as with a wrong secret) until switched off again."""
    for srv in _servers(pbx, which):
        hook = getattr(srv, "reject_logins", None)
        if callable(hook):  # the ESL server has a method
            pbx.call_soon(hook, on)
        elif hook is not None:  # the AMI server has a flag
            pbx.call_soon(setattr, srv, "reject_logins", on)
