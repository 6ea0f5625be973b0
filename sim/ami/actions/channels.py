"""Channel actions: CoreShowChannels, Status, CoreShowChannelMap, Hangup, Getvar, Originate.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

from clusterpbx.sim import model as M

from ..translate import channel_snapshot
from ..wire import Request, Session, _hms, _unknown


class ChannelActions:
    def act_coreshowchannels(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        items = []
        # Newest first, the order the recording (07) lists them in.
        for ch in reversed(list(self.model.channels.values())):
            items.append([("Event", "CoreShowChannel"), *self._aid(req), *channel_snapshot(ch),
                          ("Application", ch.application), ("ApplicationData", ch.app_data),
                          ("Duration", _hms(ch.seconds(now))), ("BridgeId", ch.bridge_id or "")])
        self._list(s, req, "Channels will follow", items, "CoreShowChannelsComplete")

    def act_status(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        wanted = req.get("Channel")
        chans = list(reversed(list(self.model.channels.values())))
        if wanted:
            ch = self.model.get_channel(wanted)
            if ch is None:
                self.error(s, req, "No such channel")
                return
            chans = [ch]
        items = []
        for ch in chans:
            items.append([("Event", "Status"), ("Privilege", "Call"), *channel_snapshot(ch), ("Type", ch.tech),
                          ("DNID", ch.dnid), ("EffectiveConnectedLineNum", _unknown(ch.connected_num)),
                          ("EffectiveConnectedLineName", _unknown(ch.connected_name)), ("TimeToHangup", "0"),
                          ("BridgeID", ch.bridge_id or ""), ("Application", ch.application), ("Data", ch.app_data),
                          ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
                          ("Writeformat", "ulaw"), ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
                          ("Seconds", str(ch.seconds(now))), *self._aid(req)])
        self._list(s, req, "Channel status will follow", items, "StatusComplete", [("Items", str(len(items)))])

    def act_coreshowchannelmap(self, s: Session, req: Request) -> None:
        # Only the not-found answer is recorded (07); the map itself is not modelled.
        if self.model.get_channel(req.get("Channel")) is None:
            self.error(s, req, "Could not get channel snapshot\n")
            return
        self.unknown(s, req)

    def act_hangup(self, s: Session, req: Request) -> None:
        name = req.get("Channel")
        if not name:
            self.error(s, req, "No channel specified")
            return
        ch = self.model.get_channel(name)
        if ch is None:
            self.error(s, req, "No such channel")
            return
        cause = int(req.get("Cause")) if req.get("Cause").isdigit() else 16
        self.ok(s, req, "Channel Hungup")
        self.model.hangup_channel(ch, cause, via="ami")

    def act_getvar(self, s: Session, req: Request) -> None:
        var = req.get("Variable")
        if not var:
            self.error(s, req, "No variable specified")
            return
        value = ""
        if req.get("Channel"):
            ch = self.model.get_channel(req.get("Channel"))
            if ch is None:
                self.error(s, req, "No such channel")
                return
            value = ch.variables.get(var, "")
        self._respond(s, req, "Success", [("Variable", var), ("Value", value)])

    def act_originate(self, s: Session, req: Request) -> None:
        target = req.get("Channel")
        if not target:
            self.error(s, req, "Channel not specified")
            return
        tech, _, data = target.partition("/")
        if not data:
            self.error(s, req, "Invalid channel")
            return
        exten, context = req.get("Exten"), req.get("Context") or "default"
        app, appdata = req.get("Application"), req.get("Data")
        caller_id = req.get("CallerID") or None
        async_ = req.get("Async").lower() in ("true", "yes", "1", "on")
        ext = data.split("@", 1)[0]
        if tech.upper() == "LOCAL":
            # Local/<number>@<context>[/n]: the number as that context's dialplan reaches it (the sim rings
            # the endpoint directly, without the two ;1/;2 halves): never another tenant's same number.
            number, _, ctx = data.partition("@")
            ext = self.model.route(number, ctx.split("/", 1)[0] or "default") or ""
        elif tech.upper() != "PJSIP":
            ext = ""   # unknown technology: fails like an unreachable channel
        if async_:
            self.ok(s, req, "Originate successfully queued")
        result = self.model.originate(ext, exten or None, context, caller_id) if ext else M.OriginateResult(
            False, 0, 66)
        if not async_:
            if result.success:
                self.model.originate_continue(result, exten or None, context, app or None, appdata or None)
                self.ok(s, req, "Originate successfully queued")
            else:
                self.error(s, req, "Originate failed")
            return
        ch = result.channel
        self.broadcast("call", [
            ("Event", "OriginateResponse"), ("Privilege", "call,all"), *self._aid(req),
            ("Response", "Success" if result.success else "Failure"), ("Channel", ch.name if ch else target),
            ("Context", context), ("Exten", exten), ("Reason", str(result.reason)),
            ("Uniqueid", ch.uniqueid if ch else "<unknown>"),
            ("CallerIDNum", _unknown(ch.caller_num) if ch else "<unknown>"),
            ("CallerIDName", _unknown(ch.caller_name) if ch else "<unknown>")])
        if result.success:
            self.model.originate_continue(result, exten or None, context, app or None, appdata or None)
