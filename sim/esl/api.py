"""The api commands of the sim ESL server, answering with FreeSWITCH 1.10.12's exact texts (fixtures/freeswitch).

Each handler returns the api/response body; an unknown command answers `-ERR <cmd> Command not found!`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shlex
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .fsstate import (
    AGENT_FIELDS,
    AGENT_STATES,
    AGENT_STATUSES,
    MEMBER_FIELDS,
    QUEUE_FIELDS,
    TIER_FIELDS,
    Agent,
    FsState,
)

if TYPE_CHECKING:
    from .server import EslServer, Session

log = logging.getLogger(__name__)

VERSION_LINE = "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)"
PROFILE = "internal"
SIP_PORT = 5160

CALLCENTER_USAGE = (
    "-USAGE: \n"
    "callcenter_config <target> <args>,\n"
    "\tcallcenter_config agent add [name] [type] | \n"
    "\tcallcenter_config agent del [name] | \n"
    "\tcallcenter_config agent reload [name] | \n"
    "\tcallcenter_config agent set status [agent_name] [status] | \n"
    "\tcallcenter_config agent set state [agent_name] [state] | \n"
    "\tcallcenter_config agent set contact [agent_name] [contact] | \n"
    "\tcallcenter_config agent set ready_time [agent_name] [wait till epoch] | \n"
    "\tcallcenter_config agent set reject_delay_time [agent_name] [wait second] | \n"
    "\tcallcenter_config agent set busy_delay_time [agent_name] [wait second] | \n"
    "\tcallcenter_config agent set no_answer_delay_time [agent_name] [wait second] | \n"
    "\tcallcenter_config agent get status [agent_name] | \n"
    "\tcallcenter_config agent get state [agent_name] | \n"
    "\tcallcenter_config agent get uuid [agent_name] | \n"
    "\tcallcenter_config agent list [[agent_name]] | \n"
    "\tcallcenter_config tier add [queue_name] [agent_name] [[level]] [[position]] | \n"
    "\tcallcenter_config tier set state [queue_name] [agent_name] [state] | \n"
    "\tcallcenter_config tier set level [queue_name] [agent_name] [level] | \n"
    "\tcallcenter_config tier set position [queue_name] [agent_name] [position] | \n"
    "\tcallcenter_config tier del [queue_name] [agent_name] | \n"
    "\tcallcenter_config tier reload [queue_name] [agent_name] | \n"
    "\tcallcenter_config tier list | \n"
    "\tcallcenter_config queue load [queue_name] | \n"
    "\tcallcenter_config queue unload [queue_name] | \n"
    "\tcallcenter_config queue reload [queue_name] | \n"
    "\tcallcenter_config queue list | \n"
    "\tcallcenter_config queue list agents [queue_name] [status] [state] | \n"
    "\tcallcenter_config queue list members [queue_name] | \n"
    "\tcallcenter_config queue list tiers [queue_name] | \n"
    "\tcallcenter_config queue count | \n"
    "\tcallcenter_config queue count agents [queue_name] [status] [state] | \n"
    "\tcallcenter_config queue count members [queue_name] | \n"
    "\tcallcenter_config queue count tiers [queue_name]\n"
)

ORIGINATE_USAGE = ("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
                   "[<cid_name>] [<cid_num>] [<timeout_sec>]\n")
HASH_USAGE = "-ERR Usage: hash insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n"

CHANNEL_COLS = ("uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr",
                "dest", "application", "application_data", "dialplan", "context", "read_codec", "read_rate",
                "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id",
                "presence_data", "accountcode", "callstate", "callee_name", "callee_num", "callee_direction",
                "call_uuid", "sent_callee_name", "sent_callee_num", "initial_cid_name", "initial_cid_num",
                "initial_ip_addr", "initial_dest", "initial_dialplan", "initial_context")
CALL_A_COLS = ("uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr",
               "dest", "presence_id", "presence_data", "accountcode", "callstate", "callee_name", "callee_num",
               "callee_direction", "call_uuid", "hostname", "sent_callee_name", "sent_callee_num")
CALL_B_COLS = ("uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr",
               "dest", "presence_id", "presence_data", "accountcode", "callstate", "callee_name", "callee_num",
               "callee_direction", "sent_callee_name", "sent_callee_num")
REG_COLS = ("reg_user", "realm", "token", "url", "expires", "network_ip", "network_port", "network_proto",
            "hostname", "metadata")

Handler = Callable[[str, "Session"], Awaitable[str]]


def _split_user(s: str) -> tuple[str, str]:
    user, _, domain = s.partition("@")
    return user, domain


class EslApi:
    """Dispatch of `api <cmd> <arg>` for one server (the state is shared by all its connections)."""

    def __init__(self, server: EslServer) -> None:
        self.server = server
        self.fs = FsState(server.model)
        self.handlers: dict[str, Handler] = {
            "status": self.status, "version": self.version, "uptime": self.uptime, "show": self.show,
            "sofia": self.sofia, "sofia_contact": self.sofia_contact, "callcenter_config": self.callcenter,
            "conference": self.conference, "db": self.db, "hash": self.hash, "hash_dump": self.hash_dump,
            "vm_boxcount": self.vm_boxcount, "vm_list": self.vm_list, "vm_delete": self.vm_delete,
            "vm_read": self.vm_read, "vm_inject": self.vm_inject, "vm_fsdb_msg_count": self.vm_fsdb_msg_count,
            "originate": self.originate, "uuid_kill": self.uuid_kill, "uuid_getvar": self.uuid_getvar,
            "uuid_exists": self.uuid_exists, "chat": self.chat, "reloadxml": self.reloadxml,
            "xml_flush_cache": self.xml_flush_cache, "fsctl": self.fsctl, "log": self.log,
        }

    @property
    def model(self) -> Any:
        return self.server.model

    @property
    def domain(self) -> str:
        return str(getattr(self.model, "domain", "127.0.0.1"))

    @property
    def hostname(self) -> str:
        return self.server.factory.hostname

    async def execute(self, cmd: str, arg: str | None, session: Session) -> str:
        handler = self.handlers.get(cmd.lower())
        if handler is None:
            return f"-ERR {cmd} Command not found!\n"
        try:
            return await handler(arg or "", session)
        except Exception as exc:  # a sim bug must not cost the client its connection
            log.exception("esl api %s %s failed", cmd, arg)
            return f"-ERR {type(exc).__name__}: {exc}\n"

    # ------------------------------------------------------------------ core

    async def status(self, arg: str, session: Session) -> str:
        up = self.server.uptime()
        secs = int(up)
        y, rem = divmod(secs, 365 * 86400)
        d, rem = divmod(rem, 86400)
        h, rem = divmod(rem, 3600)
        m, s = divmod(rem, 60)
        ms = int(up * 1000) % 1000
        us = int(up * 1_000_000) % 1000
        cur = len(self.model.channels)
        fs = self.fs
        return (f"UP {y} years, {d} days, {h} hours, {m} minutes, {s} seconds, {ms} milliseconds, {us} microseconds\n"
                "FreeSWITCH (Version 1.10.12-release  64bit) is ready\n"
                f"{fs.sessions_since_start} session(s) since startup\n"
                f"{cur} session(s) - peak {fs.peak_sessions}, last 5min {fs.peak_sessions} \n"
                "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
                "1000 session(s) max\n"
                "min idle cpu 0.00/99.00\n"
                "Current Stack Size/Max 240K/8192K\n")

    async def version(self, arg: str, session: Session) -> str:
        return VERSION_LINE + "\n"

    async def uptime(self, arg: str, session: Session) -> str:
        up = self.server.uptime()
        div = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}.get(arg.strip() or "s", 1)
        return f"{int(up / div)}\n"

    async def log(self, arg: str, session: Session) -> str:
        from .server import log_level
        level_s, _, text = arg.partition(" ")
        lvl = log_level(level_s) if level_s else None
        if lvl is None:
            lvl, text = 7, arg
        self.server.log(lvl, text)
        return "+OK\n"

    async def reloadxml(self, arg: str, session: Session) -> str:
        self.model.reload("reloadxml")
        self.server.log(6, "Timezone reloaded 597 definitions", file="switch_time.c", func="switch_load_timezones",
                        line=1436)
        return "+OK [Success]\n"

    async def xml_flush_cache(self, arg: str, session: Session) -> str:
        return "+OK\n"

    async def fsctl(self, arg: str, session: Session) -> str:
        if arg.split()[:1] == ["shutdown"]:
            # the issuer gets its +OK first; the SHUTDOWN event and the close follow (22_shutdown_issuer)
            asyncio.get_running_loop().call_later(0.05, self.model.shutdown)
            return "+OK\n"
        return _not_found("fsctl", arg)

    # ------------------------------------------------------------------ show

    def _chan_row(self, ch: Any) -> dict[str, str]:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ch.created))
        peer = self.model.channels.get(ch.peer) if ch.peer else None
        state = "CS_EXECUTE" if ch.direction == "inbound" else "CS_EXCHANGE_MEDIA"
        if ch.state.name in ("DOWN", "RING", "RINGING") and not ch.answered:
            state = "CS_ROUTING" if ch.direction == "inbound" else "CS_CONSUME_MEDIA"
        callstate = _callstate(ch)
        # FreeSWITCH's call_uuid is the first leg's uuid on both legs; an originated leg (click to
        # call) is itself the first leg of the call it then dials.
        call_uuid = ch.uuid
        root = self.model.channels.get(ch.linkedid) if ch.linkedid and ch.linkedid != ch.uniqueid else None
        if root is not None:
            call_uuid = root.uuid
        elif ch.direction == "outbound" and peer is not None and peer.linkedid != ch.uniqueid:
            call_uuid = peer.uuid
        ep = self.model.endpoints.get(ch.endpoint or "")
        return {
            "uuid": ch.uuid, "direction": ch.direction, "created": created, "created_epoch": str(int(ch.created)),
            "name": ch.name, "state": state, "cid_name": ch.caller_name, "cid_num": ch.caller_num,
            "ip_addr": "127.0.0.1", "dest": ch.exten if ch.direction == "inbound" else (ch.endpoint or ch.exten),
            "application": _fs_app(ch.application) if ch.direction == "inbound" else "",
            "application_data": self._fs_app_data(ch), "dialplan": "XML",
            "context": "default", "read_codec": "PCMA", "read_rate": "8000", "read_bit_rate": "64000",
            "write_codec": "PCMA", "write_rate": "8000", "write_bit_rate": "64000", "secure": "",
            # the generated directory's presence: the extension number (what phones watch) in presence_id,
            # the directory user in presence_data (dialplan/freeswitch.py DIAL_STRING)
            "hostname": self.hostname,
            "presence_id": f"{ep.dial_number}@{ep.domain or self.domain}" if ep else "",
            "presence_data": f"{ep.ext}@{ep.domain or self.domain}" if ep else "",
            "accountcode": ch.account_code, "callstate": callstate,
            "callee_name": ch.connected_name, "callee_num": ch.connected_num, "callee_direction": "SEND"
            if ch.connected_num else "", "call_uuid": call_uuid, "sent_callee_name": ch.connected_name,
            "sent_callee_num": ch.connected_num, "initial_cid_name": ch.caller_name,
            "initial_cid_num": ch.caller_num, "initial_ip_addr": "127.0.0.1",
            "initial_dest": ch.exten if ch.direction == "inbound" else (ch.endpoint or ch.exten),
            "initial_dialplan": "XML", "initial_context": "default",
        }

    def _fs_app_data(self, ch: Any) -> str:
        if ch.direction != "inbound":
            return ""
        if ch.application == "Dial":
            # the model dials PJSIP-style; the FreeSWITCH dialplan bridges user/<ext>@<domain>
            return f"user/{ch.exten}@{self.domain}"
        return str(ch.app_data)

    def _calls(self) -> list[dict[str, str]]:
        rows = []
        chans = self.model.channels
        for ch in chans.values():
            if ch.direction != "inbound" and ch.peer in chans:
                continue  # b-legs appear as b_* of their a-leg
            a = self._chan_row(ch)
            row = {k: a[k] for k in CALL_A_COLS}
            peer = chans.get(ch.peer) if ch.peer else None
            if peer is not None and ch.bridge_id is not None:
                b = self._chan_row(peer)
                for k in CALL_B_COLS:
                    row["b_" + k] = b[k]
                row["call_created_epoch"] = str(int(peer.answered or peer.created))
            rows.append(row)
        return rows

    def _registrations(self) -> list[dict[str, str]]:
        rows = []
        for ep in self._registered():
            reg = ep.registration
            host, _, port = reg.via_addr.partition(":")
            rows.append({
                "reg_user": ep.ext, "realm": ep.domain or self.domain, "token": reg.call_id,
                "url": f"sofia/{PROFILE}/{reg.contact.split(';')[0]}", "expires": str(int(reg.reg_time + reg.expires)),
                "network_ip": host or "127.0.0.1", "network_port": port or "5060", "network_proto": "udp",
                "hostname": self.hostname, "metadata": "",
            })
        return rows

    def _registered(self) -> list[Any]:
        """Registered endpoints in registration order, as sofia's sqlite table returns them."""
        eps = [ep for ep in self.model.endpoints.values() if ep.registration is not None and ep.registered]
        return sorted(eps, key=lambda ep: ep.registration.reg_time)

    async def show(self, arg: str, session: Session) -> str:
        words = arg.split()
        if not words:
            return _not_found("show", arg)
        what = words[0].lower()
        fmt, delim = "text", ","
        rest = words[1:]
        if len(rest) >= 2 and rest[0].lower() == "as":
            fmt = rest[1].lower()
            if fmt == "delim" and len(rest) >= 3:
                delim = rest[2]
            rest = []
        if what == "channels":
            cols: tuple[str, ...] = CHANNEL_COLS
            rows = [self._chan_row(c) for c in self.model.channels.values()]
        elif what == "calls":
            rows = self._calls()
            cols = tuple(rows[0].keys()) if rows and "b_uuid" in rows[0] else \
                CALL_A_COLS + tuple("b_" + k for k in CALL_B_COLS) + ("call_created_epoch",)
        elif what == "registrations":
            cols = REG_COLS
            rows = self._registrations()
        else:
            return _not_found("show", arg)
        if rest and rest[0].lower() == "count":
            return f"\n{len(rows)} total.\n"
        if fmt == "json":
            if not rows:
                return '{"row_count": 0}\n'
            full = [{c: r.get(c, "") for c in cols} for r in rows]
            return json.dumps({"row_count": len(rows), "rows": full}, separators=(",", ":"), ensure_ascii=False)
        if fmt == "xml":
            out = [f'<result row_count="{len(rows)}">']
            for i, r in enumerate(rows, 1):
                out.append(f'  <row row_id="{i}">')
                out.extend(f"    <{c}>{_xml(r.get(c, ''))}</{c}>" for c in cols)
                out.append("  </row>")
            out.append("</result>")
            return "\n".join(out) + "\n"
        if not rows:
            return "\n0 total.\n"
        lines = [delim.join(cols)] + [delim.join(r.get(c, "") for c in cols) for r in rows]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n"

    # ------------------------------------------------------------------ sofia

    async def sofia(self, arg: str, session: Session) -> str:
        words = arg.split()
        if words[:1] == ["status"] and len(words) == 1:
            return (
                "                     Name\t   Type\t                                      Data\tState\n"
                + "=" * 97 + "\n"
                f"{self.domain:>25}\t  alias\t{PROFILE:>42}\tALIASED\n"
                f"{PROFILE:>25}\tprofile\t{'sip:mod_sofia@127.0.0.1:' + str(SIP_PORT):>42}\tRUNNING (0)\n"
                + "=" * 97 + "\n1 profile 1 alias\n")
        if words[:2] == ["status", "profile"] or words[:2] == ["xmlstatus", "profile"]:
            if len(words) < 3 or words[2] != PROFILE:
                return "Invalid Profile!\n"
            if len(words) >= 4 and words[3] == "reg":
                regs = [r for r in self._reg_details() if len(words) < 5 or r["user"].split("@")[0] == words[4]]
                if words[0] == "xmlstatus":
                    return self._reg_xml(regs)
                return self._reg_text(regs)
            if words[0] == "status":
                return self._profile_text()
        if len(words) >= 4 and words[0] == "profile" and words[2] == "check_sync":
            if words[1] != PROFILE:
                return "Invalid Profile!\n"
            # sofia matches the registration's user and host: another tenant's domain has no such phone
            user, domain = _split_user(words[3])
            ep = self.model.endpoints.get(user)
            hosted = {e.domain or self.domain for e in self.model.endpoints.values()}
            if ep is not None and (not domain or domain not in hosted or (ep.domain or self.domain) == domain):
                self.model.send_notify(endpoint=user, event="check-sync")
            return "+OK syncing all registrations matching specified call_id\n"
        return _not_found("sofia", arg)

    def _reg_details(self) -> list[dict[str, str]]:
        out = []
        now = time.time()
        for ep in self._registered():
            reg = ep.registration
            exp = reg.reg_time + reg.expires
            host, _, port = reg.via_addr.partition(":")
            realm = ep.domain or self.domain  # the directory domain it registered in (a tenant's)
            out.append({
                "call-id": reg.call_id, "user": f"{ep.ext}@{realm}",
                "contact": f'"" <{reg.contact}>', "agent": reg.user_agent,
                "status": f"Registered(UDP)(unknown) EXP({time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(exp))}) "
                          f"EXPSECS({max(0, int(exp - now))})",
                "host": self.hostname, "ip": host or "127.0.0.1", "port": port or "5060", "auth-user": ep.ext,
                "auth-realm": realm, "mwi": f"{ep.ext}@{realm}",
            })
        return out

    def _reg_text(self, regs: list[dict[str, str]]) -> str:
        out = ["", "Registrations:", "=" * 97]
        for r in regs:
            out += [f"Call-ID:    \t{r['call-id']}", f"User:       \t{r['user']}", f"Contact:    \t{r['contact']}",
                    f"Agent:      \t{r['agent']}", f"Status:     \t{r['status']}", "Ping-Status:\tReachable",
                    "Ping-Time:\t0.00", f"Host:       \t{r['host']}", f"IP:         \t{r['ip']}",
                    f"Port:       \t{r['port']}", f"Auth-User:  \t{r['auth-user']}",
                    f"Auth-Realm: \t{r['auth-realm']}", f"MWI-Account:\t{r['mwi']}", ""]
        out += [f"Total items returned: {len(regs)}", "=" * 97]
        return "\n".join(out) + "\n"

    def _reg_xml(self, regs: list[dict[str, str]]) -> str:
        out = ['<?xml version="1.0" encoding="ISO-8859-1"?>', "<profile>", "  <registrations>"]
        for r in regs:
            st = r["status"].replace("EXP(", "exp(").replace("EXPSECS(", "expsecs(")
            out += ["    <registration>"] + [f"        <{k}>{_xml(v)}</{k}>" for k, v in (
                ("call-id", r["call-id"]), ("user", r["user"]), ("contact", r["contact"]), ("agent", r["agent"]),
                ("status", st), ("ping-status", "Reachable"), ("ping-time", "0.00"), ("host", r["host"]),
                ("network-ip", r["ip"]), ("network-port", r["port"]), ("sip-auth-user", r["auth-user"]),
                ("sip-auth-realm", r["auth-realm"]), ("mwi-account", r["mwi"]))] + ["    </registration>"]
        out += ["  </registrations>", "</profile>"]
        return "\n".join(out) + "\n"

    def _profile_text(self) -> str:
        url = f"sip:mod_sofia@127.0.0.1:{SIP_PORT}"
        nregs = len(self._reg_details())
        rows = [
            ("Name", PROFILE), ("Domain Name", "N/A"), ("Auto-NAT", "false"), ("DBName", f"sofia_reg_{PROFILE}"),
            ("Pres Hosts", "127.0.0.1,127.0.0.1"), ("Dialplan", "XML"), ("Context", "public"),
            ("Challenge Realm", "auto_from"), ("RTP-IP", "127.0.0.1"), ("Ext-RTP-IP", "127.0.0.1"),
            ("SIP-IP", "127.0.0.1"), ("Ext-SIP-IP", "127.0.0.1"), ("URL", url),
            ("BIND-URL", f"{url};maddr=127.0.0.1;transport=udp,tcp"),
        ]
        out = ["=" * 97] + [f"{k:<17}\t{v}" for k, v in rows]
        # the WS line really has one space fewer in FreeSWITCH's output
        out.append("WS-BIND-URL     \tsip:mod_sofia@127.0.0.1:5066;transport=ws")
        rows2 = [
            ("WSS-BIND-URL", "sips:mod_sofia@127.0.0.1:7443;transport=wss"), ("HOLD-MUSIC", "local_stream://moh"),
            ("OUTBOUND-PROXY", "N/A"), ("CODECS IN", "PCMU,PCMA"), ("CODECS OUT", "PCMU,PCMA"),
            ("TEL-EVENT", "101"), ("DTMF-MODE", "rfc2833"), ("CNG", "13"), ("SESSION-TO", "0"),
            ("MAX-DIALOG", "0"), ("MAX-RECV-RPS", "1000"), ("NOMEDIA", "false"), ("LATE-NEG", "true"),
            ("PROXY-MEDIA", "false"), ("AGGRESSIVENAT", "false"), ("CALLS-IN", str(self.fs.calls_in)),
            ("FAILED-CALLS-IN", "0"), ("CALLS-OUT", str(self.fs.calls_out)), ("FAILED-CALLS-OUT", "0"),
            ("REGISTRATIONS", str(nregs)),
        ]
        out += [f"{k:<17}\t{v}" for k, v in rows2]
        return "\n".join(out) + "\n"

    async def sofia_contact(self, arg: str, session: Session) -> str:
        user, _ = _split_user(arg.strip().split("/")[-1])
        ep = self.model.endpoints.get(user)
        if ep is None or not ep.registered:
            return "error/user_not_registered"
        return f"sofia/{PROFILE}/{ep.registration.contact.split(';')[0]}"

    # ------------------------------------------------------------------ callcenter

    async def callcenter(self, arg: str, session: Session) -> str:
        try:
            a = shlex.split(arg)
        except ValueError:
            a = arg.split()
        fs = self.fs
        if len(a) < 2:
            return CALLCENTER_USAGE
        target, action, rest = a[0], a[1], a[2:]
        if target == "agent":
            if action == "add" and len(rest) >= 2:
                if rest[0] in fs.agents:
                    return "-ERR Agent already exist!\n"
                if rest[1] not in ("callback", "uuid-standby"):
                    return "-ERR Invalid Agent Type!\n"
                fs.agents[rest[0]] = Agent(rest[0], type=rest[1], last_status_change=int(time.time()))
                return "+OK\n"
            if action == "del" and rest:
                if rest[0] not in fs.agents:
                    return "-ERR Agent not found!\n"
                fs.agent_del(rest[0])
                return "+OK\n"
            if action == "set" and len(rest) >= 3:
                # one argument: an unquoted status with a space is two arguments, and only the first counts
                key, name, value = rest[0], rest[1], rest[2]
                ag = fs.agents.get(name)
                if ag is None:  # cc_agent_update's CC_STATUS_AGENT_NOT_FOUND (FreeSWITCH 1.10.12)
                    return "-ERR Agent not found!\n"
                if key == "status":
                    if value not in AGENT_STATUSES:
                        return "-ERR Invalid Agent Status!\n"
                    ag.status = value
                    ag.last_status_change = int(time.time())
                    fs.sync_agent(ag)
                    self.server.translator.cc_agent_status(ag)
                elif key == "state":
                    if value not in AGENT_STATES:
                        return "-ERR Invalid Agent State!\n"
                    ag.state = value
                    self.server.translator.cc_agent_state(ag)
                elif key == "contact":
                    ag.contact = value
                    fs.sync_agent(ag)
                elif key in ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time",
                             "no_answer_delay_time", "ready_time"):
                    setattr(ag, key, int(value) if value.isdigit() else 0)
                else:
                    return "-ERR Unknown Agent Key!\n"
                return "+OK\n"
            if action == "get" and len(rest) >= 2:
                ag = fs.agents.get(rest[1])
                if ag is None:
                    return "-ERR Agent not found!\n"
                return {"status": ag.status, "state": ag.state, "uuid": ag.uuid}.get(rest[0], "-ERR Unknown Agent Key!\n")
            if action == "list":
                ags = [ag for ag in fs.agents.values() if not rest or ag.name == rest[0]]
                return _table(AGENT_FIELDS, [ag.row() for ag in ags])
            return CALLCENTER_USAGE
        if target == "tier":
            if action == "add" and len(rest) >= 2:
                q, ag_name = rest[0], rest[1]
                if any(t.queue == q and t.agent == ag_name for t in fs.tiers):
                    return "-ERR Tier already exist!\n"
                if q not in self.model.queues:
                    return "-ERR Queue not found!\n"
                if ag_name not in fs.agents:
                    return "-ERR Agent not found!\n"
                level = int(rest[2]) if len(rest) > 2 and rest[2].isdigit() else 1
                pos = int(rest[3]) if len(rest) > 3 and rest[3].isdigit() else 1
                fs.tier_add(q, ag_name, level, pos)
                return "+OK\n"
            if action == "del" and len(rest) >= 2:
                fs.tier_del(rest[0], rest[1])
                return "+OK\n"
            if action == "set" and len(rest) >= 4:
                key, q, ag_name, value = rest[0], rest[1], rest[2], " ".join(rest[3:])
                tier = next((t for t in fs.tiers if t.queue == q and t.agent == ag_name), None)
                if tier is None:
                    return "-ERR Tier not found!\n"
                if key == "state":
                    tier.state = value
                elif key in ("level", "position"):
                    setattr(tier, key, int(value) if value.isdigit() else 1)
                else:
                    return "-ERR Unknown Tier Key!\n"
                return "+OK\n"
            if action == "list":
                return _table(TIER_FIELDS, [f"{t.queue}|{t.agent}|{t.state}|{t.level}|{t.position}" for t in fs.tiers])
            return CALLCENTER_USAGE
        if target == "queue":
            if action == "list":
                if not rest:
                    rows = [f"{q.name}|{q.strategy}|local_stream://moh|system|false|300|true|false|60|false|0|0|5||"
                            f"{q.completed}|{q.abandoned}|0|true|On Break"
                            for q in self.model.queues.values() if "@" in q.name]
                    return _table(QUEUE_FIELDS, rows)
                what, qname = rest[0], rest[1] if len(rest) > 1 else ""
                if what == "agents":
                    names = [t.agent for t in fs.tiers if t.queue == qname]
                    ags = [fs.agents[n] for n in names if n in fs.agents]
                    if len(rest) > 2:
                        ags = [ag for ag in ags if ag.status == rest[2]]
                    if len(rest) > 3:
                        ags = [ag for ag in ags if ag.state == rest[3]]
                    return _table(AGENT_FIELDS, [ag.row() for ag in ags])
                if what == "tiers":
                    return _table(TIER_FIELDS, [f"{t.queue}|{t.agent}|{t.state}|{t.level}|{t.position}"
                                                for t in fs.tiers if t.queue == qname])
                if what == "members":
                    rows = [f"{m.queue}|single_box|{m.uuid}|{m.session_uuid}|{m.cid_number}|{m.cid_name}|"
                            f"{m.joined}|{m.joined}|0|{m.bridge}|0|{int(time.time()) - m.joined}|0|"
                            f"{m.serving_agent}|{'single_box' if m.serving_agent else ''}|{m.state}|"
                            f"{int(time.time()) - m.joined}"
                            for m in fs.cc_members.values() if m.queue == qname]
                    return _table(MEMBER_FIELDS, rows)
                return CALLCENTER_USAGE
            if action == "count":
                if not rest:
                    return "-ERR Invalid!\n"
                what, qname = rest[0], rest[1] if len(rest) > 1 else ""
                if what == "agents":
                    ags = [fs.agents[t.agent] for t in fs.tiers if t.queue == qname and t.agent in fs.agents]
                    if len(rest) > 2:
                        ags = [ag for ag in ags if ag.status == rest[2]]
                    if len(rest) > 3:
                        ags = [ag for ag in ags if ag.state == rest[3]]
                    return f"{len(ags)}\n"
                if what == "members":
                    return f"{sum(1 for m in fs.cc_members.values() if m.queue == qname)}\n"
                if what == "tiers":
                    return f"{sum(1 for t in fs.tiers if t.queue == qname)}\n"
                return "-ERR Invalid!\n"
            if action in ("load", "unload", "reload"):
                return "+OK\n"
        return CALLCENTER_USAGE

    # ------------------------------------------------------------------ conference

    def _conf(self, name: str) -> Any:
        return self.model.conferences.get(name)

    def _members(self, conf: Any) -> list[tuple[Any, Any]]:
        out = []
        for uid, p in conf.participants.items():
            ch = self.model.channels.get(uid)
            if ch is not None:
                out.append((p, ch))
        return sorted(out, key=lambda pc: pc[0].member_id)

    def _flags(self, conf: Any, p: Any, ch: Any) -> list[str]:
        flags = []
        if ch.uniqueid not in self.fs.deaf:
            flags.append("hear")
        if not p.muted:
            flags.append("speak")
        if p.talking or (not p.muted and self._floor(conf) is p):
            flags.append("talking")
        if self._floor(conf) is p:
            flags.append("floor")
        if p.admin:
            flags.append("moderator")
        return flags

    def _floor(self, conf: Any) -> Any:
        members = self._members(conf)
        return members[0][0] if members else None

    def _conf_header(self, conf: Any) -> str:
        n = len(conf.participants)
        return (f"+OK Conference {conf.name} ({n} member{'s' if n != 1 else ''} rate: 8000 flags: "
                "running|answered|enforce_min|dynamic|exit_sound|enter_sound|json_status)\n")

    def _conf_lines(self, conf: Any) -> str:
        return "".join(f"{p.member_id};{ch.name};{ch.uuid};{ch.caller_name};{ch.caller_num};"
                       f"{'|'.join(self._flags(conf, p, ch))};0;0;100\n" for p, ch in self._members(conf))

    def _conf_json(self, conf: Any) -> str:
        run = int(time.time() - conf.created)
        members = []
        floor = self._floor(conf)
        for p, ch in self._members(conf):
            flags = {"can_hear": ch.uniqueid not in self.fs.deaf, "can_see": True, "can_speak": not p.muted,
                     "hold": False, "mute_detect": False, "talking": not p.muted and floor is p,
                     "has_video": False, "video_bridge": False, "has_floor": floor is p, "is_moderator": p.admin,
                     "end_conference": False, "mandatory_member_end_conference": False, "pass_digits": False}
            members.append([("type", "caller"), ("id", p.member_id), ("flags", flags), ("uuid", ch.uuid),
                            ("caller_id_name", ch.caller_name), ("caller_id_number", ch.caller_num),
                            ("join_time", int(time.time() - p.joined)), ("last_talking", 0), ("energy", 100),
                            ("volume_in", 0), ("volume_out", 0), ("output-volume", 0), ("input-volume", 0)])
        conf_items: list[tuple[str, Any]] = [
            ("conference_name", conf.name), ("member_count", len(members)), ("ghost_count", 0), ("rate", 8000),
            ("run_time", run), ("conference_uuid", conf.uuid), ("canvas_count", 0), ("max_bw_in", 0),
            ("force_bw_in", 0), ("video_floor_packets", 0), ("locked", conf.locked), ("destruct", False),
            ("wait_mod", any(p.waiting for p in conf.participants.values())), ("audio_always", False),
            ("running", True), ("answered", True),
            ("enforce_min", True), ("bridge_to", False), ("dynamic", True), ("exit_sound", True),
            ("enter_sound", True), ("recording", False), ("video_bridge", False), ("video_floor_only", False),
            ("video_rfc4579", False), ("variables", {}), ("members", members)]
        return _cjson(conf_items, 1)

    def _conf_xml(self, conf: Any) -> str:
        n = len(conf.participants)
        run = int(time.time() - conf.created)
        floor = self._floor(conf)
        out = ['<?xml version="1.0"?>', "<conferences>",
               f'  <conference name="{_xml(conf.name)}" member-count="{n}" ghost-count="0" rate="8000" '
               f'uuid="{conf.uuid}" running="true" answered="true" enforce_min="true" dynamic="true" '
               f'exit_sound="true" enter_sound="true" run_time="{run}">',
               "    <variables></variables>", "    <members>"]
        for p, ch in self._members(conf):
            flags = (("can_hear", ch.uniqueid not in self.fs.deaf), ("can_see", True), ("can_speak", not p.muted),
                     ("mute_detect", False), ("talking", not p.muted and floor is p), ("hold", False),
                     ("has_video", False), ("video_bridge", False), ("has_floor", floor is p),
                     ("is_moderator", p.admin), ("end_conference", False),
                     ("mandatory_member_end_conference", False), ("is_ghost", False))
            out += ['      <member type="caller">', f"        <id>{p.member_id}</id>", "        <flags>"]
            out += [f"          <{k}>{'true' if v else 'false'}</{k}>" for k, v in flags]
            out += ["        </flags>", f"        <uuid>{ch.uuid}</uuid>",
                    f"        <caller_id_name>{_xml(ch.caller_name)}</caller_id_name>",
                    f"        <caller_id_number>{_xml(ch.caller_num)}</caller_id_number>",
                    f"        <join_time>{int(time.time() - p.joined)}</join_time>",
                    "        <last_talking>0</last_talking>", "        <energy>100</energy>",
                    "        <volume_in>0</volume_in>", "        <volume_out>0</volume_out>",
                    "        <output-volume>0</output-volume>", "      </member>"]
        out += ["    </members>", "  </conference>", "</conferences>"]
        return "\n".join(out) + "\n"

    async def conference(self, arg: str, session: Session) -> str:
        words = arg.split()
        if not words:
            return _not_found("conference", arg)
        if words[0] == "list":
            confs = list(self.model.conferences.values())
            if not confs:
                return "+OK No active conferences.\n"
            return "".join(self._conf_header(c) + self._conf_lines(c) for c in confs)
        if words[0] == "json_list":
            confs = list(self.model.conferences.values())
            return "[" + ", ".join(self._conf_json(c) for c in confs) + "]" if confs else "[]"
        conf = self._conf(words[0])
        if conf is None:
            return f"-ERR Conference {words[0]} not found\n"
        sub = words[1] if len(words) > 1 else "list"
        if sub == "list":
            if words[2:3] == ["count"]:
                return str(len(conf.participants))
            return self._conf_lines(conf)
        if sub == "json_list":
            return "[" + self._conf_json(conf) + "]"
        if sub == "xml_list":
            return self._conf_xml(conf)
        if sub in ("mute", "unmute", "deaf", "undeaf", "kick"):
            who = words[2] if len(words) > 2 else ""
            targets = [(p, ch) for p, ch in self._members(conf) if who == "all" or str(p.member_id) == who
                       or (who == "last" and p is self._members(conf)[-1][0])]
            if not targets:
                return f"-ERR Non-Existant ID {who}\n"
            out = []
            for p, ch in targets:
                if sub in ("mute", "unmute"):
                    self.model.conf_mute(conf.name, str(p.member_id), sub == "mute")
                    out.append(f"+OK {sub} {p.member_id}\n")
                elif sub in ("deaf", "undeaf"):
                    if sub == "deaf":
                        self.fs.deaf.add(ch.uniqueid)
                    else:
                        self.fs.deaf.discard(ch.uniqueid)
                    self.server.translator.conf_member_action(conf, p, ch, f"{sub}-member")
                    out.append(f"+OK {sub} {p.member_id}\n")
                else:
                    self.server.translator.conf_member_action(conf, p, ch, "kick-member")
                    out.append(f"+OK kicked {p.member_id}\n")
                    self.model.conf_kick(conf.name, str(p.member_id))
            return "".join(out)
        return _not_found("conference", arg)

    # ------------------------------------------------------------------ db / hash

    async def db(self, arg: str, session: Session) -> str:
        parts = arg.strip().split("/")
        op = parts[0]
        if op == "insert" and len(parts) >= 4:
            self.model.db_put(parts[1], parts[2], "/".join(parts[3:]))
            return "+OK"
        if op == "select" and len(parts) >= 3:
            return self.model.db_get(parts[1], parts[2]) or ""
        if op == "exists" and len(parts) >= 3:
            return "true" if self.model.db_get(parts[1], parts[2]) is not None else "false"
        if op == "delete" and len(parts) >= 3:
            self.model.db_del(parts[1], parts[2])
            return "+OK"
        if op == "count" and len(parts) >= 2:
            return str(sum(1 for fam, _k, _v in self.model.db_tree(parts[1]) if fam == parts[1]))
        if op == "list" and len(parts) >= 2:
            return ",".join(k for fam, k, _v in self.model.db_tree(parts[1]) if fam == parts[1])
        return "!err!"

    async def hash(self, arg: str, session: Session) -> str:
        parts = arg.strip().split("/")
        op = parts[0]
        h = self.fs.hash
        if len(parts) < 3:
            return HASH_USAGE
        key = f"{parts[1]}/{parts[2]}"
        value = "/".join(parts[3:])
        if op == "insert" and len(parts) >= 4:
            h[key] = value
            return "+OK\n"
        if op == "insert_ifempty" and len(parts) >= 4:
            if key in h:
                return "-ERR key already exists\n"
            h[key] = value
            return "+OK\n"
        if op == "select":
            return h.get(key, "")
        if op == "delete":
            if h.pop(key, None) is None:
                return "-ERR Not found\n"
            return "+OK\n"
        if op == "delete_ifmatch" and len(parts) >= 4:
            if h.get(key) == value:
                del h[key]
                return "+OK\n"
            return "-ERR Doesn't match\n"
        return HASH_USAGE

    async def hash_dump(self, arg: str, session: Session) -> str:
        words = arg.split()
        if not words or words[0] not in ("all", "limit", "db"):
            return "Usage: all|limit|db [<realm>]\n"
        realm = words[1] if len(words) > 1 else None
        out = []
        if words[0] in ("all", "db"):
            for k, v in self.fs.hash.items():
                r, _, key = k.partition("/")
                if realm is None or r == realm:
                    out.append(f"D/{r}/{key}/{v}\n")
        return "".join(out)

    # ------------------------------------------------------------------ voicemail

    def _mailbox(self, who: str) -> Any:
        box, _, dom = who.partition("@")
        return self.model.mailboxes.get(f"{box}@{dom or self.domain}")

    def _vm_messages(self, mb: Any) -> list[Any]:
        msgs = list(mb.folder("INBOX")) + list(mb.folder("Old")) + list(mb.folder("Urgent"))
        return sorted(msgs, key=lambda m: (m.origtime, m.msg_id))

    def _vm_path(self, mb: Any, msg: Any) -> str:
        suffix = self.fs.vm_suffix.get(msg.uuid, "")
        return f"/opt/pbx/freeswitch/storage/voicemail/default/{mb.context}/{mb.box}/msg_{msg.uuid}{suffix}.wav"

    def _find_msg(self, mb: Any, uuid: str) -> Any:
        return next((m for m in self._vm_messages(mb) if m.uuid == uuid), None)

    async def vm_boxcount(self, arg: str, session: Session) -> str:
        mb = self._mailbox(arg.split()[0]) if arg.split() else None
        if mb is None:
            return "0"
        return str(len(mb.folder("INBOX")) + len(mb.folder("Urgent")))

    async def vm_list(self, arg: str, session: Session) -> str:
        words = arg.split()
        mb = self._mailbox(words[0]) if words else None
        if mb is None:
            return ""
        rows = []
        for m in self._vm_messages(mb):
            rows.append((str(m.origtime), str(self.fs.read_epoch.get(m.uuid, 0) if m.read else 0), mb.box,
                         mb.context, "inbox", self._vm_path(mb, m), m.uuid, m.caller_name, m.caller_num,
                         str(m.duration)))
        if len(words) > 1 and words[1] == "xml":
            keys = ("created_epoch", "read_epoch", "username", "domain", "folder", "path", "uuid", "cid-name",
                    "cid-number", "message-len")
            out = ["<voicemail>"]
            for r in rows:
                out.append(" <message>")
                out.extend(f"  <{k}>{_xml(v)}</{k}>" for k, v in zip(keys, r, strict=True))
                out.append(" </message>")
            out.append("</voicemail>")
            return "\n".join(out) + "\n"
        return "".join(":".join(r) + "\n" for r in rows)

    async def vm_read(self, arg: str, session: Session) -> str:
        words = arg.split()
        if len(words) < 3:
            return "-ERR Missing required arguments\n"
        mb = self._mailbox(words[0])
        if mb is None:
            return "+OK\n"
        msg = self._find_msg(mb, words[2])
        self.fs.mwi_reason = "READ"
        try:
            if msg is not None and words[1] == "read" and not msg.read:
                self.fs.read_epoch[msg.uuid] = int(time.time())
                self.model.mark_read(mb.box, msg.msg_id, True, context=mb.context)
            elif msg is not None and words[1] == "unread" and msg.read:
                self.fs.read_epoch.pop(msg.uuid, None)
                self.model.mark_read(mb.box, msg.msg_id, False, context=mb.context)
            else:
                self.model.announce_mwi(mb.box, mb.context)
        finally:
            self.fs.mwi_reason = None
        return "+OK\n"

    async def vm_delete(self, arg: str, session: Session) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-ERR Missing required arguments\n"
        mb = self._mailbox(words[0])
        if mb is None:
            return "+OK\n"
        msg = self._find_msg(mb, words[1])
        # mod_voicemail answers first and updates MWI afterwards (the events trail the reply in 14_voicemail_api)
        loop = asyncio.get_running_loop()

        def later() -> None:
            self.fs.mwi_reason = "DELETE"
            try:
                if msg is not None and self._find_msg(mb, msg.uuid) is not None:
                    self.model.delete_message(mb.box, msg.folder, msg.uuid, context=mb.context)
                else:
                    self.model.announce_mwi(mb.box, mb.context)
            finally:
                self.fs.mwi_reason = None
        loop.call_soon(later)
        return "+OK\n"

    async def vm_inject(self, arg: str, session: Session) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-ERR Missing required arguments\n"
        mb = self._mailbox(words[0])
        if mb is None:
            return "-ERR no reply\n"
        num = words[2] if len(words) > 2 else "anonymous"
        name = " ".join(words[3:]) if len(words) > 3 else num
        base = words[1].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        self.fs.mwi_reason = "NEW"
        self.fs.vm_pending_suffix = f"_broadcast_{base}"
        try:
            self.model.leave_voicemail(mb.box, caller_id=f'"{name}" <{num}>', duration=4, context=mb.context)
        finally:
            self.fs.mwi_reason = None
            self.fs.vm_pending_suffix = ""
        return "+OK\n"

    async def vm_fsdb_msg_count(self, arg: str, session: Session) -> str:
        words = arg.split()
        if len(words) < 5:
            return "-ERR Missing Arguments\n"
        mb = self.model.mailboxes.get(f"{words[3]}@{words[2]}")
        new = len(mb.folder("INBOX")) if mb else 0
        saved = len(mb.folder("Old")) if mb else 0
        ev = self.server.factory.make("REQUEST_PARAMS", [
            ("VM-Total-New-Messages", str(new)), ("VM-Total-New-Urgent-Messages", "0"),
            ("VM-Total-Saved-Messages", str(saved)), ("VM-Total-Saved-Urgent-Messages", "0")],
            calling=("mod_voicemail.c", "vm_fsdb_msg_count_function", 6175))
        # the sequence number of a REQUEST_PARAMS never fired is still taken from the same counter
        return ev.json().decode() if words[0] == "json" else ev.plain().decode()

    # ------------------------------------------------------------------ calls

    async def originate(self, arg: str, session: Session) -> str:
        # switch_separate_string at spaces: paired single quotes keep a spaced value in one word
        # ({origination_caller_id_name='Chloé Dubé'}user/...) and are removed
        words = [w for w in separate_string(arg, " ", 64) if w]
        if len(words) < 2:
            return ORIGINATE_USAGE
        url, target_app = words[0], words[1]
        variables: dict[str, str] = {}
        m = re.match(r"^[{<\[](.*?)[}>\]](.*)$", url)
        if m:
            for kv in m.group(1).split(","):
                k, _, v = kv.partition("=")
                variables[k.strip()] = v.strip()
            url = m.group(2)
        tech, _, rest = url.partition("/")
        if tech == "user":
            user, domain = _split_user(rest)
        elif tech == "sofia":
            user, domain = _split_user(rest.split("/", 1)[-1])
        else:
            return "-ERR CHAN_NOT_IMPLEMENTED\n"
        # A user of that domain only (tenants are domains on FreeSWITCH): another domain's 201 is absent.
        ep = self.model.find_user(user, domain if tech == "user" else "")
        if ep is None:
            return "-ERR SUBSCRIBER_ABSENT\n"
        user = ep.ext
        if not ep.registered:
            return "-ERR USER_NOT_REGISTERED\n"
        app = data = exten = None
        if target_app.startswith("&"):
            am = re.match(r"&([^(]+)(?:\((.*)\))?", target_app)
            app = am.group(1) if am else target_app[1:]
            data = (am.group(2) if am else None) or ""
        else:
            exten = target_app
        context = words[3] if len(words) > 3 else "default"
        cid = None
        if len(words) > 5:
            cid = f'"{words[4]}" <{words[5]}>'
        # what the rung phone is shown (FreeSWITCH puts the originate's caller id in the INVITE's From); the
        # channel's own caller id stays the user's (their directory entry)
        shown = None
        if variables.get("origination_caller_id_number"):
            shown = (variables["origination_caller_id_number"], variables.get("origination_caller_id_name", ""))
        timeout = variables.get("originate_timeout")
        answer = ep.auto_answer
        if not answer and timeout and timeout.isdigit():
            # an unanswered originate only gives up when its timeout runs out, as FreeSWITCH does
            await asyncio.sleep(min(float(timeout), self.server.originate_timeout_cap))
        self.fs.calls_out += 1
        self.fs.originating = True
        self.fs.originate_vars = variables
        try:
            res = self.model.originate(user, exten=exten, context=context, caller_id=cid, application=app,
                                       data=data, answer=answer, connected=shown)
        finally:
            self.fs.originating = False
            self.fs.originate_vars = {}
        if not res.success:
            from ..model import cause_name
            return f"-ERR {cause_name(res.cause)}\n"
        if exten:
            # The answered leg then runs the dialplan for exten@context and dials it, as FreeSWITCH
            # does once the api response is out (click-to-call rings the number after the caller).
            asyncio.get_running_loop().call_soon(self.model.originate_continue, res, exten, context)
        return f"+OK {res.channel.uuid}\n"

    def _chan_by_uuid(self, uuid: str) -> Any:
        for ch in self.model.channels.values():
            if ch.uuid == uuid:
                return ch
        return None

    async def uuid_kill(self, arg: str, session: Session) -> str:
        words = arg.split()
        if not words:
            return "-USAGE: <uuid> [cause]\n"
        ch = self._chan_by_uuid(words[0])
        if ch is None:
            return "-ERR No such channel!\n"
        from ..model import CAUSES
        cause = 16
        if len(words) > 1:
            cause = next((c for c, (_t, n) in CAUSES.items() if n == words[1].upper()), 16)
        self.model.hangup(ch, cause=cause)
        return "+OK\n"

    async def uuid_exists(self, arg: str, session: Session) -> str:
        return "true" if arg.split() and self._chan_by_uuid(arg.split()[0]) is not None else "false"

    async def uuid_getvar(self, arg: str, session: Session) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <var>\n"
        ch = self._chan_by_uuid(words[0])
        if ch is None:
            return "-ERR No such channel!\n"
        value = self.server.translator.channel_variables(ch).get(words[1])
        return "_undef_" if value is None else value

    async def chat(self, arg: str, session: Session) -> str:
        # mod_dptools: switch_separate_string(cmd, '|', argv, 5), the 5th being the content type.
        parts = separate_string(arg, "|", 5)
        if len(parts) < 4:
            return "Invalid"
        proto, from_, to, body = parts[:4]
        if proto not in ("sip", "global"):
            return "Error! Message Not Sent"
        # mod_sofia reads `to` as [profile/]user@host; without a profile the host must name one (or an alias).
        user_part, _, host = to.partition("@")
        prof, slash, user = user_part.rpartition("/")
        # A tenant's directory domain is no profile alias (the stock internal profile has `<domain name="all"
        # alias="false"/>`: FreeSWITCH 1.10.12 answered "Invalid Profile <tenant domain>", tests/real/
        # test_sms_real.py); a phone of a hosted domain is that domain's user only, never another domain's.
        hosted = {e.domain or self.domain for e in self.model.endpoints.values()}
        if (prof if slash else host) not in {PROFILE, self.domain}:
            return "Error! Message Not Sent"
        if host in hosted:  # a phone: the model's endpoint, whatever profile named it
            ep = self.model.endpoints.get(user)
            if ep is None or (ep.domain or self.domain) != host:
                return "Error! Message Not Sent"
            to = f"{user}@{host}"
        content_type = parts[4] if len(parts) > 4 and parts[4] else "text/html"  # mod_sofia's default
        msg = self.model.send_message(to, from_, body, destination=f"sip:{to}",
                                      variables={"content_type": content_type})
        return "Sent" if msg.delivered else "Error! Message Not Sent"


