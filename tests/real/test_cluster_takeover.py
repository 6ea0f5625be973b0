"""Issue 26's take-over against the real Asterisk 22 and FreeSWITCH 1.10 of the lab: two control daemons
in cluster mode on one PostgreSQL (CLUSTERPBX_TEST_POSTGRES_URL); daemon A owns the lab node and SIPp
phones make calls; A is killed the way kill -9 leaves it (tasks cancelled, PBX and command connections
dropped, no lease given back, nothing more written, as tests/daemon/test_cluster.py does against sim/);
calls are made and a setting is saved (through the portal's service, left pending) while nobody owns
the node. Daemon B takes the node within 10 s, catches up the gap's call records from the PBX's own
files (Master.csv / mod_json_cdr's error folder) with each call's records stored once (compared with
what the PBX wrote), removes a call that was up at the kill once it ends on the PBX (no ghost), and
pushes the pending setting, read back from the PBX (AstDB / mod_db)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from clusterpbx.ami.cdr import read_csv_since
from clusterpbx.control import callrecords
from clusterpbx.control.accounts import add_node
from clusterpbx.control.callsettings import CallSettingsInput, save_call_settings
from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import (
    CallRecord,
    CallSettings,
    LiveCall,
    NodeHealth,
    NodeLease,
    SyncState,
    User,
)
from clusterpbx.control.port import CallRecordReport
from clusterpbx.dialplan.render import render_node, write_files
from clusterpbx.esl import json_cdr
from clusterpbx.esl.adapter import TAKEN_DIR
from tests.daemon_harness import die_like_kill_9
from tests.real import asterisk_calls, fs_calls
from tests.real.conftest import until
from tests.real.test_asterisk_events import adapter_for
from tests.real.test_outage_reconnect import _asterisk_dnd, _freeswitch_dnd

pytestmark = pytest.mark.real
SECRET = "real-cluster-s3cret"  # noqa: S105 - the test daemons' command-channel secret
LEASE = 6.0  # the default node lease: a dead owner's node is taken within lease + lease/3
DND_EXT = "209"  # a user without a phone whose DND is saved during the gap
# SIPp's local ports here, apart from asterisk_calls' (5270-5289) and fs_calls' (25511-25514), which other
# helpers' runs of those tests use at the same time on their own lab instances.
AST_PORTS = {"201": 27301, "202": 27302, "203": 27303, "204": 27304}
AST_CALLER_PORTS = (27311, 27312, 27313, 27314)
FS_PORTS = {"201": 27321, "202": 27322, "203": 27323, "204": 27324}


class Daemons:
    """Control daemons in cluster mode on one event loop in a background thread."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running: list[ControlDaemon] = []

    def on_loop(self, coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> ControlDaemon:
        d = ControlDaemon(make_session_factory(self.engine), SECRET, port=0, cluster=True, node_lease_seconds=LEASE)
        self.on_loop(d.start(), 30)
        self.running.append(d)
        return d

    def kill(self, d: ControlDaemon) -> None:
        """kill -9: nothing more runs, the PBX and command connections drop, nothing is flushed and no
        lease or row is given back (as tests/daemon/test_cluster.py's Cluster.kill)."""

        self.on_loop(die_like_kill_9(d))
        self.running.remove(d)

    def close(self) -> None:
        for d in self.running:
            with contextlib.suppress(Exception):
                self.on_loop(d.stop(), 30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def daemons(engine: Any) -> Iterator[Daemons]:
    pair = Daemons(engine)
    try:
        yield pair
    finally:
        pair.close()


class Background:
    """A call placed in a thread; `ended` is the monotonic time it finished."""

    def __init__(self, place: Callable[[], Any]) -> None:
        self.result: Any = None
        self.ended = 0.0
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = place()
            except BaseException as exc:  # noqa: BLE001 - reported by join()
                self.error = exc
            self.ended = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 120) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


# -- one PBX each: the company loaded into the lab, phones, calls, what the PBX wrote --------------------

class AsteriskSide:
    kind = "asterisk"
    records_per_call = 1  # a Master.csv line (the caller's channel, with the phone it reached)
    domain = "calls.example.com"  # slug "calls": the AstDB prefix "calls-" of asterisk_calls' company

    def __init__(self, env: dict[str, str], sipp: str, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        self.env, self.sipp = env, sipp
        for number, port in AST_PORTS.items():
            monkeypatch.setitem(asterisk_calls.PORTS, number, port)
        self.csv = Path(env["CPBX_LAB_AST_CDR_CSV"])
        self.start_at = self.csv.stat().st_size if self.csv.exists() else 0  # earlier runs' records left out
        self._callers = itertools.cycle(AST_CALLER_PORTS)
        self._stack = contextlib.ExitStack()

    def node(self, db: Any) -> Any:
        env = self.env
        node = add_node(db, "cluster-ast", "asterisk", env["CPBX_LAB_AMI_HOST"], int(env["CPBX_LAB_AMI_PORT"]),
                        env["CPBX_LAB_AMI_USER"], env["CPBX_LAB_AMI_SECRET"])
        node.options = {"cdr_csv": str(self.csv)}
        db.add(NodeHealth(node_id=node.id, cdr_position=str(self.start_at)))
        db.commit()
        return node

    def endpoint(self, number: str) -> tuple[str, str]:
        return asterisk_calls.sip_user(number), asterisk_calls.password(number)

    def load(self) -> None:
        async def load() -> None:
            adapter = adapter_for(self.env)
            await adapter.start()
            try:
                changed = [p.name for p in write_files(render_node(asterisk_calls.snapshot()),
                                                       Path(self.env["CPBX_LAB_AST_CONFIG_DIR"]))]
                await adapter.reload_configuration(changed)
            finally:
                await adapter.stop()
        asyncio.run(load())

    def phones(self, *numbers: str) -> None:
        self._stack.enter_context(asterisk_calls.phones(self.sipp, self.env, {n: "answer" for n in numbers}))

    def call(self, caller: str, number: str, hold_ms: int) -> Background:
        port = next(self._callers)

        def place() -> None:
            done = asterisk_calls.dial(self.sipp, self.env, caller, number, hold_ms=hold_ms, port=port)
            assert "FINAL 200" in done.stdout, done.stdout[-1500:]
        return Background(place)

    def written(self) -> list[CallRecordReport]:
        reports, _end = read_csv_since(str(self.csv), self.start_at, dt.UTC)
        return reports

    def pieces(self) -> int:
        return len(self.written())

    def owner(self) -> str:
        return f"calls-{DND_EXT}"

    def dnd(self) -> str | None:
        return _asterisk_dnd(self.env, self.owner())

    def close(self) -> None:
        self._stack.close()


class FreeSwitchSide:
    kind = "freeswitch"
    records_per_call = 2  # a leg file each for the caller and the answering phone
    domain = fs_calls.DOMAIN  # calls.lab.test, slug "calls"

    def __init__(self, env: dict[str, str], sipp: str, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        self.env = env
        for number, port in FS_PORTS.items():
            monkeypatch.setitem(fs_calls.PHONE_PORTS, number, port)
        self.work = fs_calls.own_folder()
        self.fs = fs_calls.FsCalls(env, sipp, self.work)
        self.errors = Path(env["CPBX_LAB_FS_JSON_CDR_ERRORS"])
        self.errors.mkdir(parents=True, exist_ok=True)
        for old in self.errors.iterdir():  # earlier runs' legs (and what their daemons archived)
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        self._stack = contextlib.ExitStack()

    def node(self, db: Any) -> Any:
        env = self.env
        node = add_node(db, "cluster-fs", "freeswitch", env["CPBX_LAB_ESL_HOST"], int(env["CPBX_LAB_ESL_PORT"]),
                        secret=env["CPBX_LAB_ESL_PASSWORD"], sip_domain="127.0.0.1")
        node.options = {"json_cdr_error_dir": str(self.errors)}
        db.commit()
        return node

    def endpoint(self, number: str) -> tuple[str, str]:
        return f"u{number}", f"pw-{number}-calls"

    def load(self) -> None:
        self.fs.load()

    def phones(self, *numbers: str) -> None:
        self._stack.enter_context(self.fs.phones(**{n: "answer" for n in numbers}))

    def call(self, caller: str, number: str, hold_ms: int) -> Background:
        def place() -> None:
            log, _messages = self.fs.call(caller, number, hold_ms=hold_ms)
            assert "FINAL 200" in log, log[-1500:]
        return Background(place)

    def folders(self) -> list[Path]:
        """Where mod_json_cdr's legs are: its error folder, the batches a daemon took (taken/<batch>/) and
        what was archived (done/)."""
        taken = self.errors / TAKEN_DIR
        batches = sorted(d for d in taken.iterdir() if d.is_dir()) if taken.is_dir() else []
        return [f for f in (self.errors, self.errors / "done", *batches) if f.is_dir()]

    def written(self) -> list[CallRecordReport]:
        """The records of every leg mod_json_cdr wrote (the caller's leg gives the call's record)."""
        return [report for folder in self.folders() for report in json_cdr.read_error_dir(folder)[0]]

    def pieces(self) -> int:
        return sum(len(json_cdr.read_error_dir(folder)[1]) for folder in self.folders())

    def owner(self) -> str:
        return f"{DND_EXT}@{self.domain}"

    def dnd(self) -> str | None:
        return _freeswitch_dnd(self.env, self.owner())

    def close(self) -> None:
        self._stack.close()
        self.fs.close()
        shutil.rmtree(self.work, ignore_errors=True)



def _gap_setting(db: Any, user: User) -> CallSettings:
    """DND on, saved the way "Paramètres" saves it (the portal's service); nobody owns the node to push it."""
    return save_call_settings(db, user, CallSettingsInput(
        call_waiting=True, dnd=True, followme_enabled=False, followme_numbers=[], followme_confirm=False,
        followme_delay=20, forward_always="", forward_busy="", forward_noanswer="", forward_noanswer_delay=20,
        language="fr"))


@pytest.mark.timeout(360)  # mod_json_cdr's legs land one after the other, then the owner's minute catch-up
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_a_killed_owner_is_taken_over_on_the_real_pbx(kind, request, engine, db, world, daemons, sipp, tmp_path,
                                                      monkeypatch):
    env: dict[str, str] = request.getfixturevalue(f"{kind}_lab")
    side: AsteriskSide | FreeSwitchSide = (AsteriskSide if kind == "asterisk" else FreeSwitchSide)(
        env, sipp, monkeypatch, tmp_path)
    try:
        _take_over(side, engine, db, world, daemons)
    finally:
        side.close()


def _take_over(side: AsteriskSide | FreeSwitchSide, engine: Any, db: Any, world: Any, daemons: Daemons) -> None:
    node = side.node(db)
    node_id = node.id
    tenant = world.tenant(side.domain)
    tenant.node_id = node_id
    db.commit()
    users = {}
    for number in ("201", "202", "203", "204", DND_EXT):
        user = world.user(tenant, extension=number)
        ext = user.extensions[0]
        ext.sip_username, ext.sip_password = side.endpoint(number)
        users[number] = user
    db.commit()
    side.load()

    a = daemons.start()
    until("daemon A owning the node", lambda: node_id in a.nodes and a.nodes[node_id].resynced.is_set(), 30)
    b = daemons.start()
    time.sleep(LEASE / 3 + 0.5)  # a lease tick of B's: the node is A's, B has nothing to take
    assert node_id not in b.nodes
    assert side.dnd() is None  # A pushed the saved settings: DND off

    def count(model: Any) -> int:
        with make_session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(model.node_id == node_id)) or 0)

    side.phones("202", "203")
    side.call("201", "203", 1000).join()
    until("a record stored live by A", lambda: count(CallRecord) > 0, 30)

    def live() -> set[str]:
        with make_session_factory(engine)() as s:
            return set(s.scalars(select(LiveCall.pbx_call_id).where(LiveCall.node_id == node_id)))

    long_call = side.call("201", "202", 25000)  # up at the kill, ends after the take-over
    long_ids = until("the long call projected by A", live, 20)
    ending = side.call("204", "203", 2500)  # projected by A, ends while nobody owns the node
    ending_ids = until("the second call projected by A", lambda: live() - long_ids, 20)

    if isinstance(side, AsteriskSide):
        # The dead owner's catch-up position is before the records it stored live: B reads them again
        # (they must not be stored twice) along with the gap's.
        with make_session_factory(engine)() as s:
            assert int(s.get(NodeHealth, node_id).cdr_position or 0) < side.csv.stat().st_size
    killed_at = time.monotonic()
    daemons.kill(a)
    cs = _gap_setting(db, users[DND_EXT])
    assert cs.sync_state is SyncState.PENDING
    ending.join()
    first_gap = side.call("204", "203", 500)  # made while nobody owns the node (or just as B takes it)
    first_gap.join()
    second_gap = side.call("204", "203", 1000)

    until("B running the node", lambda: node_id in b.nodes, 12)
    took = time.monotonic() - killed_at
    print(f"{side.kind}: node taken {took:.1f} s after the kill")  # noqa: T201 - shown with -s
    assert took < 10, f"take-over took {took:.1f} s"
    assert ending.ended < killed_at + took, "the second call ended before B took the node"
    runner = b.nodes[node_id]
    until("B's resync", lambda: runner.resynced.is_set(), 30)
    with make_session_factory(engine)() as s:
        assert s.get(NodeLease, node_id).holder == b.holder
    assert long_call.thread.is_alive(), "the long call was still up at the take-over"
    # No ghost: the call A projected that ended in the gap is gone; the one still up is B's now.
    assert not live() & ending_ids
    until("the long call projected by B", lambda: live() & long_ids, 10)

    # The setting saved while nobody owned the node: pushed by B, on the real PBX.
    def applied() -> bool:
        with make_session_factory(engine)() as s:
            return s.get(CallSettings, users[DND_EXT].id).sync_state is SyncState.APPLIED
    until("the pending DND applied by B", applied, 30)
    assert side.dnd() == "YES"

    second_gap.join()
    long_call.join()
    until("no live call left once every call ended", lambda: count(LiveCall) == 0, 20)

    # Every call's records as the PBX wrote them, each stored once.
    with make_session_factory(engine)() as s:
        directory = callrecords.Directory.load(s, node_id)

    def expected() -> set[tuple[str, int]]:
        return {(row["pbx_call_id"], row["user_id"]) for report in side.written()
                for row in callrecords.rows_for(report, node_id, directory)}

    def stored() -> list[tuple[str, int]]:
        with make_session_factory(engine)() as s:
            return [(r.pbx_call_id, r.user_id) for r in s.scalars(select(CallRecord)
                                                                 .where(CallRecord.node_id == node_id))]

    # mod_json_cdr writes a leg to its error folder once its posts failed, one leg after the other
    # (seconds each, so a leg lands up to a minute after its hangup in the lab): a leg that lands after
    # B's take-over catch-up is read at the owner's next catch-up (every minute).
    def callers() -> set[str]:
        return {report.call_id for report in side.written() if report.source_endpoint}

    until("the PBX wrote the records of the five calls",
          lambda: len(callers()) >= 5 and side.pieces() >= 5 * side.records_per_call, 120)
    want = expected()
    assert len(want) >= 10, want  # caller and callee of each of the five calls
    until("every record the PBX wrote stored", lambda: set(stored()) == want, 100)
    rows = stored()
    assert len(rows) == len(set(rows)) == len(want), "a record stored twice"
    with make_session_factory(engine)() as s:
        assert s.get(NodeLease, node_id).holder == b.holder
