"""Where each feature registers its daemon commands and jobs (as wazo-calld's plugins register theirs).

A feature module of this package (voicemail.py, sms.py, ...) declares a command channel handler with
`@command` on `async def cmd_<name>(daemon, **args)` and a scheduled job with `@job(seconds=...)` on
`async def job_<name>(daemon)`; the daemon (core.py) looks commands and jobs up here by name. The name on
the channel is the function's name without its prefix: `ControlClient.call("voicemail_list", ...)` runs
`cmd_voicemail_list`. Importing `clusterpbx.control.daemon` imports every feature module, so the registry
is complete once the package is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

# The daemon is the first argument of every handler and job (typed Any here: this module sits below core.py).
Handler = Callable[..., Awaitable[dict[str, Any]]]
JobBody = Callable[[Any], Awaitable[Any]]
H = TypeVar("H", bound=Handler)
J = TypeVar("J", bound=JobBody)


@dataclass(frozen=True)
class Job:
    name: str
    run: JobBody
    # About the daemon's own nodes: in cluster mode every daemon runs it for the nodes it owns, on its own
    # timer (the scheduler's leader owns only some); the other jobs run on the leader only.
    per_node: bool = False
    # Only in cluster mode, on each daemon's own timer; never given to the scheduler.
    cluster_only: bool = False


COMMANDS: dict[str, Handler] = {}
JOBS: dict[str, Job] = {}
# Seconds between two runs: the scheduler's jobs (APScheduler, stored in the database), and the jobs only
# cluster mode runs. Read when the daemon starts (tests shorten them).
JOB_INTERVALS: dict[str, float] = {}
CLUSTER_JOB_INTERVALS: dict[str, float] = {}


def _name(fn: Callable[..., Any], prefix: str) -> str:
    name = fn.__name__
    if not name.startswith(prefix) or not name[len(prefix):].isidentifier():
        raise ValueError(f"{name}: a daemon {prefix[:-1]} is named {prefix}<name>")
    return name[len(prefix):]


def command(fn: H) -> H:
    """Register `cmd_<name>` as the command channel's `<name>`."""
    name = _name(fn, "cmd_")
    if name in COMMANDS:
        raise ValueError(f"daemon command {name!r} registered twice")
    COMMANDS[name] = fn
    return fn


def job(seconds: float, *, per_node: bool = False, cluster_only: bool = False) -> Callable[[J], J]:
    """Register `job_<name>` to run every `seconds` (see Job for `per_node` and `cluster_only`)."""

    def register(fn: J) -> J:
        name = _name(fn, "job_")
        if name in JOBS:
            raise ValueError(f"daemon job {name!r} registered twice")
        JOBS[name] = Job(name, fn, per_node=per_node or cluster_only, cluster_only=cluster_only)
        (CLUSTER_JOB_INTERVALS if cluster_only else JOB_INTERVALS)[name] = seconds
        return fn

    return register
