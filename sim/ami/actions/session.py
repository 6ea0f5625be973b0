"""Actions about the manager session itself: Logoff, Ping, Events, Filter, UserEvent, CoreStatus, ListCommands.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

import re
import time
from datetime import datetime

from ..recorded import LIST_COMMANDS
from ..wire import Request, Session, _posix_ere


class SessionActions:
    def act_logoff(self, s: Session, req: Request) -> None:
        self._respond(s, req, "Goodbye", [("Message", "Thanks for all the fish.")])
        s.closed = True
        s.writer.close()

    def act_ping(self, s: Session, req: Request) -> None:
        self._respond(s, req, "Success", [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])

    def act_events(self, s: Session, req: Request) -> None:
        classes = self._mask(req.get("EventMask")) if req.get("EventMask") else None
        if classes is None:
            self.error(s, req, "Invalid event mask")
            return
        s.event_classes = classes
        self._respond(s, req, "Success", [("Events", "On" if classes else "Off")])

    def act_filter(self, s: Session, req: Request) -> None:
        if req.get("Operation").lower() != "add":
            self.error(s, req, "Unknown operation")
            return
        expr = req.get("Filter")
        include = not expr.startswith("!")
        try:
            rx = re.compile(_posix_ere(expr if include else expr[1:]))
        except re.error:
            self.unknown(s, req)
            return
        s.filters.append((include, rx))
        self.ok(s, req, "Success")

    def act_userevent(self, s: Session, req: Request) -> None:
        name = req.get("UserEvent")
        rest = [(k, v) for k, v in req.headers if k.lower() not in ("action", "userevent")]
        self.ok(s, req, "Event Sent")
        self.broadcast("user", [("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", name), *rest])

    def act_corestatus(self, s: Session, req: Request) -> None:
        start = datetime.fromtimestamp(self.boot_time, self.zone)
        reload_ = datetime.fromtimestamp(max(self.boot_time, self.model.last_reload), self.zone)
        self._respond(s, req, "Success", [
            ("CoreStartupDate", start.strftime("%Y-%m-%d")), ("CoreStartupTime", start.strftime("%H:%M:%S")),
            ("CoreReloadDate", reload_.strftime("%Y-%m-%d")), ("CoreReloadTime", reload_.strftime("%H:%M:%S")),
            ("CoreCurrentCalls", str(len({c.linkedid for c in self.model.channels.values()}))),
            ("CoreProcessedCalls", str(self.model.processed_calls))])

    def act_listcommands(self, s: Session, req: Request) -> None:
        self._respond(s, req, "Success", list(LIST_COMMANDS))
