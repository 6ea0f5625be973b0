"""The configuration dialplan/ generates, loaded by the real Asterisk 22 of the lab through the adapter's
reload (issue 19 item 5: `clusterpbx dialplan apply` could not reload Asterisk at all)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from clusterpbx.dialplan.render import render_node, write_files
from tests.dialplan.sample import acme
from tests.real.test_asterisk_events import adapter_for

pytestmark = pytest.mark.real


def test_generated_files_load_and_reload_module_by_module(asterisk_lab, tmp_path):
    target = Path(asterisk_lab["CPBX_LAB_AST_CONFIG_DIR"])
    saved = tmp_path / "saved"
    shutil.copytree(target, saved)
    try:
        changed = [p.name for p in write_files(render_node(acme("asterisk")), target)]
        assert "pjsip_clusterpbx.conf" in changed and "extensions_clusterpbx.conf" in changed

        async def scenario() -> tuple[list[str], list[str]]:
            adapter = adapter_for(asterisk_lab)
            await adapter.start()
            try:
                await adapter.reload_configuration(changed)
                endpoints = await adapter._action({"Action": "PJSIPShowEndpoints"}, as_list=True)
                names = [e.get("objectname", "") for e in adapter._items(endpoints, "EndpointList")]
                queues = await adapter._action({"Action": "QueueSummary"}, as_list=True)
                queue_names = [q.get("queue", "") for q in adapter._items(queues, "QueueSummary")]
                plan = await adapter._action({"Action": "ShowDialPlan", "Context": "cpbx-acme"}, as_list=True)
                assert adapter._items(plan, "ListDialplan"), "the tenant's context is not loaded"
                return names, queue_names
            finally:
                await adapter.stop()

        endpoints, queues = asyncio.run(scenario())
        # What the sample tenant declares is what the real PBX now knows.
        assert {"acme101", "acme101-desk"} <= set(endpoints), endpoints
        assert "cpbx-acme-support" in queues, queues
    finally:
        for f in target.iterdir():
            f.unlink()
        for f in saved.iterdir():
            shutil.copy(f, target / f.name)

        async def restore() -> None:
            adapter = adapter_for(asterisk_lab)
            await adapter.start()
            await adapter.reload_configuration()
            await adapter.stop()

        asyncio.run(restore())
