"""Scenario driver: makes calls happen in the sim's PBX model at a chosen rate and mix, deterministically
for a given seed; gentle for a demo (an asyncio task) or as fast as possible for benchmarks."""
from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field

from clusterpbx.sim import model as M

log = logging.getLogger(__name__)

KINDS = ("internal_answered", "internal_voicemail", "inbound", "outbound", "queue", "conference")
DEFAULT_MIX: dict[str, float] = {
    "internal_answered": 0.35, "internal_voicemail": 0.15, "inbound": 0.2, "outbound": 0.15,
    "queue": 0.1, "conference": 0.05,
}


@dataclass
class ScenarioStats:
    calls: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class ScenarioDriver:
    """Drives ``model`` with calls of the kinds in KINDS, picked by ``mix`` weights from random.Random(seed).

    Must run on the model's thread/loop. ``step()`` makes one call now; ``await run(count, rate)`` makes
    ``count`` calls (forever if None) at ``rate`` calls/second (as fast as possible if None, yielding to
    the loop between calls); ``start()``/``stop()`` wrap ``run`` in a task. In paced mode answered internal
    calls last ``talk_seconds`` (ringing ``ring_seconds`` first), so calls overlap as on a real PBX.
    """

    def __init__(self, model: M.PBXModel, seed: int = 0, mix: dict[str, float] | None = None,
                 talk_seconds: tuple[float, float] = (2.0, 8.0), ring_seconds: float = 1.0,
                 max_conference: int = 4) -> None:
        self.model = model
        self.rng = random.Random(seed)
        self.mix = dict(mix or DEFAULT_MIX)
        unknown = set(self.mix) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown call kinds: {sorted(unknown)}")
        self.talk_seconds = talk_seconds
        self.ring_seconds = ring_seconds
        self.max_conference = max_conference
        self.stats = ScenarioStats()
        self.conference_channels: list[M.Channel] = []
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        fs = model.flavor == "freeswitch"
        self.room = "3000" if fs else "500"
        self.room_exten = "3000" if fs else "*99500"

    # ------------------------------------------------------------------ picking

    def _phones(self) -> list[str]:
        return [e for e, ep in self.model.endpoints.items() if ep.registered]

    def _pair(self, free_only: bool = False) -> tuple[str, str] | None:
        phones = self._phones()
        if free_only:
            phones = [p for p in phones if self.model.phone_state(p) == M.DeviceState.NOT_INUSE]
        if len(phones) < 2:
            return None
        src, dst = self.rng.sample(phones, 2)
        eps = self.model.endpoints
        if eps[dst].context != eps[src].context:
            # Tenants are namespaces: a phone calls a colleague of its own context, never another tenant's.
            mates = [p for p in phones if p != src and eps[p].context == eps[src].context]
            if not mates:
                return None
            dst = self.rng.choice(mates)
        return src, dst

    def _number(self, ext: str) -> str:
        """What a colleague dials to reach ``ext`` (its number in their shared context)."""
        return self.model.endpoints[ext].dial_number

    def pick(self) -> str:
        kinds = [k for k in KINDS if self.mix.get(k, 0) > 0]
        return self.rng.choices(kinds, weights=[self.mix[k] for k in kinds])[0]

    def _queue(self) -> M.Queue | None:
        if not self.model.queues:
            return None
        staffed = [q for q in self.model.queues.values() if q.members]
        q = staffed[0] if staffed else next(iter(self.model.queues.values()))
        if not q.members:
            # Staff the queue with the last two phones, as the lab's agents (104/105, 1018/1019).
            for ext in self._phones()[-2:]:
                ep = self.model.endpoints[ext]
                if self.model.flavor == "freeswitch":
                    self.model.queue_add(q.name, f"{ext}@default", name=ep.name, state_interface=f"user/{ext}")
                else:
                    self.model.queue_add(q.name, f"PJSIP/{ext}", name=ep.name)
        return q

    # ------------------------------------------------------------------ calls

    def step(self, kind: str | None = None) -> str:
        """Make one whole call of ``kind`` (random by the mix if None) right now; returns the kind."""
        kind = kind or self.pick()
        m = self.model
        pair = self._pair()
        try:
            if pair is None:
                raise M.NoSuchEndpoint("fewer than two registered phones")
            src, dst = pair
            # Whole calls happen at once; they are back-dated so that CDRs carry plausible durations.
            ring, talk = float(self.rng.randint(1, 8)), float(self.rng.randint(5, 300))
            if kind == "internal_answered":
                m.place_call(src, self._number(dst), answer=True, ring_seconds=ring, talk_seconds=talk)
            elif kind == "internal_voicemail":
                self._make_room(dst)
                m.place_call(src, self._number(dst), answer=False, message_seconds=self.rng.randint(2, 20),
                             ring_seconds=15.0)
            elif kind == "inbound":
                m.inbound_call(f"0612{self.rng.randint(0, 999999):06d}", dst, answer=self.rng.random() < 0.8,
                               ring_seconds=ring, talk_seconds=talk)
            elif kind == "outbound":
                m.outbound_call(src, f"0{self.rng.randint(100000000, 999999999)}", answer=self.rng.random() < 0.8,
                                ring_seconds=ring, talk_seconds=talk)
            elif kind == "queue":
                q = self._queue()
                if q is None:
                    raise M.NoSuchQueue("no queue")
                busy = {mem.state_interface.partition("/")[2] for mem in q.members.values()}
                callers = [p for p in self._phones() if p not in busy] or [src]
                # A queue named after a tenant's context (cpbx-acme-support) takes that tenant's callers.
                home = m.namespace(q.name)
                if home is not None:
                    callers = [p for p in callers if m.endpoints[p].context == home]
                    if not callers:
                        raise M.NoSuchEndpoint(f"no caller of {home} for {q.name}")
                m.queue_call(self.rng.choice(callers), q.name, exten=None if m.flavor == "freeswitch" else "7001",
                             hold_seconds=float(self.rng.randint(0, 60)), talk_seconds=talk)
            elif kind == "conference":
                self._conference(src)
            else:
                raise ValueError(kind)
        except M.SimError as exc:
            log.debug("scenario %s call not made: %s", kind, exc)
            self.stats.errors += 1
        self.stats.calls[kind] += 1
        return kind

    def _make_room(self, ext: str, keep: int = 50) -> None:
        """Users listen to and delete old messages: keep a mailbox below ``keep`` messages."""
        own = self.model.voicemail_box(ext)
        for mb in self.model.mailboxes.values():
            if mb is own or (own is None and mb.box == ext):
                for folder in ("INBOX", "Old"):
                    msgs = mb.folder(folder)
                    while len(msgs) >= keep:
                        self.model.delete_message(mb.box, folder, msgs[0].msg_id, mb.context)

    def _conference(self, src: str) -> None:
        alive = [c for c in self.conference_channels if c.uniqueid in self.model.channels]
        self.conference_channels = alive
        in_conf = {c.endpoint for c in alive}
        if len(alive) >= self.max_conference or src in in_conf:
            leaver = alive.pop(0)
            self.model.hangup_channel(leaver, 16)
            return
        self.conference_channels.append(self.model.conference_call(src, self.room, exten=self.room_exten))

    async def _paced_answered(self) -> None:
        """An internal answered call whose steps are spread over time (demo mode)."""
        pair = self._pair(free_only=True)
        if pair is None:
            # Everybody is on the phone: this caller ends up in voicemail instead.
            self.step("internal_voicemail")
            return
        src, dst = pair
        talk = self.rng.uniform(*self.talk_seconds)
        call = self.model.start_call(src, self._number(dst))
        try:
            if call.ring() is None:
                call.hangup()
                return
            await asyncio.sleep(self.ring_seconds)
            call.answer()
            await asyncio.sleep(talk)
        finally:
            if call.caller.uniqueid in self.model.channels:
                call.hangup()
        self.stats.calls["internal_answered"] += 1

    def generate(self, count: int) -> ScenarioStats:
        """Make ``count`` calls synchronously, as fast as possible (benchmark event streams)."""
        for _ in range(count):
            self.step()
        return self.stats

    async def run(self, count: int | None = None, rate: float | None = None) -> ScenarioStats:
        """Make ``count`` calls (forever if None) at ``rate`` calls/second (as fast as possible if None)."""
        n = 0
        while count is None or n < count:
            if rate is None:
                self.step()
                if n % 50 == 0:
                    await asyncio.sleep(0)   # let the servers write out what piled up
            else:
                kind = self.pick()
                if kind == "internal_answered":
                    t = asyncio.get_running_loop().create_task(self._paced_answered())
                    self._calls.add(t)
                    t.add_done_callback(self._calls.discard)
                else:
                    self.step(kind)
                await asyncio.sleep(1.0 / rate)
            n += 1
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)
        return self.stats

    def start(self, rate: float | None = 0.2, count: int | None = None) -> asyncio.Task[None]:
        async def go() -> None:
            await self.run(count=count, rate=rate)
        self._task = asyncio.get_running_loop().create_task(go())
        return self._task

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for t in list(self._calls):
            t.cancel()
