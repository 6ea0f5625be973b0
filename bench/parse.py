"""CPU per event of the protocol layers alone, beside the client library's own parse, in one process
(alternated, so that a busy machine slows every contender of a round alike):

  .venv/bin/python -m bench.parse [--rounds 5] [--calls 300]

AMI: capture 06 (a real Asterisk 22 call, every event) repeated, fed in 64 KiB reads to panoramisk's
AMIProtocol (the ceiling), to the former SafeAMIProtocol parse (panoramisk's from_line, then a walk of
every header to strip it) and to the current SafeAMIProtocol.

ESL: sim/'s `event plain ALL` stream; greenswitch's ESLEvent on each payload (the ceiling: its parse,
without its socket reading), the former eager parse (every value decoded) and the current lazy one, each
followed by nothing, then the current parse followed by the adapter's translator.

Prints, per contender, the median (min-max) of the rounds in µs per event, and each ratio of the ceiling's
time to the contender's (≥ 1 is faster than the library).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote


def former_ami_protocol() -> type:
    from panoramisk.message import Message

    from clusterpbx.ami.protocol import EOL, SafeAMIProtocol

    class Former(SafeAMIProtocol):
        def data_received(self, data: bytes) -> None:  # the parse before issue 24
            text = self._decoder.decode(data)
            if self.queue:
                text = self.queue.popleft() + text
            parts = text.split(EOL + EOL)
            self.queue.append(parts.pop(-1))
            for part in parts:
                message = Message.from_line(part.strip())
                if message is None:
                    continue
                for key, value in list(message.items()):
                    if isinstance(value, str) and value != value.strip():
                        message[key] = value.strip()
                self.handle_message(message)
    return Former


def former_plain(payload: bytes) -> dict[str, str]:
    """The eager parse before issue 24 (every value decoded)."""
    head, _sep, _rest = payload.partition(b"\n\n")
    headers: dict[str, str] = {}
    for raw in head.split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if not line:
            continue
        name, colon, value = line.partition(": ")
        if not colon:
            name, colon, value = line.partition(":")
        headers.setdefault(name, unquote(value, errors="replace"))
    return headers


def timed(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def show(label: str, per_event: dict[str, list[float]], ceiling: str) -> None:
    print(label)
    for name, values in per_event.items():
        us = [v * 1e6 for v in values]
        ratios = [c / v for c, v in zip(per_event[ceiling], values, strict=True)]
        print(f"  {name:<48} {statistics.median(us):7.1f} µs/event ({min(us):.1f}-{max(us):.1f})"
              f"   ceiling/this {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args()

    from greenswitch.esl import ESLEvent
    from panoramisk.ami_protocol import AMIProtocol

    from bench.ingest import record_esl, recorded_stream
    from clusterpbx.ami.protocol import SafeAMIProtocol
    from clusterpbx.esl.protocol import iter_frames, parse_plain_event
    from clusterpbx.esl.translate import EventTranslator

    ami = recorded_stream(args.calls)
    chunks = [ami[i:i + 65536] for i in range(0, len(ami), 65536)]
    n_ami = ami.count(b"\r\n\r\nEvent: ") + 1

    class Sink:
        def dispatch(self, message: Any) -> None:
            pass

    def feed(cls: type) -> Callable[[], None]:
        def run() -> None:
            proto = cls()
            proto.connection_made(None)
            proto.factory = Sink()
            for c in chunks:
                proto.data_received(c)
        return run

    ami_runs = {"panoramisk AMIProtocol (ceiling)": feed(AMIProtocol),
                "SafeAMIProtocol, former parse": feed(former_ami_protocol()),
                "SafeAMIProtocol, now": feed(SafeAMIProtocol)}

    esl = record_esl(args.calls)
    payloads = [f.body for f in iter_frames(esl) if f.content_type == "text/event-plain"]
    n_esl = len(payloads)
    texts = [p.decode("utf-8", "replace") for p in payloads]

    def translated() -> None:
        translator = EventTranslator()
        for p in payloads:
            translator.feed(parse_plain_event(p))

    esl_runs = {"greenswitch ESLEvent (ceiling)": lambda: [ESLEvent(t) for t in texts],
                "parse_plain_event, former (eager)": lambda: [former_plain(p) for p in payloads],
                "parse_plain_event, now (lazy)": lambda: [parse_plain_event(p) for p in payloads],
                "parse_plain_event now + EventTranslator.feed": translated}

    ami_times: dict[str, list[float]] = {k: [] for k in ami_runs}
    esl_times: dict[str, list[float]] = {k: [] for k in esl_runs}
    for _ in range(args.rounds):
        for name, fn in ami_runs.items():
            ami_times[name].append(timed(fn) / n_ami)
        for name, fn in esl_runs.items():
            esl_times[name].append(timed(fn) / n_esl)
    show(f"AMI: {n_ami} events of capture 06, {len(ami) / 1e6:.1f} MB, {args.rounds} rounds (CPU time)",
         ami_times, "panoramisk AMIProtocol (ceiling)")
    show(f"ESL: {n_esl} plain events of sim/ ({args.calls} calls), {len(esl) / 1e6:.1f} MB, {args.rounds} rounds",
         esl_times, "greenswitch ESLEvent (ceiling)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
