"""Asterisk Manager Interface (AMI) server over the sim's PBX model, speaking the wire protocol of the
recorded Asterisk 22.10.1 (fixtures in shared/fixtures/asterisk) so real AMI clients such as panoramisk
work against it unchanged. Test/demo backend only.

Runs on one asyncio loop together with the model (see the model's threading rule). Where the sim
knows less than a real Asterisk, it answers as Asterisk answers an unknown action or CLI command.
Fault injection for tests: ``drop_all()``, ``restart()``, ``stop_pbx()``, ``stall(seconds)``,
``send_malformed()`` and the ``reject_logins`` flag.

Layout: server.py (listener, login, dispatch, event delivery, faults), actions/ (the action handlers, one
module per area: session, channels, queues, conferences, astdb, voicemail, pjsip, cli), translate.py (model
events -> AMI events, as sim/esl/translate.py on the FreeSWITCH side), wire.py (frames, Request, Session) and
recorded.py (answers recorded from Asterisk, replayed as they are).
"""
from __future__ import annotations

from .server import AmiServer

__all__ = ["AmiServer"]
