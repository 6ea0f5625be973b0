"""Against the real FreeSWITCH 1.10 of the lab: call-setting keys are the tenant's (issue 21), under
``<number>@<tenant domain>`` whatever the node's own domain, and keys of the layout before tenants had
names on the PBX (``<number>@<node domain>``) move to them once, keys already there winning."""

from __future__ import annotations

import asyncio

import pytest

from clusterpbx.control.port import ExtensionFeatures, NodeAddress
from clusterpbx.dialplan import keys
from clusterpbx.esl.adapter import FreeSwitchAdapter

pytestmark = pytest.mark.real
NODE_DOMAIN = "127.0.0.1"


def test_tenant_keys_and_their_move_on_the_real_freeswitch(freeswitch_lab):
    async def scenario() -> dict[str, str]:
        adapter = FreeSwitchAdapter(NodeAddress(host=freeswitch_lab["CPBX_LAB_ESL_HOST"],
                                                port=int(freeswitch_lab["CPBX_LAB_ESL_PORT"]),
                                                secret=freeswitch_lab["CPBX_LAB_ESL_PASSWORD"], timeout=5.0,
                                                sip_domain=NODE_DOMAIN, extra={"context": "default"}))
        await adapter.start()
        names = [("acme", "4711"), ("beta", "4711"), ("acme", "4712")]
        try:
            for realm, key in [k for _t, n in names for k in keys.freeswitch_key_names(n, f"{_t}.test")] + \
                    keys.freeswitch_key_names("4712", NODE_DOMAIN):
                await adapter.api(f"db delete/{realm}/{key}")
            await adapter.write_features("4711@acme.test", ExtensionFeatures(dnd=True, forward_busy="5145550001"))
            await adapter.write_features("4711@beta.test", ExtensionFeatures(dnd=False))
            # The old layout: 4712 in the node's domain, DND set on the phone.
            await adapter.write_features("4712", ExtensionFeatures(dnd=True))
            first = await adapter.move_features("4712", "4712@acme.test")
            again = await adapter.move_features("4712", "4712@acme.test")
            got = {
                "acme": (await adapter.read_features("4711@acme.test")).dnd,
                "acme_cfb": (await adapter.read_features("4711@acme.test")).forward_busy,
                "beta": (await adapter.read_features("4711@beta.test")).dnd,
                "moved": (await adapter.read_features("4712@acme.test")).dnd,
                "old": await adapter._db_select("cpbx_dnd", f"4712@{NODE_DOMAIN}"),
                "raw": await adapter._db_select("cpbx_dnd", "4711@acme.test"),
                "counts": (first, again),
            }
            for realm, key in [k for _t, n in names for k in keys.freeswitch_key_names(n, f"{_t}.test")]:
                await adapter.api(f"db delete/{realm}/{key}")
            return got  # type: ignore[return-value]
        finally:
            await adapter.stop()

    got = asyncio.run(scenario())
    assert got["acme"] is True and got["acme_cfb"] == "5145550001" and got["beta"] is False
    assert got["raw"] == "true"  # what ${db(select/cpbx_dnd/${cpbx_ext}@acme.test)} reads
    assert got["moved"] is True and got["old"] == ""
    first, again = got["counts"]
    assert first > 0 and again == 0