# ---------------------------------------------------------------------- helpers


_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def separate_string(buf: str, delim: str, max_parts: int) -> list[str]:
    """FreeSWITCH's switch_separate_string for a delimiter other than a space: a backslash escapes the
    next character and paired single quotes protect delimiters; past `max_parts - 1` splits the rest stays
    in the last part. Each part is then cleaned as cleanup_separated_string does."""
    parts: list[str] = []
    cur: list[str] = []
    inside = False
    i = 0
    while i < len(buf):
        c = buf[i]
        if c == "\\" and i + 1 < len(buf):
            cur += [c, buf[i + 1]]
            i += 2
            continue
        if c == "'" and (inside or "'" in buf[i + 1:]):
            inside = not inside
        elif c == delim and not inside and len(parts) < max_parts - 1:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [_cleanup_separated(p, delim) for p in parts]


def _cleanup_separated(s: str, delim: str) -> str:
    s = s.lstrip(" ")
    out: list[str] = []
    end: int | None = None
    inside = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            e = s[i + 1]
            if e in ("'", '"', delim, "\\") or e in _UNESCAPE:
                out.append(_UNESCAPE.get(e, e) if e not in ("'", '"', delim, "\\") else e)
                end = len(out)
                i += 2
                continue
        if c == "'" and (inside or "'" in s[i + 1:]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(c)
            if c != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end] if end is not None else out)


