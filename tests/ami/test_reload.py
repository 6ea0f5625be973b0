"""`clusterpbx dialplan apply` on Asterisk: the adapter reloads exactly the modules whose generated files
changed, with the AMI Reload action (issue 19 item 5: there was no reload at all). Checked on the real
Asterisk 22 by tests/real/test_asterisk_config.py."""

from __future__ import annotations

import time

import pytest

from clusterpbx.ami.adapter import RELOAD_MODULES
from clusterpbx.dialplan.asterisk import ASTERISK_FILES
from clusterpbx.sim.model import Reloaded


def test_every_generated_file_has_its_module():
    assert set(RELOAD_MODULES) == set(ASTERISK_FILES)


@pytest.mark.parametrize(("changed", "modules"), [
    (["queues_clusterpbx.conf"], ["app_queue.so"]),
    (["/etc/asterisk/clusterpbx/pjsip_clusterpbx.conf", "extensions_clusterpbx.conf"],
     ["res_pjsip.so", "pbx_config.so"]),
    ([], [RELOAD_MODULES[f] for f in ASTERISK_FILES]),
    (["README.txt"], []),
])
def test_only_the_changed_files_modules_are_reloaded(sim, adapter, changed, modules):
    blocking, _events = adapter
    reloaded: list[str | None] = []
    sim.model.subscribe(lambda e: reloaded.append(e.module) if isinstance(e, Reloaded) else None)
    blocking.call(blocking.adapter.reload_configuration, changed)
    # The sim answers each Reload, then reloads (on its own thread): the last one may land just after the
    # adapter returned. A reload that should not happen gets the same time to show up.
    deadline = time.monotonic() + 2
    while len(reloaded) < len(modules) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert reloaded == modules
