"""Against the real Asterisk 22 of the lab (issue 19 item 9): every push of a user's settings deletes the
AstDB keys of the features that are off, and AMI DBDel of an absent key makes Asterisk log "AstDB key ...
does not exist" (main/db.c ast_db_del2): about ten warnings per user at every resync. The adapter's push
must leave the log quiet while still removing keys that are there."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import ExtensionFeatures, NodeAddress

pytestmark = pytest.mark.real


def test_pushing_settings_that_are_off_logs_no_astdb_warning(asterisk_lab: dict[str, str]):
    log = Path(asterisk_lab["CPBX_LAB_AST_CDR_CSV"]).parents[1] / "messages.log"
    assert log.exists(), log
    start = log.stat().st_size
    adapter = AsteriskAdapter(NodeAddress(host=asterisk_lab["CPBX_LAB_AMI_HOST"],
                                          port=int(asterisk_lab["CPBX_LAB_AMI_PORT"]),
                                          username=asterisk_lab["CPBX_LAB_AMI_USER"],
                                          secret=asterisk_lab["CPBX_LAB_AMI_SECRET"], timeout=5.0))
    owner = "quiet-4790"  # a tenant's feature owner (control/pbxnames.py), nobody else's on the lab

    async def scenario() -> tuple[ExtensionFeatures, ExtensionFeatures]:
        await adapter.start()
        try:
            await adapter.write_features(owner, ExtensionFeatures(dnd=True, forward_always="0612345678",
                                                                  call_waiting=True))
            on = await adapter.read_features(owner)
            for _ in range(2):  # two resyncs: nothing to delete the second time
                await adapter.write_features(owner, ExtensionFeatures())
            return on, await adapter.read_features(owner)
        finally:
            await adapter.stop()

    on, off = asyncio.run(scenario())
    assert on.dnd and on.forward_always == "0612345678" and on.call_waiting
    assert off == ExtensionFeatures()
    with log.open("rb") as f:
        f.seek(start)
        written = f.read().decode(errors="replace")
    assert "does not exist" not in written, [line for line in written.splitlines() if "does not exist" in line]
