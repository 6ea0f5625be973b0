"""Transfers on the sim's PBX model, leaving the call records each real PBX leaves.

Blind transfer by the callee (1000 calls 1001, 1001 answers and transfers 1000 to 1002, 1002 answers):

* Asterisk 22 (main/cdr.c; checked on Asterisk 22.10.1, a phone's REFER: tests/real/test_asterisk_transfer.py):
  a CDR is a pairing of two channels. The caller's channel leaves the bridge with 1001, which finishes
  the first CDR (channel 1000, dstchannel 1001, answered, ending at the transfer); the caller's channel
  then dials 1002 from the dialplan, which starts a second CDR of the same uniqueid (dstchannel 1002,
  started and answered at the transfer: the caller's channel was already up). Both keep the number the
  caller dialled (1001) as their dst (an AMI BlindTransfer between Local channels had given the new
  extension), and are written together when the caller hangs up. 1001's own channel is a dialled
  channel: no CDR.
* FreeSWITCH 1.10 (mod_sofia sofia_handle_sip_i_refer, switch_ivr_session_transfer): the REFER arrives
  on 1001's leg, which gets ``endpoint_disposition=BLIND_TRANSFER`` and ``transfer_to``/
  ``transfer_destination``; the caller's leg is transferred (new caller profile, ``transfer_history``
  ``<epoch>:<uuid>:bl_xfer:1002/<context>/XML``, ``sip_refer_to``) and the transferor's leg is hung up
  with cause BLIND_TRANSFER. The caller's leg then bridges ``user/1002``: a new dialled leg with
  ``originator`` = the caller's uuid, and ``dialed_user`` on the caller's leg becomes 1002.
  Every leg writes its own CDR at hangup (CHANNEL_HANGUP_COMPLETE, mod_json_cdr).

Pickup of a ringing call by another phone (1000 calls 1001, 1003 picks it up):

* Asterisk 22 (main/pickup.c ast_do_pickup, checked on Asterisk 22.10.1 with Pickup()): the picker's
  channel is answered and moved into the rung channel; the caller's chain has two Dial CDRs: the rung
  channel's (NO ANSWER, its end at its start) and the picker's (ANSWERED, from the pickup on), written
  when the call ends; the picker's own channel writes none.
* FreeSWITCH 1.10 (switch_ivr_intercept_session, also behind a BLF INVITE with Replaces, which runs
  ``answer,intercept:<uuid>``): the picker's leg is answered, the caller's leg is answered and
  uuid-bridged with it (``transfer_source`` ``...:uuid_br:<other uuid>`` on both), the rung leg hangs up
  with PICKED_OFF.

The BLIND_TRANSFER and PICKED_OFF causes (600 and 605 in switch_types.h) are not in the model's table of
Q.850 causes: the legs carry them as the channel variables FreeSWITCH sets (``hangup_cause``,
``hangup_cause_q850``), which the sim's events report over the recorded values. The sim's FreeSWITCH
events name a leg's other leg (Other-Leg-*) only while that leg still exists: end a picked-up call from
the picker's side to see the caller's leg name the picker, as a real FreeSWITCH always does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import Call, PBXModel

BLIND_TRANSFER_CAUSE = 600  # SWITCH_CAUSE_BLIND_TRANSFER
PICKED_OFF_CAUSE = 605  # SWITCH_CAUSE_PICKED_OFF
_NONE_YET: Any = object()  # Call.hangup writes a record only when the call has none


@dataclass
class TransferredCall(Call):
    """The caller's call with the transfer target: its record covers the time since the transfer."""

    transferred_at: float = 0.0
    earlier: list[Any] = field(default_factory=list)  # the caller's earlier pairings, written with this one
    dialed: str = ""  # Asterisk: the number the caller dialled, the dst of every pairing (else dst)

    def backdate(self, ring_seconds: float, talk_seconds: float) -> None:
        """As Call.backdate; the transfer (or pickup) happened ``talk_seconds`` ago."""
        super().backdate(ring_seconds, talk_seconds)
        if talk_seconds > 0:
            self.transferred_at = self.model.clock() - talk_seconds

    def hangup(self, cause: int = 16, by: str = "caller", via: str = "remote") -> None:
        write = not self.records
        self.records.append(_NONE_YET)
        super().hangup(cause, by=by, via=via)
        self.records.remove(_NONE_YET)
        if write:
            m = self.model
            rec = m.cdr_for(self.caller, self.callee, self.dialed or self.dst, "Dial", self.dialstring,
                            start=self.transferred_at)
            if rec.answer is not None:  # the caller's channel was up already: answered from the start
                rec.answer = self.transferred_at
                rec.billsec = rec.duration
            for earlier in self.earlier:
                m.call_record(earlier)
            self.records.append(rec)
            m.call_record(rec)


