"""Click-to-call's first leg on FreeSWITCH (issue 19 item 4): the user's phone is shown whom it is about to
call, a name with spaces and all (the real FreeSWITCH 1.10 splits the originate line at spaces outside
single quotes: tests/real/test_click_to_call.py), while the call to the callee keeps the user's own caller
id. The embedded PBX splits the line as FreeSWITCH does."""

from __future__ import annotations

from clusterpbx.control.port import PbxEvent
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim import model as M
from clusterpbx.sim.runner import SimPBX

from .conftest import eventually
from .test_multi_domain import add_tenants, channels_of
from .test_operations import with_adapter


def test_the_users_phone_is_shown_the_callee_and_the_callee_the_user(sim: SimPBX) -> None:
    add_tenants(sim)
    shown: list[tuple[str, str]] = []

    def watch(e: M.ModelEvent) -> None:
        if isinstance(e, M.ConnectedLineChanged) and e.channel.endpoint == "201-t2":
            shown.append((e.channel.connected_num, e.channel.connected_name))

    sim.call_soon(sim.model.subscribe, watch)

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        await a.click_to_call("201-t2@beta.example", "202", caller_id='"Dubé, Chloé {x}" <202>', context="cpbx-beta")
        assert await eventually(lambda: bool(channels_of(sim, "202-t2")))
        (first,) = channels_of(sim, "201-t2")
        # shown on the user's phone while it rings: the callee (commas and brackets cannot travel on the
        # originate line)
        assert shown and shown[0] == ("202", "Dubé Chloé x"), shown
        # the user stays the caller
        assert (first.caller_num, first.caller_name) == ("201-t2", "beta 201")

    with_adapter(sim, scenario)
