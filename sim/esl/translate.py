"""Translation of the model's change notifications into FreeSWITCH events, built on the recorded header templates.

Header names and their order come from the recordings (sim/data/esl_templates.json); uuids, numbers, channel names,
causes and times come from the model; everything else keeps the recorded value (codecs, SIP details, dialplan variables).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import model as m
from .events import FsEvent, new_uuid
from .fsstate import QueueMemberRow
from .templates import TEMPLATES

if TYPE_CHECKING:
    from .server import EslServer


def _us(t: float | None) -> str:
    return str(int(t * 1_000_000)) if t else "0"


class ModelTranslator:
    """Subscribes to the model and fires the matching FreeSWITCH events on the server."""

    def __init__(self, server: EslServer) -> None:
        self.server = server
        self._bridged_announced: set[str] = set()   # bridge ids with a CHANNEL_BRIDGE sent
        self._unbridged_announced: set[str] = set()
        self._callstates: dict[str, str] = {}        # channel uuid -> FreeSWITCH call state
        self._hangup_sent: set[str] = set()
        self._originated: set[str] = set()           # uuids of legs created by api originate

    @property
    def model(self) -> Any:
        return self.server.model

    @property
    def fs(self) -> Any:
        return self.server.api.fs

    def attach(self) -> Callable[[], None] | None:
        self.fs.seed_lab()
        subscribe = getattr(self.model, "subscribe", None)
        return subscribe(self.on_event) if subscribe else None

    def fire(self, ev: FsEvent | None) -> None:
        if ev is not None:
            self.server.fire(ev)

    # ------------------------------------------------------------------ dispatch

    def on_event(self, ev: Any) -> None:
        handler = getattr(self, "_on_" + type(ev).__name__, None)
        if handler is not None:
            handler(ev)

    def _on_RegistrationChanged(self, ev: m.RegistrationChanged) -> None:  # noqa: N802
        ep, reg = ev.endpoint, ev.registration or ev.endpoint.registration
        contact = reg.contact if reg else f"sip:{ep.ext}@{self.domain}"
        hostport = reg.via_addr if reg else ""
        ctx = {"a_num": ep.ext, "b_num": ep.ext, "contact": f'"" <{contact}>',
               "call_id": reg.call_id if reg else "", "port": hostport.partition(":")[2] or "5060"}
        sub = "sofia::register" if ev.status != "Removed" else "sofia::unregister"
        overrides = {"Event-Subclass": sub, "from-user": ep.ext, "user-agent": reg.user_agent if reg else "",
                     "expires": str(reg.expires if reg else 0),
                     "Event-Calling-Function": "sofia_reg_handle_register_token",
                     "Event-Calling-Line-Number": "1968" if sub == "sofia::register" else "1183"}
        if ep.domain:  # a tenant's directory domain: the phone registers there (the recording's is the lab's)
            overrides.update({"realm": ep.domain, "from-host": ep.domain, "to-host": ep.domain})
        out = self.server.factory.from_template("CUSTOM sofia::register_attempt", ctx, overrides,
                                                drop=("auth-result",))
        self.fire(out)

    def _on_ChannelCreated(self, ev: m.ChannelCreated) -> None:  # noqa: N802
        fs = self.fs
        fs.sessions_since_start += 1
        fs.peak_sessions = max(fs.peak_sessions, len(self.model.channels))
        ch = ev.channel
        self._callstates[ch.uuid] = "DOWN"
        if fs.originating:
            # {var=value} of the originate string are channel variables from the start
            self._originated.add(ch.uuid)
            ch.variables.update(fs.originate_vars)
        self.fire(self.channel_event("CHANNEL_CREATE", ch))
        if ch.direction == "inbound":
            # an inbound leg is routed at once: RINGING call state, then its presence (05_events_plain)
            fs.calls_in += 1
            self.fire(self.callstate(ch, "RINGING"))
        self.fire(self.channel_event("PRESENCE_IN", ch))

    def _on_ChannelStateChanged(self, ev: m.ChannelStateChanged) -> None:  # noqa: N802
        ch = ev.channel
        if ch.state == m.ChannelState.RINGING:
            if ch.direction == "outbound":
                self.fire(self.channel_event("CHANNEL_PROGRESS", ch))
                self.fire(self.callstate(ch, "RINGING"))
                peer = self.model.channels.get(ch.peer) if ch.peer else None
                if peer is not None and self._callstates.get(peer.uuid) == "RINGING":
                    # the caller hears the callee's ringback as early media
                    self.fire(self.callstate(peer, "EARLY"))
            elif self._callstates.get(ch.uuid) != "RINGING":
                self.fire(self.callstate(ch, "RINGING"))
        elif ch.state == m.ChannelState.UP:
            self.fire(self.channel_event("CHANNEL_ANSWER", ch))
            self.fire(self.channel_event("PRESENCE_IN", ch))
            self.fire(self.callstate(ch, "ACTIVE"))

    def _on_Bridged(self, ev: m.Bridged) -> None:  # noqa: N802
        br = ev.bridge
        if len(br.channels) == 2 and br.id not in self._bridged_announced:
            self._bridged_announced.add(br.id)
            a, b = self._bridge_legs(br)
            if a is not None:
                self.fire(self.channel_event("CHANNEL_BRIDGE", a, other=b))

    def _on_Unbridged(self, ev: m.Unbridged) -> None:  # noqa: N802
        br = ev.bridge
        if br.id in self._bridged_announced and br.id not in self._unbridged_announced:
            self._unbridged_announced.add(br.id)
            remaining = [self.model.channels.get(u) for u in br.channels]
            legs = [ev.channel] + [c for c in remaining if c is not None]
            a = next((c for c in legs if c.direction == "inbound"), legs[0])
            b = next((c for c in legs if c is not a), None)
            self.fire(self.channel_event("CHANNEL_UNBRIDGE", a, other=b))

    def _on_BridgeDestroyed(self, ev: m.BridgeDestroyed) -> None:  # noqa: N802
        self._bridged_announced.discard(ev.bridge.id)
        self._unbridged_announced.discard(ev.bridge.id)

    def _on_HangupRequested(self, ev: m.HangupRequested) -> None:  # noqa: N802
        ch = ev.channel
        # the model may request a hangup more than once (soft, then hard) or not at all: one CHANNEL_HANGUP
        if ch.uuid not in self._hangup_sent and ch.uniqueid in self.model.channels:
            self._hangup_sent.add(ch.uuid)
            self.fire(self.channel_event("CHANNEL_HANGUP", ch, cause=ev.cause or 16))

    def _on_ChannelHangup(self, ev: m.ChannelHangup) -> None:  # noqa: N802
        ch = ev.channel
        if ch.uuid not in self._hangup_sent:
            self._hangup_sent.add(ch.uuid)
            self.fire(self.channel_event("CHANNEL_HANGUP", ch, cause=ev.cause))
        # after the unbridge, as FreeSWITCH reports them: call state, presence, then completion and destroy
        ev_cs = self.callstate(ch, "HANGUP")
        if ev_cs is not None:
            ev_cs.set("Hangup-Cause", m.cause_name(ev.cause))
        self.fire(ev_cs)
        self.fire(self.channel_event("PRESENCE_IN", ch, cause=ev.cause))
        self._callstates.pop(ch.uuid, None)
        self.fire(self.channel_event("CHANNEL_HANGUP_COMPLETE", ch, cause=ev.cause))
        self.fire(self.channel_event("CHANNEL_DESTROY", ch, cause=ev.cause))
        self.fs.deaf.discard(ch.uniqueid)
        self._hangup_sent.discard(ch.uuid)
        self._originated.discard(ch.uuid)

    # -- mod_callcenter

    def _cc(self, action: str, ctx: dict[str, str], over: dict[str, str]) -> None:
        self.fire(self.server.factory.from_template(f"CUSTOM callcenter::info/{action}", ctx, over))

    def _cc_ctx(self, queue: Any, caller: Any, agent_ch: Any = None, agent_name: str = "") -> dict[str, str]:
        row = self.fs.cc_members.get(caller.uuid)
        return {"queue": queue.name, "a_uuid": caller.uuid, "a_num": caller.caller_num, "a_chan": caller.name,
                "a_dest": caller.exten, "member_uuid": row.uuid if row else "",
                "b_uuid": agent_ch.uuid if agent_ch is not None else "",
                "b_chan": agent_ch.name if agent_ch is not None else "",
                "b_num": agent_name.split("@", 1)[0] if agent_name else ""}

    def _cc_member_over(self, caller: Any) -> dict[str, str]:
        return {"CC-Member-CID-Name": caller.caller_name or caller.caller_num,
                "CC-Member-CID-Number": caller.caller_num, "CC-Agent-Type": "callback"}

    def _on_QueueCallerJoin(self, ev: m.QueueCallerJoin) -> None:  # noqa: N802
        q, caller = ev.queue, ev.channel
        self.fs.cc_members[caller.uuid] = QueueMemberRow(q.name, new_uuid(), caller.uuid, caller.caller_num,
                                                         caller.caller_name or caller.caller_num, int(time.time()))
        ctx = self._cc_ctx(q, caller)
        self._cc("member-queue-start", ctx, {"CC-Queue": q.name, **self._cc_member_over(caller)})
        self._cc("members-count", ctx, {"CC-Queue": q.name, "CC-Count": str(ev.count)})

    def _on_QueueCallerLeave(self, ev: m.QueueCallerLeave) -> None:  # noqa: N802
        q, caller = ev.queue, ev.channel
        row = self.fs.cc_members.get(caller.uuid)
        if row is not None and row.offered and caller.hangup_cause is None:
            # leaving the queue because the offered agent answered: mod_callcenter reports the bridge first
            self._bridge_agent_start(q, caller, row)
        elif row is not None and not row.serving_agent:
            # abandoned: left the queue without an agent
            self.fs.cc_members.pop(caller.uuid, None)
            ctx = self._cc_ctx(q, caller)
            self._cc("member-queue-end", ctx, {"CC-Queue": q.name, "CC-Cause": "Cancel", "CC-Agent": "",
                                               **self._cc_member_over(caller)})
        self._cc("members-count", self._cc_ctx(q, caller), {"CC-Queue": q.name, "CC-Count": str(ev.count)})

    def _on_AgentCalled(self, ev: m.AgentCalled) -> None:  # noqa: N802
        ag = self.fs.agents.get(ev.member.interface)
        name = ev.member.interface
        ctx = self._cc_ctx(ev.queue, ev.caller, ev.agent, name)
        row = self.fs.cc_members.get(ev.caller.uuid)
        if row is not None:
            row.offered = (name, ev.agent)
        if ag is not None:
            ag.state = "Receiving"
            ag.last_offered_call = int(time.time())
            self.cc_agent_state(ag)
        self._cc("agent-offering", ctx, {"CC-Queue": ev.queue.name, "CC-Agent": name, **self._cc_member_over(ev.caller)})

    def _on_AgentConnect(self, ev: m.AgentConnect) -> None:  # noqa: N802
        name = ev.member.interface
        ag = self.fs.agents.get(name)
        row = self.fs.cc_members.get(ev.caller.uuid)
        if row is None or not row.serving_agent:
            if row is None:
                row = QueueMemberRow(ev.queue.name, new_uuid(), ev.caller.uuid, ev.caller.caller_num,
                                     ev.caller.caller_name, int(time.time()))
                self.fs.cc_members[ev.caller.uuid] = row
            row.offered = (name, ev.agent)
            self._bridge_agent_start(ev.queue, ev.caller, row)
        if ag is not None:
            ag.state = "In a queue call"
            ag.last_bridge_start = int(time.time())
            ag.uuid = ev.agent.uuid
            self.cc_agent_state(ag)

    def _bridge_agent_start(self, q: Any, caller: Any, row: QueueMemberRow) -> None:
        assert row.offered is not None
        name, agent_ch = row.offered
        row.serving_agent, row.state, row.bridge = name, "Answered", int(time.time())
        ctx = self._cc_ctx(q, caller, agent_ch, name)
        self._cc("bridge-agent-start", ctx, {"CC-Queue": q.name, "CC-Agent": name, "CC-Agent-UUID": agent_ch.uuid,
                                             **self._cc_member_over(caller)})

    def _on_AgentComplete(self, ev: m.AgentComplete) -> None:  # noqa: N802
        name = ev.member.interface
        ag = self.fs.agents.get(name)
        ctx = self._cc_ctx(ev.queue, ev.caller, ev.agent, name)
        over = {"CC-Queue": ev.queue.name, "CC-Agent": name, "CC-Agent-UUID": ev.agent.uuid,
                **self._cc_member_over(ev.caller)}
        self._cc("bridge-agent-end", ctx, over)
        self._cc("member-queue-end", ctx, over)
        self.fs.cc_members.pop(ev.caller.uuid, None)
        if ag is not None:
            ag.state = "Waiting"
            ag.last_bridge_end = int(time.time())
            ag.calls_answered += 1
            ag.talk_time += ev.talktime
            ag.uuid = ""
            self.cc_agent_state(ag)

    def cc_agent_status(self, ag: Any) -> None:
        self._cc("agent-status-change", {}, {"CC-Agent": ag.name, "CC-Agent-Status": ag.status})

    def cc_agent_state(self, ag: Any) -> None:
        self._cc("agent-state-change", {}, {"CC-Agent": ag.name, "CC-Agent-State": ag.state})

    # -- mod_conference

    def _conf_event(self, action: str, conf: Any, p: Any = None, ch: Any = None) -> FsEvent | None:
        key = f"CUSTOM conference::maintenance/{action}"
        if key not in TEMPLATES:
            return None
        ctx = {"conf_name": conf.name, "conf_uuid": conf.uuid, "a_dest": conf.name.split("-", 1)[0]}
        over = {"Conference-Name": conf.name, "Conference-Size": str(len(conf.participants)),
                "Conference-Unique-ID": conf.uuid}
        if ch is not None and p is not None:
            ctx.update(self._leg_ctx(ch, None))
            ctx["a_dest"] = ch.exten
            over.update(self._leg_over(ch))
            over.update({"Member-ID": str(p.member_id), "Member-Type": "moderator" if p.admin else "member",
                         "Hear": "false" if ch.uniqueid in self.fs.deaf else "true",
                         "Speak": "false" if p.muted else "true", "Talking": "false",
                         "Mute-Detect": "false", "Floor": "false", "Video": "false",
                         "Caller-Destination-Number": ch.exten})
        return self.server.factory.from_template(key, ctx, over)

    def conf_member_action(self, conf: Any, p: Any, ch: Any, action: str) -> None:
        self.fire(self._conf_event(action, conf, p, ch))

    def _on_ConferenceStart(self, ev: m.ConferenceStart) -> None:  # noqa: N802
        self.fire(self._conf_event("conference-create", ev.conference))

    def _on_ConferenceJoin(self, ev: m.ConferenceJoin) -> None:  # noqa: N802
        self.fire(self._conf_event("add-member", ev.conference, ev.participant, ev.channel))

    def _on_ConferenceMute(self, ev: m.ConferenceMute) -> None:  # noqa: N802
        action = "mute-member" if ev.muted else "unmute-member"
        self.fire(self._conf_event(action, ev.conference, ev.participant, ev.channel))

    def _on_ConferenceLeave(self, ev: m.ConferenceLeave) -> None:  # noqa: N802
        self.fire(self._conf_event("del-member", ev.conference, ev.participant, ev.channel))

    def _on_ConferenceEnd(self, ev: m.ConferenceEnd) -> None:  # noqa: N802
        self.fire(self._conf_event("conference-destroy", ev.conference))

    # -- mod_voicemail

    def _on_VoicemailLeft(self, ev: m.VoicemailLeft) -> None:  # noqa: N802
        mb, msg = ev.mailbox, ev.message
        if self.fs.vm_pending_suffix:
            self.fs.vm_suffix[msg.uuid] = self.fs.vm_pending_suffix
        suffix = self.fs.vm_suffix.get(msg.uuid, "")
        path = f"/opt/pbx/freeswitch/storage/voicemail/default/{mb.context}/{mb.box}/msg_{msg.uuid}{suffix}.wav"
        self.fire(self.server.factory.from_template("CUSTOM vm::maintenance/leave-message",
                                                    {"mbox": mb.box, "vm_uuid": msg.uuid},
                                                    {"VM-Domain": mb.context,
                                                     "VM-Caller-ID-Name": msg.caller_name or msg.caller_num,
                                                     "VM-Caller-ID-Number": msg.caller_num,
                                                     "VM-File-Path": path, "VM-Message-Len": str(msg.duration),
                                                     "VM-Timestamp": str(msg.origtime)}))

    def _on_MessageWaiting(self, ev: m.MessageWaiting) -> None:  # noqa: N802
        mb = ev.mailbox
        new = ev.new + ev.urgent
        reason = self.fs.mwi_reason or "NEW"
        ctx = {"mbox": mb.box}
        self.fire(self.server.factory.from_template("MESSAGE_WAITING", ctx, {
            "MWI-Messages-Waiting": "yes" if new else "no", "Update-Reason": reason,
            "MWI-Message-Account": f"{mb.box}@{mb.context}", "MWI-Voice-Message": f"{new}/{ev.old}"}))
        self.fire(self.server.factory.from_template("CUSTOM vm::maintenance/mwi-update", ctx, {
            "VM-Domain": mb.context, "VM-Total-New": str(new), "VM-Total-Saved": str(ev.old),
            "VM-Total-New-Urgent": str(ev.urgent)}))

    def _on_Shutdown(self, ev: m.Shutdown) -> None:  # noqa: N802
        self.server.shutdown()

    # ------------------------------------------------------------------ builders

    @property
    def domain(self) -> str:
        return str(getattr(self.model, "domain", "127.0.0.1"))

    def _bridge_legs(self, br: Any) -> tuple[Any, Any]:
        chans = [self.model.channels.get(u) for u in br.channels]
        chans = [c for c in chans if c is not None]
        if not chans:
            return None, None
        a = next((c for c in chans if c.direction == "inbound"), chans[0])
        b = next((c for c in chans if c is not a), None)
        return a, b

    def _leg_ctx(self, ch: Any, other: Any) -> dict[str, str]:
        """Role-based placeholders: a = the originating (inbound) leg, b = the dialled leg."""
        if ch.direction == "inbound":
            a, b = ch, other
        else:
            a, b = other, ch
        ctx: dict[str, str] = {}
        if a is not None:
            ctx.update(a_uuid=a.uuid, a_chan=a.name, a_num=a.caller_num)
            ctx["b_num"] = a.exten
        if b is not None:
            ctx.update(b_uuid=b.uuid, b_chan=b.name, b_num=b.endpoint or b.exten)
            ctx.setdefault("a_num", b.caller_num)
        return ctx

    def _leg_over(self, ch: Any, other: Any = None) -> dict[str, str]:
        # FreeSWITCH keeps the caller's id on a dialled leg (the model, Asterisk-like, gives it the callee's own)
        name, num = ch.caller_name or ch.caller_num, ch.caller_num
        if ch.direction == "outbound" and other is not None:
            name, num = other.caller_name or other.caller_num, other.caller_num
        elif ch.direction == "outbound" and ch.uuid in self._originated:
            num = ch.variables.get("origination_caller_id_number", "0000000000")
            name = ch.variables.get("origination_caller_id_name", "FreeSWITCH")
        return {
            "Unique-ID": ch.uuid, "Caller-Unique-ID": ch.uuid, "Channel-Name": ch.name,
            "Caller-Channel-Name": ch.name, "variable_channel_name": ch.name, "variable_uuid": ch.uuid,
            "Caller-Caller-ID-Name": name, "Caller-Caller-ID-Number": num, "Caller-ANI": num,
            "Caller-Orig-Caller-ID-Name": name, "Caller-Orig-Caller-ID-Number": num,
            "Caller-Channel-Created-Time": _us(ch.created), "Caller-Profile-Created-Time": _us(ch.created),
            "Caller-Channel-Answered-Time": _us(ch.answered), "Caller-Channel-Hangup-Time": _us(ch.ended),
            "Call-Direction": ch.direction, "Presence-Call-Direction": ch.direction,
            "Caller-Direction": ch.direction,
        }

    def channel_event(self, name: str, ch: Any, other: Any = None, cause: int | None = None) -> FsEvent | None:
        if other is None and ch.peer:
            other = self.model.channels.get(ch.peer)
        if other is None and ch.linkedid != ch.uniqueid:
            # a dialled leg is created before the model links it to its caller: the call's first channel
            other = self.model.channels.get(ch.linkedid)
        key = f"{name}/{ch.direction}"
        drop: tuple[str, ...] = ()
        if ch.direction == "outbound" and other is None and ch.uuid in self._originated:
            # a lone originated leg (16_originate): no Other-Leg block
            if ch.answered is None and f"{name}/originate_unanswered" in TEMPLATES:
                key = f"{name}/originate_unanswered"
            elif f"{name}/originate" in TEMPLATES:
                key = f"{name}/originate"
            else:
                drop = tuple(n for n, _ in TEMPLATES.get(key, []) if n.startswith("Other-"))
        elif (ch.direction == "outbound" and ch.answered is None and f"{name}/outbound_unanswered" in TEMPLATES
              and (ch.uuid in self._hangup_sent or ch.hangup_cause is not None)):
            # a dialled leg that never answered ends with fewer headers (07_events_plain_voicemail_call)
            key = f"{name}/outbound_unanswered"
        if key not in TEMPLATES:
            alt = f"{name}/{'outbound' if ch.direction == 'inbound' else 'inbound'}"
            if alt not in TEMPLATES:
                return None
            key = alt
        ctx = self._leg_ctx(ch, other)
        over = self._leg_over(ch, other)
        if ch.uuid in self._callstates:
            over["Channel-Call-State"] = self._callstates[ch.uuid]
        if other is not None:
            over.update({"Other-Leg-Unique-ID": other.uuid, "Other-Leg-Channel-Name": other.name})
        if cause is not None:
            over.update({"Hangup-Cause": m.cause_name(cause), "variable_hangup_cause": m.cause_name(cause),
                         "variable_hangup_cause_q850": str(cause)})
        for k, v in ch.variables.items():
            over["variable_" + k] = v
        if name == "CHANNEL_HANGUP_COMPLETE":
            over.update(call_timing(ch, self.model.clock()))
        ev = self.server.factory.from_template(key, ctx, over, drop=drop)
        # variables set on the channel (originate {vars}) that the template does not carry, as FreeSWITCH adds them
        names = {k for k, _ in ev.headers}
        for k, v in ch.variables.items():
            if "variable_" + k not in names:
                ev.headers.append(("variable_" + k, v))
        return ev

    def callstate(self, ch: Any, state: str) -> FsEvent | None:
        old = self._callstates.get(ch.uuid, "DOWN")
        self._callstates[ch.uuid] = state
        ev = self.channel_event("CHANNEL_CALLSTATE", ch)
        if ev is not None:
            ev.set("Channel-Call-State", state)
            ev.set("Original-Channel-Call-State", old)
        return ev

    def channel_variables(self, ch: Any) -> dict[str, str]:
        """What uuid_getvar sees: the CHANNEL_CREATE template's variables for this leg plus the channel's own."""
        ev = self.channel_event("CHANNEL_CREATE", ch)
        out = {}
        if ev is not None:
            out = {k[len("variable_"):]: v for k, v in ev.headers if k.startswith("variable_")}
        out.update({"uuid": ch.uuid, "call_uuid": ch.uuid, "channel_name": ch.name,
                    "caller_id_number": ch.caller_num, "caller_id_name": ch.caller_name or ch.caller_num,
                    "destination_number": ch.exten, "direction": ch.direction})
        if ch.direction == "inbound":
            out.update({"sip_from_user": ch.caller_num, "sip_to_user": ch.exten,
                        "sip_req_user": ch.exten})
        else:
            out.update({"sip_to_user": ch.endpoint or ch.exten, "dialed_user": ch.endpoint or ch.exten})
        out.update(ch.variables)
        return out

    def heartbeat(self) -> FsEvent:
        up = self.server.uptime()
        secs = int(up)
        d, rem = divmod(secs, 86400)
        h, rem = divmod(rem, 3600)
        mi, s = divmod(rem, 60)
        return self.server.factory.from_template("HEARTBEAT", {}, {
            "Up-Time": f"0 years, {d} days, {h} hours, {mi} minutes, {s} seconds, {int(up * 1000) % 1000} "
                       f"milliseconds, {int(up * 1e6) % 1000} microseconds",
            "Uptime-msec": str(int(up * 1000)), "Session-Count": str(len(self.model.channels)),
            "Session-Since-Startup": str(self.fs.sessions_since_start),
            "Session-Peak-Max": str(self.fs.peak_sessions), "Session-Peak-FiveMin": str(self.fs.peak_sessions),
            "FreeSWITCH-Hostname": self.server.factory.hostname})

    def shutdown_event(self) -> FsEvent:
        return self.server.factory.from_template("SHUTDOWN", {})



def call_timing(ch: Any, now: float) -> dict[str, str]:
    """The timing variables FreeSWITCH computes at hangup (start, answer, end; duration, billsec, the
    wait until answer) from the channel's own times: whole microseconds first, then every span from
    them in s, ms and us, as FreeSWITCH does."""
    def us(at: float | None) -> int:
        return int(at * 1_000_000) if at else 0

    start, answer = us(ch.created), us(ch.answered)
    end = us(ch.ended if ch.ended is not None else now)
    out: dict[str, str] = {}
    for label, at in (("start", start), ("answer", answer), ("end", end)):
        out[f"variable_{label}_epoch"] = str(at // 1_000_000)
        out[f"variable_{label}_uepoch"] = str(at)

    def span(prefix: str, micros: int) -> None:
        micros = max(0, micros)
        out[f"variable_{prefix}sec"] = str(micros // 1_000_000)
        out[f"variable_{prefix}msec"] = str(micros // 1_000)
        out[f"variable_{prefix}usec"] = str(micros)

    total = max(0, end - start)
    out["variable_duration"] = str(total // 1_000_000)
    out["variable_mduration"] = str(total // 1_000)
    out["variable_uduration"] = str(total)
    span("bill", end - answer if answer else 0)
    span("flow_bill", total)
    span("answer", answer - start if answer else 0)
    span("wait", answer - start if answer else 0)
    return out
