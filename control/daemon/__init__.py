"""The control daemon (`clusterpbx control`), one module per concern:

- core.py: `ControlDaemon`, its lifecycle, the scheduler lease, cluster mode's node leases, and the
  lookups the features share (`ControlDaemon.for_user`);
- runner.py: `NodeRunner`, one per PBX node (projection, resync, desired state, health);
- channel.py: the command channel's server side (the client is control/commands.py), forwarding in
  cluster mode;
- registry.py: where features register their commands (`@command`) and jobs (`@job`);
- scheduler.py: APScheduler, with `run_job`, the function its job table names;
- wiring.py: the one module that picks the adapters (`default_port_factory`, `node_address`);
- the features' commands and jobs: nodes.py, settings.py, voicemail.py, calls.py, conference.py, sms.py,
  and the daemon's own jobs in jobs.py.

Importing this package registers every feature's commands and jobs. Nothing of the domain (models,
services, validation, the port) imports it; web workers never do (tests/test_import_structure.py).
"""

from __future__ import annotations

from . import calls, conference, jobs, nodes, settings, sms, voicemail
from .channel import advertised_address
from .core import ControlDaemon, run_forever
from .registry import CLUSTER_JOB_INTERVALS, COMMANDS, JOB_INTERVALS, JOBS
from .runner import NodeRunner
from .scheduler import JOBS_TABLE, run_job
from .wiring import PortFactory, default_port_factory, node_address

__all__ = [
    "CLUSTER_JOB_INTERVALS",
    "COMMANDS",
    "JOBS",
    "JOBS_TABLE",
    "JOB_INTERVALS",
    "ControlDaemon",
    "NodeRunner",
    "PortFactory",
    "advertised_address",
    "calls",
    "conference",
    "default_port_factory",
    "jobs",
    "node_address",
    "nodes",
    "run_forever",
    "run_job",
    "settings",
    "sms",
    "voicemail",
]
