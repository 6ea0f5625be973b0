"""AstDB actions: DBPut, DBGet, DBGetTree, DBDel, DBDelTree.

Mixed into AmiServer (sim/ami/server.py): ``self`` is the server."""
from __future__ import annotations

from ..wire import Request, Session


class AstDbActions:
    def act_dbput(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        if not fam:
            self.error(s, req, "No family specified")
            return
        if not key:
            self.error(s, req, "No key specified")
            return
        self.model.db_put(fam, key, req.get("Val"))
        self.ok(s, req, "Updated database successfully")

    def act_dbget(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        if not fam:
            self.error(s, req, "No family specified.")
            return
        if not key:
            self.error(s, req, "No key specified.")
            return
        val = self.model.db_get(fam, key)
        if val is None:
            self.error(s, req, "Database entry not found")
            return
        self._list(s, req, "Result will follow", [[("Event", "DBGetResponse"), ("Family", fam), ("Key", key),
                                                   ("Val", val), *self._aid(req)]], "DBGetComplete")

    def act_dbgettree(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        rows = self.model.db_tree(fam or None, key or None)
        # An empty tree is an empty list, not an error (db.c manager_dbgettree).
        items = [[("Event", "DBGetTreeResponse"), ("Key", f"/{f}/{k}"), ("Val", v), *self._aid(req)]
                 for f, k, v in rows]
        self._list(s, req, "Result will follow", items, "DBGetTreeComplete")

    def act_dbdel(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        if not fam:
            self.error(s, req, "No family specified.")
            return
        if not key:
            self.error(s, req, "No key specified.")
            return
        if not self.model.db_del(fam, key):
            self.model.warnings.append(f"AstDB key /{fam}/{key} does not exist")  # Asterisk logs it too
            self.error(s, req, "Database entry could not be deleted")
            return
        self.ok(s, req, "Key deleted successfully")

    def act_dbdeltree(self, s: Session, req: Request) -> None:
        fam = req.get("Family")
        if not fam:
            self.error(s, req, "No family specified.")
            return
        if self.model.db_deltree(fam, req.get("Key") or None) == 0:
            self.error(s, req, "Database entry not found")
            return
        self.ok(s, req, "Key tree deleted successfully")
