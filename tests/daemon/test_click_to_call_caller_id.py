"""Click-to-call rings the user's own phone first: the daemon tells the PBX what that phone shows, whom
the user is about to call (issue 19 item 4: a real Asterisk showed "Anonymous", FreeSWITCH a bare
number), in the tenant's context."""

from __future__ import annotations

import asyncio

from clusterpbx.control.commands import ControlClient
from tests.daemon.test_daemon import SECRET, allow_montreal, daemon_for, make_node
from tests.fakes import FakePbx


def test_the_users_phone_shows_the_colleague_or_the_number_it_is_about_to_call(engine, db, world):
    node, tenant = make_node(db, world)
    other = world.tenant("other.test")
    other.node_id = node.id
    db.commit()
    world.user(other, extension="203", first_name="Not", last_name="Mine")  # another company's 203, first
    user = world.user(tenant, extension="201")
    colleague = world.user(tenant, extension="203", first_name="Chloé", last_name="Dubé")
    allow_montreal(db, user)
    fake = FakePbx()

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        client = ControlClient("127.0.0.1", d.port, SECRET, timeout=3)
        for number in ("203", "514 907 9050"):
            await asyncio.to_thread(client.call, "click_to_call", user_id=user.id, number=number)
        await d.stop()

    asyncio.run(scenario())
    assert colleague.tenant_id == user.tenant_id
    # a colleague by name (the company's own 203), an outside number by number
    assert fake.originate_caller_ids == ['"Chloé Dubé" <203>', "5149079050"]
    assert fake.originates == [("201", "203"), ("201", "5149079050")]
