"""A push sends its parts together: the feature keys and the conference keys do not wait for each other,
while a user's queue memberships go one after the other (on FreeSWITCH they share one agent). Every
part's outcome is marked on its own row; nothing is still in flight when the push returns."""

from __future__ import annotations

import asyncio
import datetime as dt

from clusterpbx.control.daemon.desired import QueueOp, UserPlan, push_plan
from clusterpbx.control.models import CallSettings, PersonalConference, QueueMembership
from clusterpbx.control.port import ConferenceSettings, ExtensionFeatures, PbxRefused

V = dt.datetime(2026, 12, 8, 9, 0)


class SlowPort:
    """Each write waits until every part it should overlap with has started (deadlock if sent one by one)."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.log: list[str] = []
        self.features_started = asyncio.Event()
        self.conference_started = asyncio.Event()
        self.refuse = refuse or set()
        self.active_queue_ops = 0
        self.max_queue_ops = 0

    async def write_features(self, number: str, features: ExtensionFeatures) -> None:
        self.features_started.set()
        await asyncio.wait_for(self.conference_started.wait(), 2)
        self.log.append(f"features {number}")
        if "features" in self.refuse:
            raise PbxRefused("DBPut: refused")

    async def write_conference(self, number: str, settings: ConferenceSettings) -> None:
        self.conference_started.set()
        await asyncio.wait_for(self.features_started.wait(), 2)
        self.log.append(f"conference {number}")

    async def _queue(self, what: str, queue: str) -> None:
        self.active_queue_ops += 1
        self.max_queue_ops = max(self.max_queue_ops, self.active_queue_ops)
        await asyncio.sleep(0.01)
        self.active_queue_ops -= 1
        self.log.append(f"{what} {queue}")
        if f"{what} {queue}" in self.refuse:
            raise PbxRefused(f"{what}: refused")

    async def queue_login(self, queue: str, interface: str, member_name: str = "") -> None:
        await self._queue("login", queue)

    async def queue_pause(self, queue: str, interface: str, reason: str = "") -> None:
        await self._queue("pause", queue)

    async def queue_resume(self, queue: str, interface: str) -> None:
        await self._queue("resume", queue)

    async def queue_logout(self, queue: str, interface: str) -> None:
        await self._queue("logout", queue)


def plan() -> UserPlan:
    ops = (QueueOp(1, V, "sales", "PJSIP/201", "Ann", True, True, "lunch"),
           QueueOp(2, V, "support", "PJSIP/201", "Ann", False, False, ""))
    return UserPlan(7, ("201",), ExtensionFeatures(dnd=True), ((CallSettings, V),),
                    ("201", ConferenceSettings(enabled=True), V), ops)


def test_features_and_conference_go_out_together_and_queue_memberships_in_turn() -> None:
    port = SlowPort()
    result, marks = asyncio.run(push_plan(port, plan()))  # type: ignore[arg-type]
    assert (result.applied, result.pending, result.errors) == (4, 0, [])
    assert port.max_queue_ops == 1
    queue_steps = [entry for entry in port.log if entry.split()[0] in ("login", "pause", "resume", "logout")]
    assert queue_steps == ["login sales", "pause sales", "logout support"]
    assert {(m.model, m.key, m.ok) for m in marks} == {
        (CallSettings, 7, True), (PersonalConference, 7, True), (QueueMembership, 1, True),
        (QueueMembership, 2, True)}


def test_each_part_is_marked_by_its_own_outcome() -> None:
    port = SlowPort(refuse={"features", "login sales"})
    result, marks = asyncio.run(push_plan(port, plan()))  # type: ignore[arg-type]
    assert (result.applied, result.pending) == (2, 2)
    by_row = {(m.model, m.key): (m.ok, m.error) for m in marks}
    assert by_row[(CallSettings, 7)] == (False, "PbxRefused: DBPut: refused")
    assert by_row[(PersonalConference, 7)] == (True, "")
    assert by_row[(QueueMembership, 1)] == (False, "PbxRefused: login: refused")
    assert by_row[(QueueMembership, 2)] == (True, "")
    assert "logout support" in port.log  # the failed membership did not stop the next one