def _table(header: str, rows: list[str]) -> str:
    """mod_callcenter's list output: header and rows only when there are rows, always ending with +OK."""
    if not rows:
        return "+OK\n"
    return header + "\n" + "".join(r + "\n" for r in rows) + "+OK\n"


def _xml(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _callstate(ch: Any) -> str:
    if ch.answered is not None or ch.state.name == "UP":
        return "ACTIVE"
    if ch.state.name in ("RINGING", "RING"):
        return "RINGING"
    return "DOWN"


def _fs_app(app: str) -> str:
    return {"Dial": "bridge", "Queue": "callcenter", "ConfBridge": "conference", "VoiceMail": "voicemail",
            "Answer": "answer"}.get(app, app.lower())


def _cjson(value: Any, depth: int) -> str:
    """cJSON_Print's formatted output: tabs for indentation, ':\\t' between key and value."""
    ind = "\t" * depth
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        items = [f'{ind}\t"{k}":\t{_cjson(v, depth + 1)}' for k, v in value]
        return "{\n" + ",\n".join(items) + f"\n{ind}}}"
    if isinstance(value, dict):
        if not value:
            return "{\n" + f"{ind}}}"
        return _cjson(list(value.items()), depth)
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[" + ", ".join(_cjson(v, depth + 1) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _not_found(cmd: str, arg: str) -> str:
    """What the sim answers for a form of a known command it does not model: FreeSWITCH's unknown-command text
    (nothing invented that a client could mistake for real output)."""
    return f"-ERR {cmd} {arg} Command not found!\n".replace("  ", " ")
