"""FreeSWITCH event socket (ESL, mod_event_socket) server over the sim's PBX model, speaking the wire
protocol of the recorded FreeSWITCH 1.10.12 (fixtures in shared/fixtures/freeswitch) so real ESL clients
such as greenswitch work against it unchanged. Test/demo backend only.

Layout, as sim/ami/ on the Asterisk side: server.py (listener, auth, event subscriptions and filters,
faults), api.py (the api and bgapi commands), translate.py (model events -> FreeSWITCH events, as
sim/ami/translate.py), events.py (event frames, names, uuids), fsstate.py (the FreeSWITCH-only state kept
next to the model: mod_callcenter agents and tiers, mod_hash) and templates.py (the recorded header lists,
loaded from sim/data/esl_templates.json).
"""
from __future__ import annotations

from .server import EslServer

__all__ = ["EslServer"]