def blind_transfer(model: PBXModel, call: Call, target: str, answer: bool = True) -> TransferredCall:
    """The callee of the answered ``call`` blind-transfers the caller to ``target``; returns the new call
    (caller -> target), answered when ``answer`` (end it with ``hangup()`` as any call)."""
    m = model
    caller, transferor = call.caller, call.callee
    if transferor is None or call.bridge is None:
        raise ValueError("only an answered call can be transferred")
    now = m.clock()
    if m.flavor == "asterisk":
        # the caller leaves the bridge with the transferor: the first pairing's CDR is final (written
        # with the rest of the caller's chain; its dst is the number the caller dialled)
        first = m.cdr_for(caller, transferor, call.dst, "Dial", call.dialstring)
        first.end = now
        first.duration = int(now - first.start)
        first.billsec = int(now - first.answer) if first.answer is not None else 0
        call.records.append(first)
    else:
        transferor.variables.update({
            "endpoint_disposition": "BLIND_TRANSFER", "hangup_cause": "BLIND_TRANSFER",
            "hangup_cause_q850": str(BLIND_TRANSFER_CAUSE), "transfer_to": f"blind:{caller.uuid}",
            "transfer_destination": f"blind:{target}",
        })
        source = f"{int(now)}:{caller.uuid}:bl_xfer:{target}/{caller.context}/XML"
        caller.variables.update({"transfer_history": source, "transfer_source": source,
                                 "sip_refer_to": f"<sip:{target}@{m.domain}>"})
    m.calls.pop(transferor.uniqueid, None)
    m.request_hangup(transferor, 16)
    m.unbridge(caller)
    m.destroy_channel(transferor, 16)
    m.flush_devices(transferor.endpoint)
    # the caller runs the dialplan again, for the target
    caller.exten = target
    leg = TransferredCall(m, caller, target, dialstring=f"PJSIP/{target},15", transferred_at=now,
                          earlier=list(call.records), dialed=call.dst if m.flavor == "asterisk" else "")
    m.calls[caller.uniqueid] = leg
    if leg.ring() is not None and answer:
        leg.answer()
    return leg


def pickup(model: PBXModel, call: Call, picker: str) -> TransferredCall:
    """``picker``'s phone picks up ``call`` while its callee rings (directed or group pickup); returns the
    call between the caller and the picker (end it with ``hangup()``)."""
    m = model
    caller, rung = call.caller, call.callee
    if rung is None or call.bridge is not None:
        raise ValueError("only a ringing call can be picked up")
    now = m.clock()
    earlier = []
    if m.flavor == "asterisk":
        first = m.cdr_for(caller, rung, call.dst, "Dial", call.dialstring, disposition="NO ANSWER")
        first.end, first.duration, first.billsec = first.start, 0, 0
        earlier.append(first)
        picked = m.new_channel(picker, "*8", context=caller.context)
    else:
        picked = m.new_channel(picker, f"answer,intercept:{caller.uuid}", context=caller.context)
        picked.variables.update({"transfer_source": f"{int(now)}:{picked.uuid}:uuid_br:{caller.uuid}",
                                 "current_application": "intercept", "last_app": "intercept",
                                 "last_arg": caller.uuid})
        caller.variables.update({"transfer_source": f"{int(now)}:{caller.uuid}:uuid_br:{picked.uuid}",
                                 "dialed_user": call.dst, "DIALSTATUS": "PICKED_OFF",
                                 "originate_disposition": "PICKED_OFF", "last_bridge_to": picked.uuid})
        rung.variables.update({"hangup_cause": "PICKED_OFF", "hangup_cause_q850": str(PICKED_OFF_CAUSE)})
    m.answer(picked)
    # the rung phone stops ringing ("answered elsewhere"), the caller is answered and joined to the picker
    m.calls.pop(rung.uniqueid, None)
    m.request_hangup(rung, 26)
    m.destroy_channel(rung, 26)
    m.flush_devices(rung.endpoint)
    m.answer(caller)
    caller.peer, picked.peer = picked.uniqueid, caller.uniqueid
    leg = TransferredCall(m, caller, call.dst, callee=picked, dialstring=call.dialstring, transferred_at=now,
                          earlier=earlier)
    leg.bridge = m.bridge(picked, caller)
    m.calls[caller.uniqueid] = m.calls[picked.uniqueid] = leg
    m.flush_devices(picked.endpoint, caller.endpoint)
    return leg
