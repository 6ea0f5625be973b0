"""Follow-me on the real Asterisk 22 of the lab (issue 19 item 8), with the configuration dialplan/
generates and SIPp phones: the guide says calls to the extension go *also* to the follow-me numbers, and
the portal's "Délai pour que les appareils sonnent" is how long the user's own phone rings before them.
Before the fix the own phone never rang (prering was always 0 and the portal's delay went to grptime).

The settings are written by AsteriskAdapter.write_features, as the daemon does when the portal saves them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clusterpbx.control.port import ExtensionFeatures
from tests.real import asterisk_calls as ac

pytestmark = pytest.mark.real
DELAY = 4


def run(env: dict[str, str], sipp: str, tmp_path: Path, modes: dict[str, str], features: ExtensionFeatures,
        hold_ms: int = 2000):
    async def scenario():
        async with ac.company(env, tmp_path) as (adapter, records):
            await adapter.write_features(f"{ac.PREFIX}204", features)
            with ac.phones(sipp, env, modes) as devices:
                result = await ac.call(sipp, env, devices, "201", "204", hold_ms, timeout=90)
                reports = await ac.settle(records)
            return result, devices, ac.rows_by_number(reports)

    return asyncio.run(scenario())


def test_the_own_phone_rings_first_then_the_follow_me_number_too(asterisk_lab, sipp, tmp_path):
    features = ExtensionFeatures(followme_enabled=True, followme_numbers=("205",), followme_delay=DELAY)
    result, devices, rows = run(asterisk_lab, sipp, tmp_path, {"204": "ring", "205": "answer"}, features)
    own, other = devices["204"].seen, devices["205"].seen
    assert "FINAL 200" in result.stdout, result.stdout
    assert "RUNG" in own and "RUNG" in other, (own, other)
    # the own phone at once, the number after the delay, while the own phone still rings
    assert DELAY - 0.7 <= other["RUNG"] - own["RUNG"] <= DELAY + 2.5, (own, other)
    assert "ANSWERED" in other and own.get("CANCELLED", 0) >= other["ANSWERED"] - 0.2, (own, other)
    assert ac.summary(rows)["201"] == [("internal", "answered")], rows


def test_press_1_connects_the_follow_me_number_and_the_own_phone_needs_no_key(asterisk_lab, sipp, tmp_path):
    features = ExtensionFeatures(followme_enabled=True, followme_numbers=("205",), followme_delay=DELAY,
                                 followme_confirm=True)
    result, devices, rows = run(asterisk_lab, sipp, tmp_path, {"204": "ring", "205": "confirm"}, features)
    own, other = devices["204"].seen, devices["205"].seen
    assert "RUNG" in own and "PRESSED 1" in other, (own, other)
    assert "FINAL 200" in result.stdout and "HUNG UP" in other, (result.stdout, other)  # 201 talked with 205
    assert ac.summary(rows)["201"] == [("internal", "answered")], rows

    # The user's own phone answers as usual: no prompt, no key.
    result, devices, rows = run(asterisk_lab, sipp, tmp_path, {"204": "answer", "205": "ring"}, features)
    assert devices["204"].did("ANSWERED") and devices["204"].did("HUNG UP"), devices["204"].seen
    assert not devices["205"].did("RUNG")  # answered before the delay was over
    assert ac.summary(rows)["201"] == [("internal", "answered")], rows
