"""The scenario driver: deterministic per seed, fast stream generation, paced demo mode, the runner."""
from __future__ import annotations

import asyncio
import time

import pytest

from clusterpbx.sim import model as M
from clusterpbx.sim.lab import asterisk_lab, freeswitch_lab
from clusterpbx.sim.runner import SimPBX
from clusterpbx.sim.scenario import KINDS, ScenarioDriver


def _trace(seed: int, count: int = 300) -> list[tuple[str, str, str, str]]:
    m = asterisk_lab(seed=seed)
    m.started = 0.0
    m._uid_base = 1795797593   # same ids whatever the wall clock
    ScenarioDriver(m, seed=seed).generate(count)
    return [(r.src, r.dst, r.disposition, r.lastapp) for r in m.call_records]


def test_same_seed_same_calls_and_every_kind_happens() -> None:
    assert _trace(11) == _trace(11)
    assert _trace(11) != _trace(12)
    d = ScenarioDriver(asterisk_lab(), seed=5)
    stats = d.generate(500)
    assert set(stats.calls) == set(KINDS) and stats.errors == 0
    assert stats.total == 500


def test_fast_generation_leaves_no_stale_state() -> None:
    m = freeswitch_lab()
    events: list[M.ModelEvent] = []
    m.subscribe(events.append)
    d = ScenarioDriver(m, seed=2)
    t0 = time.monotonic()
    d.generate(3000)
    assert time.monotonic() - t0 < 30  # generous: a quadratic slip would take minutes; a busy machine, seconds
    # Only conference participants stay connected; every other call is over.
    assert all(ch.uniqueid in {c.uniqueid for c in d.conference_channels} for ch in m.channels.values())
    assert not m.calls and not [b for b in m.bridges.values() if b.type == "basic"]
    assert sum(isinstance(e, M.CallRecord) for e in events) >= 3000


def test_mix_restricts_kinds_and_rejects_unknown() -> None:
    d = ScenarioDriver(asterisk_lab(), seed=1, mix={"queue": 1.0})
    assert set(d.generate(20).calls) == {"queue"}
    with pytest.raises(ValueError):
        ScenarioDriver(asterisk_lab(), mix={"fax": 1.0})


def test_paced_mode_overlaps_calls() -> None:
    async def main() -> int:
        m = asterisk_lab()
        d = ScenarioDriver(m, seed=3, mix={"internal_answered": 1.0}, talk_seconds=(0.3, 0.3), ring_seconds=0.05)
        peak = 0

        def watch(_ev: M.ModelEvent) -> None:
            nonlocal peak
            peak = max(peak, len(m.bridges))
        m.subscribe(watch)
        await asyncio.wait_for(d.run(count=4, rate=20.0), 5)
        assert not m.channels
        return peak
    assert asyncio.run(main()) >= 2


def test_runner_starts_ami_and_esl_and_scenario(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with SimPBX(spool_dir=tmp_path, esl_port=0) as pbx:
        assert pbx.ami_port > 0
        if pbx.esl is not None:
            assert pbx.esl_port and pbx.esl_port != pbx.ami_port
        pbx.start_scenario(rate=200.0, seed=1, count=30)
        deadline = time.monotonic() + 30
        while pbx.call_soon(lambda: len(pbx.model.call_records)) < 20:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert pbx.loop is not None and pbx.loop.is_closed()


def test_python_dash_m_runs_standalone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import re
    import signal
    import subprocess
    import sys

    from astfixtures import RawAmi

    proc = subprocess.Popen([sys.executable, "-m", "clusterpbx.sim", "--ami-port", "0", "--esl-port", "-1",
                             "--rate", "50", "--seed", "4", "--spool", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = int(re.search(r"AMI on 127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
        cli = RawAmi(port)
        cli.login()
        cdr = cli.wait_for(lambda m: m[0] == ("Event", "Cdr"), timeout=10)[-1]
        assert ("AMAFlags", "DOCUMENTATION") in cdr
        cli.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_channel_addresses() -> None:
    m = asterisk_lab()
    call = m.start_call("101", "102")
    callee = call.ring()
    assert callee is not None
    assert (call.caller.src_addr, call.caller.dst_addr) == ("127.0.0.1:5071", "127.0.0.1:5060")
    assert (callee.src_addr, callee.dst_addr, callee.dst_uri) == ("127.0.0.1:5060", "127.0.0.1:5072",
                                                                  "sip:102@127.0.0.1:5072")
    call.no_answer()
    call.hangup()
    assert not m.channels
