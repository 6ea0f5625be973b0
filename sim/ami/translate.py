"""Translation of the model's change notifications into AMI events, with the header blocks Asterisk builds
(channel, bridge and queue member snapshots)."""
from __future__ import annotations

from clusterpbx.sim import model as M

from .wire import Pairs, _ts, _unknown


def channel_snapshot(ch: M.Channel, prefix: str = "") -> Pairs:
    """The standard channel header block, as Asterisk's ast_manager_build_channel_state_string."""
    return [
        (f"{prefix}Channel", ch.name),
        (f"{prefix}ChannelState", str(ch.state.code)),
        (f"{prefix}ChannelStateDesc", ch.state.desc),
        (f"{prefix}CallerIDNum", _unknown(ch.caller_num)),
        (f"{prefix}CallerIDName", _unknown(ch.caller_name)),
        (f"{prefix}ConnectedLineNum", _unknown(ch.connected_num)),
        (f"{prefix}ConnectedLineName", _unknown(ch.connected_name)),
        (f"{prefix}Language", ch.language),
        (f"{prefix}AccountCode", ch.account_code),
        (f"{prefix}Context", ch.context),
        (f"{prefix}Exten", ch.exten),
        (f"{prefix}Priority", str(ch.priority)),
        (f"{prefix}Uniqueid", ch.uniqueid),
        (f"{prefix}Linkedid", ch.linkedid),
    ]


def bridge_snapshot(br: M.Bridge) -> Pairs:
    return [
        ("BridgeUniqueid", br.id),
        ("BridgeType", br.type),
        ("BridgeTechnology", br.technology),
        ("BridgeCreator", br.creator),
        ("BridgeName", br.name),
        ("BridgeNumChannels", str(br.num_channels)),
        ("BridgeVideoSourceMode", br.video_source_mode),
    ]


def member_headers(q: M.Queue, mem: M.QueueMember) -> Pairs:
    return [
        ("Queue", q.name), ("MemberName", mem.name), ("Interface", mem.interface),
        ("StateInterface", mem.state_interface), ("Membership", mem.membership), ("Penalty", str(mem.penalty)),
        ("CallsTaken", str(mem.calls_taken)), ("LastCall", str(mem.last_call)), ("LastPause", str(mem.last_pause)),
        ("LoginTime", str(mem.login_time)), ("InCall", "1" if mem.in_call else "0"),
        ("Status", str(mem.status.code)), ("Paused", "1" if mem.paused else "0"),
        ("PausedReason", mem.pause_reason), ("Ringinuse", "1" if mem.ring_in_use else "0"),
        ("Wrapuptime", str(mem.wrapup)),
    ]


