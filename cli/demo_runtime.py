"""What `clusterpbx run` starts besides the portal: the embedded PBX (sim/) for the demo."""

from __future__ import annotations

import logging

log = logging.getLogger("clusterpbx.demo")


def start_embedded_pbx(*, ami_port: int, esl_port: int, spool: str) -> object | None:
    try:
        from clusterpbx.sim.runner import SimPBX  # type: ignore[import-not-found]
    except ImportError:
        log.warning("embedded PBX not available; the portal runs without live PBX state")
        return None
    sim = SimPBX(ami_port=ami_port, esl_port=esl_port, spool=spool)
    sim.start()
    return sim
