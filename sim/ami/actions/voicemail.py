"""app_voicemail actions: MailboxCount, MailboxStatus, the VoicemailUser* and VoicemailBox* family.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

from clusterpbx.sim import model as M

from ..wire import Pairs, Request, Session


class VoicemailActions:
    def _counts(self, spec: str) -> tuple[int, int, int]:
        urgent = new = old = 0
        for item in spec.split(","):
            box, _, ctx = item.strip().partition("@")
            u, n, o = self.model.mailbox_counts(box, ctx or "default")
            urgent, new, old = urgent + u, new + n, old + o
        return urgent, new, old

    def act_mailboxcount(self, s: Session, req: Request) -> None:
        spec = req.get("Mailbox")
        if not spec:
            self.error(s, req, "Mailbox not specified")
            return
        u, n, o = self._counts(spec)
        self.ok(s, req, "Mailbox Message Count", [("Mailbox", spec), ("UrgMessages", str(u)),
                                                  ("NewMessages", str(n)), ("OldMessages", str(o))])

    def act_mailboxstatus(self, s: Session, req: Request) -> None:
        spec = req.get("Mailbox")
        if not spec:
            self.error(s, req, "Mailbox not specified")
            return
        u, n, _o = self._counts(spec)
        self.ok(s, req, "Mailbox Status", [("Mailbox", spec), ("Waiting", "1" if u + n else "0")])

    def _vm_user(self, mb: M.Mailbox) -> Pairs:
        _u, new, old = self.model.mailbox_counts(mb.box, mb.context)
        return [("VMContext", mb.context), ("VoiceMailbox", mb.box), ("Fullname", mb.fullname), ("Email", mb.email),
                ("Pager", mb.pager), ("ServerEmail", "pbx@lab.local"), ("FromString", ""),
                ("MailCommand", "/usr/sbin/sendmail -t"), ("Language", ""), ("TimeZone", ""), ("Callback", ""),
                ("Dialout", ""), ("UniqueID", ""), ("ExitContext", ""), ("SayDurationMinimum", "2"),
                ("SayEnvelope", "Yes"), ("SayCID", "No"), ("AttachMessage", "No"), ("AttachmentFormat", ""),
                ("DeleteMessage", "No"), ("VolumeGain", "0.00"), ("CanReview", "No"), ("CanMarkUrgent", "Yes"),
                ("CallOperator", "No"), ("MaxMessageCount", "100"), ("MaxMessageLength", "120"),
                ("NewMessageCount", str(new)), ("OldMessageCount", str(old))]

    def act_voicemailuserslist(self, s: Session, req: Request) -> None:
        items = [[("Event", "VoicemailUserEntry"), *self._aid(req), *self._vm_user(mb)]
                 for mb in self.model.mailboxes.values()]
        self._list(s, req, "Voicemail user list will follow", items, "VoicemailUserEntryComplete")

    def _find_box(self, s: Session, req: Request) -> M.Mailbox | None:
        ctx, box = req.get("Context"), req.get("Mailbox")
        mb = self.model.mailboxes.get(f"{box}@{ctx}")
        if mb is None:
            # Missing parameters and unknown boxes are not recorded.
            self.unknown(s, req)
        return mb

    def act_voicemailuserstatus(self, s: Session, req: Request) -> None:
        mb = self._find_box(s, req)
        if mb is None:
            return
        self._list(s, req, "Voicemail user detail will follow",
                   [[("Event", "VoicemailUserDetail"), *self._aid(req), *self._vm_user(mb)]],
                   "VoicemailUserDetailComplete")

    def act_voicemailboxsummary(self, s: Session, req: Request) -> None:
        mb = self._find_box(s, req)
        if mb is None:
            return
        items = []
        for folder in M.VM_FOLDERS:
            for msg in mb.messages.get(folder, []):
                items.append([("Event", "VoicemailBoxDetail"), *self._aid(req), ("Folder", folder),
                              ("CallerID", msg.caller_id), ("Date", msg.origdate), ("Duration", str(msg.duration)),
                              ("Flag", msg.flag), ("ID", msg.msg_id)])
        self._list(s, req, "Voicemail box detail will follow", items, "VoicemailBoxDetailComplete")

    def act_voicemailrefresh(self, s: Session, req: Request) -> None:
        # app_voicemail only polls; with nothing changed no MessageWaiting follows (recording 14).
        self.ok(s, req, "Refresh sent")

    def act_voicemailmove(self, s: Session, req: Request) -> None:
        done = self.model.move_message(req.get("Mailbox"), req.get("Folder"), req.get("ID"), req.get("ToFolder"),
                                       req.get("Context") or "default")
        self.ok(s, req, "Message move successful\n" if done else "Message move failed\n")

    def act_voicemailremove(self, s: Session, req: Request) -> None:
        done = self.model.delete_message(req.get("Mailbox"), req.get("Folder"), req.get("ID"),
                                         req.get("Context") or "default")
        self.ok(s, req, "Message remove successful\n" if done else "Message remove failed\n")

    def act_voicemailforward(self, s: Session, req: Request) -> None:
        try:
            done = self.model.forward_message(req.get("Mailbox"), req.get("Folder"), req.get("ID"),
                                              req.get("ToMailbox"), req.get("ToFolder") or "INBOX",
                                              req.get("Context") or "default", req.get("ToContext") or "default")
        except M.NoSuchMailbox:
            done = False
        self.ok(s, req, "Message forward successful\n" if done else "Message forward failed\n")