def translate(ev: M.ModelEvent) -> list[tuple[str, Pairs]]:
    """Model event -> AMI events as (event class, headers after Event/Privilege... in wire order)."""
    def ev_(name: str, cls: str, pairs: Pairs) -> tuple[str, Pairs]:
        return cls, [("Event", name), ("Privilege", f"{cls},all"), *pairs]

    match ev:
        case M.ChannelCreated(channel=ch):
            return [ev_("Newchannel", "call", channel_snapshot(ch))]
        case M.ChannelStateChanged(channel=ch):
            return [ev_("Newstate", "call", channel_snapshot(ch))]
        case M.CallerIdChanged(channel=ch):
            return [ev_("NewCallerid", "call", [*channel_snapshot(ch),
                                                 ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])]
        case M.ConnectedLineChanged(channel=ch):
            return [ev_("NewConnectedLine", "call", channel_snapshot(ch))]
        case M.DialBegin(caller=caller, callee=callee, dialstring=ds):
            head = channel_snapshot(caller) if caller is not None else []
            return [ev_("DialBegin", "call", [*head, *channel_snapshot(callee, "Dest"), ("DialString", ds)])]
        case M.DialState(caller=caller, callee=callee, status=st):
            head = channel_snapshot(caller) if caller is not None else []
            return [ev_("DialState", "call", [*head, *channel_snapshot(callee, "Dest"), ("DialStatus", st)])]
        case M.DialEnd(caller=caller, callee=callee, status=st):
            head = channel_snapshot(caller) if caller is not None else []
            return [ev_("DialEnd", "call", [*head, *channel_snapshot(callee, "Dest"), ("DialStatus", st)])]
        case M.BridgeCreated(bridge=br):
            return [ev_("BridgeCreate", "call", bridge_snapshot(br))]
        case M.Bridged(bridge=br, channel=ch):
            return [ev_("BridgeEnter", "call", [*bridge_snapshot(br), *channel_snapshot(ch)])]
        case M.Unbridged(bridge=br, channel=ch):
            return [ev_("BridgeLeave", "call", [*bridge_snapshot(br), *channel_snapshot(ch)])]
        case M.BridgeDestroyed(bridge=br):
            return [ev_("BridgeDestroy", "call", bridge_snapshot(br))]
        case M.HangupRequested(channel=ch, cause=cause, soft=soft):
            tail = [("Cause", str(cause))] if cause is not None else []
            return [ev_("SoftHangupRequest" if soft else "HangupRequest", "call", [*channel_snapshot(ch), *tail])]
        case M.ChannelHangup(channel=ch, cause=cause):
            return [ev_("Hangup", "call", [*channel_snapshot(ch), ("Cause", str(cause)),
                                           ("Cause-txt", M.cause_text(cause))])]
        case M.CallRecord(record=r):
            return [ev_("Cdr", "cdr", [
                ("AccountCode", r.accountcode), ("Source", r.src), ("Destination", r.dst),
                ("DestinationContext", r.dcontext), ("CallerID", r.clid), ("Channel", r.channel),
                ("DestinationChannel", r.dstchannel), ("LastApplication", r.lastapp), ("LastData", r.lastdata),
                ("StartTime", _ts(r.start)), ("AnswerTime", _ts(r.answer)), ("EndTime", _ts(r.end)),
                ("Duration", str(r.duration)), ("BillableSeconds", str(r.billsec)),
                ("Disposition", r.disposition), ("AMAFlags", r.amaflags), ("UniqueID", r.uniqueid),
                ("UserField", r.userfield)])]
        case M.MusicOnHold(channel=ch, start=start, moh_class=cls_):
            if start:
                return [ev_("MusicOnHoldStart", "call", [*channel_snapshot(ch), ("Class", cls_)])]
            return [ev_("MusicOnHoldStop", "call", channel_snapshot(ch))]
        case M.DeviceStateChanged(device=dev, state=st):
            return [ev_("DeviceStateChange", "call", [("Device", dev), ("State", st.value)])]
        case M.QueueMemberChanged(queue=q, member=mem, change=change):
            name = {"added": "QueueMemberAdded", "removed": "QueueMemberRemoved", "paused": "QueueMemberPause",
                    "status": "QueueMemberStatus"}[change]
            return [ev_(name, "agent", member_headers(q, mem))]
        case M.QueueCallerJoin(queue=q, channel=ch, position=pos, count=n):
            return [ev_("QueueCallerJoin", "agent", [*channel_snapshot(ch), ("Queue", q.name),
                                                      ("Position", str(pos)), ("Count", str(n))])]
        case M.QueueCallerLeave(queue=q, channel=ch, position=pos, count=n):
            return [ev_("QueueCallerLeave", "agent", [*channel_snapshot(ch), ("Queue", q.name),
                                                       ("Position", str(pos)), ("Count", str(n))])]
        case M.AgentCalled(queue=q, member=mem, caller=caller, agent=agent):
            return [ev_("AgentCalled", "agent", [*channel_snapshot(caller), *channel_snapshot(agent, "Dest"),
                                                  ("Queue", q.name), ("Interface", mem.interface),
                                                  ("MemberName", mem.name)])]
        case M.AgentConnect(queue=q, member=mem, caller=caller, agent=agent, holdtime=hold, ringtime=ring):
            return [ev_("AgentConnect", "agent", [*channel_snapshot(caller), *channel_snapshot(agent, "Dest"),
                                                   ("Queue", q.name), ("Interface", mem.interface),
                                                   ("MemberName", mem.name), ("HoldTime", str(hold)),
                                                   ("RingTime", str(ring))])]
        case M.AgentComplete(queue=q, member=mem, caller=caller, agent=agent, holdtime=hold, talktime=talk,
                             reason=reason):
            return [ev_("AgentComplete", "agent", [*channel_snapshot(caller), *channel_snapshot(agent, "Dest"),
                                                    ("Queue", q.name), ("Interface", mem.interface),
                                                    ("MemberName", mem.name), ("HoldTime", str(hold)),
                                                    ("TalkTime", str(talk)), ("Reason", reason)])]
        case M.ConferenceStart(conference=conf):
            return [ev_("ConfbridgeStart", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge)])]
        case M.ConferenceEnd(conference=conf):
            return [ev_("ConfbridgeEnd", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge)])]
        case M.ConferenceJoin(conference=conf, participant=p, channel=ch):
            return [ev_("ConfbridgeJoin", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge),
                                                    *channel_snapshot(ch), ("Admin", "Yes" if p.admin else "No"),
                                                    ("Muted", "Yes" if p.muted else "No")])]
        case M.ConferenceLeave(conference=conf, participant=p, channel=ch):
            return [ev_("ConfbridgeLeave", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge),
                                                     *channel_snapshot(ch), ("Admin", "Yes" if p.admin else "No")])]
        case M.ConferenceMute(conference=conf, participant=p, channel=ch, muted=muted):
            return [ev_("ConfbridgeMute" if muted else "ConfbridgeUnmute", "call",
                        [("Conference", conf.name), *bridge_snapshot(conf.bridge), *channel_snapshot(ch),
                         ("Admin", "Yes" if p.admin else "No")])]
        case M.MessageWaiting(mailbox=mb, new=new, old=old, channel=ch):
            head = channel_snapshot(ch) if ch is not None else []
            return [ev_("MessageWaiting", "call", [*head, ("Mailbox", mb.id), ("Waiting", "1" if new else "0"),
                                                    ("New", str(new)), ("Old", str(old))])]
        case M.RegistrationChanged(endpoint=ep, registration=reg, status=status):
            # Not in the recordings (their phones registered before the captures); fields as res_pjsip sends.
            contact = reg.contact if reg else ""
            pairs: Pairs = [("URI", contact), ("ContactStatus", status), ("AOR", ep.ext),
                            ("EndpointName", ep.ext), ("RoundtripUsec", "0")]
            if reg is not None and status == "Created":
                pairs += [("UserAgent", reg.user_agent), ("RegExpire", str(reg.expiration_time)),
                          ("ViaAddress", reg.via_addr), ("CallID", reg.call_id)]
            return [ev_("ContactStatus", "system", pairs)]
        case M.Reloaded(module=mod) if mod:
            return [ev_("Reload", "system", [("Module", mod), ("Status", "0")])]
        case M.Shutdown(restart=restart):
            return [ev_("Shutdown", "system", [("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")])]
    # ApplicationChanged (Newexten/VarSet), DbChanged, VoicemailLeft, NotifySent, MessageSent: no AMI event.
    return []
