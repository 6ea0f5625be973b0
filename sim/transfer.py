"""Transfers on the sim's PBX model, leaving the call records each real PBX leaves.

Blind transfer by the callee (1000 calls 1001, 1001 answers and transfers 1000 to 1002, 1002 answers):

* Asterisk 22 (main/cdr.c): a CDR is a pairing of two channels. The caller's channel leaves the bridge
  with 1001, which finishes the first CDR (channel 1000, dstchannel 1001, answered); the caller's channel
  then dials 1002 from the dialplan, which starts a second CDR of the same uniqueid (dstchannel 1002,
  started at the transfer). 1001's own channel is a dialled channel: no CDR of its own.
* FreeSWITCH 1.10 (mod_sofia sofia_handle_sip_i_refer, switch_ivr_session_transfer): the REFER arrives
  on 1001's leg, which gets ``endpoint_disposition=BLIND_TRANSFER`` and ``transfer_to``/
  ``transfer_destination``; the caller's leg is transferred (new caller profile, ``transfer_history``
  ``<epoch>:<uuid>:bl_xfer:1002/<context>/XML``, ``sip_refer_to``) and the transferor's leg is hung up
  with cause BLIND_TRANSFER. The caller's leg then bridges ``user/1002``: a new dialled leg with
  ``originator`` = the caller's uuid, and ``dialed_user`` on the caller's leg becomes 1002.
  Every leg writes its own CDR at hangup (CHANNEL_HANGUP_COMPLETE, mod_json_cdr).

The BLIND_TRANSFER cause (600 in switch_types.h) is not in the model's table of Q.850 causes: the
transferor's leg carries it as the channel variables FreeSWITCH sets (``hangup_cause``,
``hangup_cause_q850``), which the sim's events report over the recorded values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Call, PBXModel

BLIND_TRANSFER_CAUSE = 600  # SWITCH_CAUSE_BLIND_TRANSFER
_NONE_YET: Any = object()  # Call.hangup writes a record only when the call has none


@dataclass
class TransferredCall(Call):
    """The caller's call with the transfer target: its record covers the time since the transfer."""

    transferred_at: float = 0.0

    def hangup(self, cause: int = 16, by: str = "caller", via: str = "remote") -> None:
        write = not self.records
        self.records.append(_NONE_YET)
        super().hangup(cause, by=by, via=via)
        self.records.remove(_NONE_YET)
        if write:
            m = self.model
            rec = m.cdr_for(self.caller, self.callee, self.dst, "Dial", self.dialstring, start=self.transferred_at)
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
        # the caller leaves the bridge with the transferor: the first pairing's CDR is final
        first = m.cdr_for(caller, transferor, call.dst, "Dial", call.dialstring)
        first.end = now
        first.duration = int(now - first.start)
        first.billsec = int(now - first.answer) if first.answer is not None else 0
        call.records.append(first)
        m.call_record(first)
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
    leg = TransferredCall(m, caller, target, dialstring=f"PJSIP/{target},15", transferred_at=now)
    m.calls[caller.uniqueid] = leg
    if leg.ring() is not None and answer:
        leg.answer()
    return leg
