"""app_confbridge actions: list rooms and participants, mute, kick, lock.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

from clusterpbx.sim import model as M

from ..translate import channel_snapshot
from ..wire import Request, Session


class ConferenceActions:
    def _conf(self, s: Session, req: Request, need_channel: bool = False) -> M.Conference | None:
        room = req.get("Conference")
        if not room:
            self.error(s, req, "No Conference name provided.")
            return None
        if need_channel and not req.get("Channel"):
            self.error(s, req, "No channel name provided.")
            return None
        if not self.model.conferences:
            self.error(s, req, "No active conferences.")
            return None
        conf = self.model.conferences.get(room)
        if conf is None:
            self.error(s, req, "No Conference by that name found.")
            return None
        return conf

    def act_confbridgelistrooms(self, s: Session, req: Request) -> None:
        if not self.model.conferences:
            self.error(s, req, "No active conferences.")
            return
        items = []
        for conf in self.model.conferences.values():
            muted = bool(conf.participants) and all(p.muted for p in conf.participants.values())
            items.append([("Event", "ConfbridgeListRooms"), *self._aid(req), ("Conference", conf.name),
                          ("Parties", str(len(conf.participants))),
                          ("Marked", str(sum(p.marked for p in conf.participants.values()))),
                          ("Locked", "Yes" if conf.locked else "No"), ("Muted", "Yes" if muted else "No")])
        self._list(s, req, "Confbridge conferences will follow", items, "ConfbridgeListRoomsComplete")

    def act_confbridgelist(self, s: Session, req: Request) -> None:
        conf = self._conf(s, req)
        if conf is None:
            return
        now = self.model.clock()
        items = []
        for uid, p in conf.participants.items():
            ch = self.model.channels.get(uid)
            if ch is None:
                continue
            items.append([("Event", "ConfbridgeList"), *self._aid(req), ("Conference", conf.name),
                          ("Admin", "Yes" if p.admin else "No"), ("MarkedUser", "Yes" if p.marked else "No"),
                          ("WaitMarked", "No"), ("EndMarked", "No"), ("EndMarkedAny", "No"),
                          ("Waiting", "Yes" if p.waiting else "No"),
                          ("Muted", "Yes" if p.muted else "No"), ("Talking", "Yes" if p.talking else "No"),
                          ("AnsweredTime", str(int(now - (ch.answered or now)))), *channel_snapshot(ch)])
        self._list(s, req, "Confbridge user list will follow", items, "ConfbridgeListComplete")

    def _mute(self, s: Session, req: Request, muted: bool) -> None:
        conf = self._conf(s, req, need_channel=True)
        if conf is None:
            return
        if self.model.conf_mute(conf.name, req.get("Channel"), muted) == 0:
            self.error(s, req, "No Channel by that name found in Conference.")
            return
        self.ok(s, req, "User muted" if muted else "User unmuted")

    def act_confbridgemute(self, s: Session, req: Request) -> None:
        self._mute(s, req, True)

    def act_confbridgeunmute(self, s: Session, req: Request) -> None:
        self._mute(s, req, False)

    def act_confbridgekick(self, s: Session, req: Request) -> None:
        conf = self._conf(s, req)
        if conf is None:
            return
        who = req.get("Channel")
        if not who:
            self.error(s, req, "No channel name provided.")
            return
        if not self.model._conf_targets(conf, who):
            self.error(s, req, "No Channel by that name found in Conference.")
            return
        self.ok(s, req, "All participants kicked" if who == "all" else "User kicked")
        self.model.conf_kick(conf.name, who)

    def _lock(self, s: Session, req: Request, locked: bool) -> None:
        conf = self._conf(s, req)
        if conf is None:
            return
        self.model.conf_lock(conf.name, locked)
        self.ok(s, req, "Conference locked" if locked else "Conference unlocked")

    def act_confbridgelock(self, s: Session, req: Request) -> None:
        self._lock(s, req, True)

    def act_confbridgeunlock(self, s: Session, req: Request) -> None:
        self._lock(s, req, False)
