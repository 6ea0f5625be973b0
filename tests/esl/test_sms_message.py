"""SMS through FreeSWITCH's `chat` with the real adapter against sim/: to a trunk host the profile must be
named (mod_sofia reads a bare `@host` as a profile name), to a local user it is the box's domain."""

from __future__ import annotations

import pytest

from clusterpbx.control.port import PbxEvent, PbxRefused
from clusterpbx.control.validation import InvalidValue
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim.runner import SimPBX

from .test_operations import with_adapter


def test_sms_to_a_trunk_host_names_the_profile(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, _events: list[PbxEvent]) -> None:
        await a.send_message("1002", "+15149079050", "Patron, on vous attend", trunk="sms.example.net")
        msg = sim.call_soon(lambda: sim.model.messages[-1])
        assert msg.to == "internal/+15149079050@sms.example.net" and msg.from_ == "1002@127.0.0.1"
        assert msg.body == "Patron, on vous attend"
        with pytest.raises(InvalidValue):
            await a.send_message("1002", "+15149079050", "hi", trunk="sms.example.net|x")

    with_adapter(sim, scenario)


def test_sms_profile_option_and_a_profile_the_box_does_not_have(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, _events: list[PbxEvent]) -> None:
        assert a.sms_profile == "external"
        with pytest.raises(PbxRefused):  # the sim, like a box without that profile, does not send
            await a.send_message("1002", "+15149079050", "hi", trunk="sms.example.net")

    with_adapter(sim, scenario, sms_profile="external")


def test_line_breaks_quotes_and_pipes_survive_freeswitchs_argument_splitter(sim: SimPBX) -> None:
    text = "Rendez-vous à l'écran d'accueil\nligne | deux \\ \"fin\""

    async def scenario(a: FreeSwitchAdapter, _events: list[PbxEvent]) -> None:
        await a.send_message("1002", "+15149079050", text, trunk="sms.example.net")
        msg = sim.call_soon(lambda: sim.model.messages[-1])
        assert msg.body == text and msg.variables["content_type"] == "text/plain"

    with_adapter(sim, scenario)


def test_the_sim_splits_chat_arguments_as_freeswitch_does() -> None:
    from clusterpbx.sim.esl.api import separate_string

    # Unescaped, FreeSWITCH eats paired apostrophes and cuts at the first pipe (the rest is the content type).
    assert separate_string("sip|a|b|l'écran d'accueil | suite", "|", 5) == ["sip", "a", "b", "lécran daccueil", "suite"]
    assert separate_string("sip|a|b|x \\| y\\nz|text/plain", "|", 5) == ["sip", "a", "b", "x | y\nz", "text/plain"]
