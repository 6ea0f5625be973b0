"""mod_callcenter reads its queues, agents and tiers when it loads, never on reloadxml (FreeSWITCH 1.10.12,
tests/real/test_queues_real.py: a queue the portal created stayed unknown, and an agent's logout answered
"-ERR Agent not found!"). After the generated callcenter files change, the adapter loads each queue of the
configuration (``queue load`` reads the queue, every agent and the queue's tiers), reloads the ones already
there and unloads ours the configuration no longer has; other files changing touch no queue."""

from __future__ import annotations

from .conftest import adapter_for, run
from .rawserver import RawServer, api_response, default_responder

# What xml_locate answered on the lab (abridged): the generated queue and the stock one.
CALLCENTER_CONF = """<configuration name="callcenter.conf" description="CallCenter">
  <settings></settings>
    <queues>
      <queue name="cpbx-both-support">
          <param name="strategy" value="ring-all"></param>
  </queue>
      <queue name="cpbx-both-sales">
          <param name="strategy" value="ring-all"></param>
  </queue>
        <queue name="support@default">
            <param name="strategy" value="longest-idle-agent"></param>
    </queue>
  </queues>
    <agents>
      <agent name="both-202" type="callback" contact="[leg_timeout=10]loopback/202/cpbx-both-leg"></agent>
  </agents>
</configuration>
"""
LOADED = ("name|strategy|moh_sound\nsupport@default|longest-idle-agent|local_stream://moh\n"
          "cpbx-both-sales|ring-all|local_stream://moh\ncpbx-both-gone|ring-all|local_stream://moh\n+OK\n")


def responder(command: str) -> bytes | None:
    if command.startswith("api xml_locate configuration configuration name callcenter.conf"):
        return api_response(CALLCENTER_CONF)
    if command.startswith("api callcenter_config queue list"):
        return api_response(LOADED)
    if command.startswith("api callcenter_config tier list"):
        return api_response("queue|agent|state|level|position\n+OK\n")
    return default_responder(command)


def callcenter_commands(raw: RawServer) -> list[str]:
    return [c.split("\n")[0] for c in raw.commands if c.startswith("api callcenter_config queue ")
            and not c.startswith("api callcenter_config queue list")]


def test_changed_callcenter_files_load_new_queues_reload_known_ones_and_unload_removed_ones(raw: RawServer):
    raw.responder = responder

    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            await a.reload_configuration(["dialplan_clusterpbx.xml"])
            assert callcenter_commands(raw) == []
            await a.reload_configuration(["callcenter_queues_clusterpbx.xml", "dialplan_clusterpbx.xml"])
        finally:
            await a.stop()

    run(go())
    assert callcenter_commands(raw) == [
        "api callcenter_config queue reload cpbx-both-sales",
        "api callcenter_config queue load cpbx-both-support",
        "api callcenter_config queue reload support@default",
        "api callcenter_config queue unload cpbx-both-gone",
    ]


def test_logging_out_an_agent_mod_callcenter_does_not_know_is_no_error(sim):
    """A real FreeSWITCH answers "-ERR Agent not found!" to ``agent set status`` of an unknown agent (the
    embedded PBX said "-ERR Invalid Agent!"): the portal's logout of such an agent has nothing to undo."""
    from .test_operations import with_adapter

    async def scenario(a, events) -> None:
        assert "Agent not found" in await a.api("callcenter_config agent set status nobody-202 'Logged Out'",
                                                ok=("-ERR",))
        await a.queue_logout("support@default", "nobody-202")

    with_adapter(sim, scenario)
