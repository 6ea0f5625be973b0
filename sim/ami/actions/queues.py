"""app_queue actions: QueueAdd, QueueRemove, QueuePause, QueueStatus, QueueSummary.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

from clusterpbx.sim import model as M

from ..wire import Pairs, Request, Session


class QueueActions:
    def act_queueadd(self, s: Session, req: Request) -> None:
        queue, iface = req.get("Queue"), req.get("Interface")
        if not queue:
            self.error(s, req, "'Queue' not specified.")
            return
        if not iface:
            self.error(s, req, "'Interface' not specified.")
            return
        paused = req.get("Paused").lower() in ("true", "yes", "1", "on")
        try:
            self.model.queue_add(queue, iface, name=req.get("MemberName") or None,
                                 penalty=int(req.get("Penalty") or 0), paused=paused,
                                 reason=req.get("Reason"), state_interface=req.get("StateInterface") or None)
        except M.NoSuchQueue:
            self.error(s, req, "Unable to add interface to queue: No such queue")
            return
        except M.MemberExists:
            self.error(s, req, "Unable to add interface: Already there")
            return
        self.ok(s, req, "Added interface to queue")

    def act_queueremove(self, s: Session, req: Request) -> None:
        queue, iface = req.get("Queue"), req.get("Interface")
        if not queue or not iface:
            self.error(s, req, "Need 'Queue' and 'Interface' parameters.")
            return
        try:
            self.model.queue_remove(queue, iface)
        except M.NoSuchQueue:
            self.error(s, req, "Unable to remove interface from queue: No such queue")
            return
        except M.NoSuchMember:
            self.error(s, req, "Unable to remove interface: Not there")
            return
        self.ok(s, req, "Removed interface from queue")

    def act_queuepause(self, s: Session, req: Request) -> None:
        iface, paused = req.get("Interface"), req.get("Paused")
        if not iface or not paused:
            self.error(s, req, "Need 'Interface' and 'Paused' parameters.")
            return
        on = paused.lower() in ("true", "yes", "1", "on")
        try:
            self.model.queue_pause(iface, on, req.get("Reason"), queue=req.get("Queue") or None)
        except M.NoSuchMember:
            self.error(s, req, "Interface not found")
            return
        self.ok(s, req, "Interface paused successfully" if on else "Interface unpaused successfully")

    def act_queuestatus(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        want_q, want_m = req.get("Queue"), req.get("Member")
        items: list[Pairs] = []
        for q in self.model.queues.values():
            if want_q and q.name != want_q:
                continue
            items.append([("Event", "QueueParams"), ("Queue", q.name), ("Max", str(q.max)), ("Strategy", q.strategy),
                          ("Calls", str(len(q.callers))), ("Holdtime", str(q.holdtime)),
                          ("TalkTime", str(q.talktime)), ("Completed", str(q.completed)),
                          ("Abandoned", str(q.abandoned)), ("ServiceLevel", str(q.service_level)),
                          ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"), ("Weight", str(q.weight)),
                          *self._aid(req)])
            for mem in q.members.values():
                if want_m and mem.interface != want_m and mem.name != want_m:
                    continue
                items.append([("Event", "QueueMember"), ("Queue", q.name), ("Name", mem.name),
                              ("Location", mem.interface), ("StateInterface", mem.state_interface),
                              ("Membership", mem.membership), ("Penalty", str(mem.penalty)),
                              ("CallsTaken", str(mem.calls_taken)), ("LastCall", str(mem.last_call)),
                              ("LastPause", str(mem.last_pause)), ("LoginTime", str(mem.login_time)),
                              ("InCall", "1" if mem.in_call else "0"), ("Status", str(mem.status.code)),
                              ("Paused", "1" if mem.paused else "0"), ("PausedReason", mem.pause_reason),
                              ("Wrapuptime", str(mem.wrapup)), *self._aid(req)])
            for entry in q.callers:
                ch = self.model.channels.get(entry.uniqueid)
                if ch is None:
                    continue
                items.append([("Event", "QueueEntry"), ("Queue", q.name), ("Position", str(entry.position)),
                              ("Channel", ch.name), ("Uniqueid", ch.uniqueid),
                              ("CallerIDNum", ch.caller_num or "unknown"), ("CallerIDName", ch.caller_name or "unknown"),
                              ("ConnectedLineNum", ch.connected_num or "unknown"),
                              ("ConnectedLineName", ch.connected_name or "unknown"),
                              ("Wait", str(int(now - entry.joined))), ("Priority", "0"), *self._aid(req)])
        self._list(s, req, "Queue status will follow", items, "QueueStatusComplete")

    def act_queuesummary(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        want_q = req.get("Queue")
        items: list[Pairs] = []
        for q in self.model.queues.values():
            if want_q and q.name != want_q:
                continue
            logged = [m for m in q.members.values() if m.status not in (M.DeviceState.UNAVAILABLE,
                                                                         M.DeviceState.INVALID)]
            avail = [m for m in logged if not m.paused and m.status == M.DeviceState.NOT_INUSE]
            longest = max((int(now - c.joined) for c in q.callers), default=0)
            items.append([("Event", "QueueSummary"), ("Queue", q.name), ("LoggedIn", str(len(logged))),
                          ("Available", str(len(avail))), ("Callers", str(len(q.callers))),
                          ("HoldTime", str(q.holdtime)), ("TalkTime", str(q.talktime)),
                          ("LongestHoldTime", str(longest)), *self._aid(req)])
        self._list(s, req, "Queue summary will follow", items, "QueueSummaryComplete")
