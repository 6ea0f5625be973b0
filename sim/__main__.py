"""Run the embedded PBX standalone: ``python -m clusterpbx.sim [--ami-port 5038] [--esl-port 8021]
[--rate 0.2] [--seed 0] [--lab asterisk|freeswitch] [--spool DIR]`` (Ctrl-C stops it)."""
from __future__ import annotations

import argparse
import logging
import signal
import tempfile
import threading

from clusterpbx.sim.runner import SimPBX


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clusterpbx.sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ami-port", type=int, default=5038, help="AMI port (0 = any free port)")
    p.add_argument("--esl-port", type=int, default=8021, help="ESL port (0 = any free port, -1 = no ESL)")
    p.add_argument("--rate", type=float, default=0.2, help="scenario calls per second (0 = no calls)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lab", choices=("asterisk", "freeswitch"), default="asterisk")
    p.add_argument("--spool", default=None, help="voicemail spool dir (default: a temporary dir)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spool = args.spool or tempfile.mkdtemp(prefix="clusterpbx-sim-")
    pbx = SimPBX(lab=args.lab, host=args.host, ami_port=args.ami_port,
                 esl_port=None if args.esl_port < 0 else args.esl_port, spool_dir=spool, seed=args.seed)
    pbx.start()
    print(f"sim PBX ({args.lab} lab): AMI on {args.host}:{pbx.ami_port}"
          + (f", ESL on {args.host}:{pbx.esl_port}" if pbx.esl_port else "") + f", spool {spool}", flush=True)
    if args.rate > 0:
        pbx.start_scenario(rate=args.rate, seed=args.seed)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    pbx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
