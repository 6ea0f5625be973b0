"""res_pjsip actions: endpoints, contacts, inbound registrations, PJSIPNotify and MessageSend.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

import base64

from clusterpbx.sim import model as M

from ..recorded import AORDETAIL, AUTHDETAIL, ENDPOINTDETAIL, TRANSPORTDETAIL
from ..wire import Request, Session

_ENDPOINT_STATE_TEXT = {
    M.DeviceState.UNAVAILABLE: "Unavailable", M.DeviceState.NOT_INUSE: "Not in use",
    M.DeviceState.INUSE: "In use", M.DeviceState.RINGING: "Ringing", M.DeviceState.RINGINUSE: "Ring+Inuse",
    M.DeviceState.BUSY: "Busy", M.DeviceState.ONHOLD: "On Hold", M.DeviceState.INVALID: "Invalid",
    M.DeviceState.UNKNOWN: "Unknown",
}


class PjsipActions:
    def _contacts(self, ep: M.Endpoint, trailing: str = ",") -> str:
        return f"{ep.ext}/{ep.registration.contact}{trailing}" if ep.registered and ep.registration else ""

    def act_pjsipshowendpoints(self, s: Session, req: Request) -> None:
        items = []
        for ep in self.model.endpoints.values():
            active = sum(1 for c in self.model.channels.values() if c.endpoint == ep.ext)
            items.append([("Event", "EndpointList"), *self._aid(req), ("ObjectType", "endpoint"),
                          ("ObjectName", ep.ext), ("Transport", "transport-udp"), ("Aor", ep.ext), ("Auths", ep.ext),
                          ("OutboundAuths", ""), ("Contacts", self._contacts(ep)),
                          ("DeviceState", _ENDPOINT_STATE_TEXT[ep.device_state]), ("ActiveChannels", str(active))])
        self._list(s, req, "A listing of Endpoints follows, presented as EndpointList events", items,
                   "EndpointListComplete")

    def act_pjsipshowendpoint(self, s: Session, req: Request) -> None:
        name = req.get("Endpoint")
        if not name:
            self.error(s, req, "PJSIPShowEndpoint requires an endpoint name\n")
            return
        ep = self.model.endpoints.get(name)
        if ep is None:
            self.error(s, req, f"Unable to retrieve endpoint {name}\n")
            return
        active = sum(1 for c in self.model.channels.values() if c.endpoint == ep.ext)
        subst = {"ObjectName": ep.ext, "Mailboxes": ep.mailbox or "", "Aors": ep.ext, "Auth": ep.ext,
                 "Callerid": ep.callerid, "Context": ep.context, "DeviceState": _ENDPOINT_STATE_TEXT[ep.device_state],
                 "ActiveChannels": str(active)}
        aid = self._aid(req)
        items = [[("Event", "EndpointDetail"), *aid, *[(k, subst.get(k, v)) for k, v in ENDPOINTDETAIL]],
                 [("Event", "AuthDetail"), *aid, *[(k, {"ObjectName": ep.ext, "Username": ep.ext,
                                                        "Password": ep.password, "EndpointName": ep.ext}.get(k, v))
                                                   for k, v in AUTHDETAIL]],
                 [("Event", "TransportDetail"), *aid, *[(k, ep.ext if k == "EndpointName" else v)
                                                        for k, v in TRANSPORTDETAIL]]]
        reg = ep.registration if ep.registered else None
        aor = {"ObjectName": ep.ext, "Contacts": self._contacts(ep, ""), "TotalContacts": "1" if reg else "0",
               "ContactsRegistered": "1" if reg else "0", "EndpointName": ep.ext}
        items.append([("Event", "AorDetail"), *aid, *[(k, aor.get(k, v)) for k, v in AORDETAIL]])
        if reg is not None:
            items.append([("Event", "ContactStatusDetail"), *aid, ("AOR", ep.ext), ("URI", reg.contact),
                          ("UserAgent", reg.user_agent), ("RegExpire", str(reg.expiration_time)),
                          ("ViaAddress", reg.via_addr), ("CallID", reg.call_id), ("Status", "NonQualified"),
                          ("RoundtripUsec", "N/A"), ("EndpointName", ep.ext), ("ID", f"{ep.ext};@{reg.contact_hash}"),
                          ("AuthenticateQualify", "0"), ("OutboundProxy", ""), ("Path", ""),
                          ("QualifyFrequency", "0"), ("QualifyTimeout", "3.000"), ("Qualify2xxOnly", "0")])
        self._list(s, req, "Following are Events for each object associated with the Endpoint", items,
                   "EndpointDetailComplete")

    def act_pjsipshowcontacts(self, s: Session, req: Request) -> None:
        items = []
        for ep in self.model.endpoints.values():
            reg = ep.registration if ep.registered else None
            if reg is None:
                continue
            host, _, port = reg.via_addr.partition(":")
            items.append([("Event", "ContactList"), *self._aid(req), ("ObjectType", "contact"),
                          ("ObjectName", f"{ep.ext};@{reg.contact_hash}"), ("ViaAddr", host),
                          ("QualifyTimeout", "3.000000"), ("Qualify2xxOnly", "false"), ("CallId", reg.call_id),
                          ("RegServer", ""), ("PruneOnBoot", "no"), ("Path", ""), ("Endpoint", ep.ext),
                          ("ViaPort", port), ("AuthenticateQualify", "no"), ("Uri", reg.contact),
                          ("QualifyFrequency", "0"), ("UserAgent", reg.user_agent),
                          ("ExpirationTime", str(reg.expiration_time)), ("OutboundProxy", ""),
                          ("Status", "NonQualified"), ("RoundtripUsec", "N/A")])
        self._list(s, req, "A listing of Contacts follows, presented as ContactList events", items,
                   "ContactListComplete")

    def act_pjsipshowregistrationsinbound(self, s: Session, req: Request) -> None:
        items = []
        for ep in self.model.endpoints.values():
            aor = {"ObjectName": ep.ext, "Contacts": self._contacts(ep)}
            pairs = [(k, aor.get(k, v)) for k, v in AORDETAIL if k not in ("TotalContacts", "ContactsRegistered",
                                                                             "EndpointName")]
            pairs = [("Contact", self._contacts(ep, "")) if k == "Contacts" else (k, v) for k, v in pairs]
            items.append([("Event", "InboundRegistrationDetail"), *self._aid(req), *pairs,
                          ("Contacts", self._contacts(ep))])
        self._list(s, req, "Following are Events for each Inbound registration", items,
                   "InboundRegistrationDetailComplete")

    def act_pjsipnotify(self, s: Session, req: Request) -> None:
        endpoint, uri = req.get("Endpoint"), req.get("URI")
        option, variables = req.get("Option"), req.get_all("Variable")
        if bool(endpoint) + bool(uri) + bool(req.get("Channel")) != 1:
            self.unknown(s, req)   # not recorded
            return
        if endpoint and endpoint not in self.model.endpoints:
            self.error(s, req, f"Unable to retrieve endpoint {endpoint}")
            return
        if bool(option) == bool(variables):
            self.error(s, req, "PJSIPNotify requires either an Option or Variable(s).You must use only one of them.")
            return
        if option:
            if option not in self.notify_types:
                self.unknown(s, req)   # not recorded
                return
            pairs = list(self.notify_types[option])
        else:
            pairs = [tuple(v.split("=", 1)) if "=" in v else (v, "") for v in variables]  # type: ignore[misc]
        event = next((v for k, v in pairs if k.lower() == "event"), "")
        body = "\r\n".join(v for k, v in pairs if k.lower() == "content")
        headers = [(k, v) for k, v in pairs if k.lower() not in ("event", "content")]
        if req.get("Channel"):
            ch = self.model.get_channel(req.get("Channel"))
            if ch is None:
                self.unknown(s, req)   # not recorded
                return
            endpoint = ch.endpoint or ""
        self.model.send_notify(endpoint or None, uri or None, event, headers, body)
        self.ok(s, req, "NOTIFY sent")

    def act_messagesend(self, s: Session, req: Request) -> None:
        to = req.get("To") or req.get("Destination")
        if not to:
            self.error(s, req, "No 'To' address specified.")
            return
        tech = to.split(":", 1)[0].lower() if ":" in to else ""
        if tech not in ("pjsip", "sip"):
            self.error(s, req, "Message technology not found.")
            return
        body = req.get("Body")
        if req.get("Base64Body"):
            try:
                body = base64.b64decode(req.get("Base64Body")).decode("utf-8", "replace")
            except ValueError:
                body = ""
        variables = dict(v.split("=", 1) for v in ",".join(req.get_all("Variable")).split(",") if "=" in v)
        msg = self.model.send_message(req.get("To") or to, req.get("From"), body, req.get("Destination") or None,
                                      variables)
        if not msg.delivered:
            self.error(s, req, "Message failed to send.")
            return
        self.ok(s, req, "Message successfully sent")
