"""Reload and the CLI commands the sim knows (Action: Command).

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

from collections.abc import Callable

from ..recorded import RELOADABLE_MODULES
from ..wire import VERSION_LINE, Request, Session


class CliActions:
    def act_reload(self, s: Session, req: Request) -> None:
        module = req.get("Module")
        if module and module not in RELOADABLE_MODULES:
            self.error(s, req, "No such module")
            return
        self.ok(s, req, "Module Reloaded")
        self.model.reload(module or None)

    def act_command(self, s: Session, req: Request) -> None:
        cmd = req.get("Command")
        if not cmd:
            self.error(s, req, "No command provided")
            return
        words = cmd.split()
        out: list[str] | None = None
        after: Callable[[], None] | None = None
        if words == ["core", "show", "version"]:
            out = [VERSION_LINE]
        elif words == ["dialplan", "reload"]:
            out = ["Dialplan reloaded."]
        elif words[:2] == ["module", "reload"] and len(words) == 3 and words[2] in RELOADABLE_MODULES:
            out = [f"Module '{words[2]}' reloaded successfully."]
            mod = words[2]

            def after() -> None:
                self.model.reload(mod)
        elif words == ["voicemail", "reload"]:
            out = ["Reloading voicemail configuration..."]
            after = self.model.announce_mwi
        elif words == ["pjsip", "show", "contacts"]:
            out = self._cli_contacts()
        elif words[:2] == ["database", "show"] and len(words) <= 4:
            rows = self.model.db_tree(words[2] if len(words) > 2 else None, words[3] if len(words) > 3 else None)
            out = [f"{'/' + f + '/' + k:<50}: {v:<25}" for f, k, v in rows] + [f"{len(rows)} results found."]
        elif words == ["confbridge", "show", "profile", "bridges"]:
            out = ["--------- Bridge Profiles -----------", "default_bridge"]
        elif words == ["confbridge", "show", "profile", "users"]:
            out = ["--------- User Profiles -----------", "default_user"]
        if out is None:
            self._respond(s, req, "Error", [
                ("Message", "Command output follows"),
                ("Output", f"No such command '{cmd}' (type 'core show help {cmd}' for other possible commands)")])
            return
        self.ok(s, req, "Command output follows", [("Output", line) for line in out])
        if after is not None:
            after()

    def _cli_contacts(self) -> list[str]:
        lines = ["", "  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>",
                 "=" * 90, ""]
        n = 0
        for ep in self.model.endpoints.values():
            reg = ep.registration if ep.registered else None
            if reg is None:
                continue
            n += 1
            lines.append(f"  Contact:  {ep.ext + '/' + reg.contact:<46} {reg.contact_hash[:10]} NonQual         nan")
        return [*lines, "", f"Objects found: {n}", ""]
