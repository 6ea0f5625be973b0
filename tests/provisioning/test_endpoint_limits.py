"""The fetch endpoint's two limits (per phone, per address) applied by the endpoint itself with the
portal limiter's storage: with a shared storage that cannot be reached (Redis down), refusals are still
limited, in the process's memory, and nothing answers 500."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import flask
import pytest

from clusterpbx.web import provision
from clusterpbx.web.limiter import limiter
from tests.system.live_portal import free_port


@pytest.fixture
def unreachable_storage_app(sqlite_url: str, tmp_path: Path) -> Any:
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": {
        "database_url": sqlite_url, "instance_path": str(tmp_path / "instance"), "session_cookie_secure": False,
        "ratelimit_storage_url": f"redis://127.0.0.1:{free_port()}/0"}})  # nothing listens there
    app.config["CLUSTERPBX"].extra["provisioning_address_failure_limit"] = "3 per minute"
    yield app
    app.extensions["clusterpbx.engine"].dispose()
    provision._storage_down_until = 0.0
    provision._fallback.storage.reset()
    limiter._storage_dead = False
    spare = flask.Flask("spare")
    spare.config["RATELIMIT_STORAGE_URI"] = "memory://"
    limiter.init_app(spare)


def test_refusals_stay_limited_in_memory_when_the_shared_storage_is_down(unreachable_storage_app, caplog):
    client = unreachable_storage_app.test_client()
    with caplog.at_level(logging.WARNING, logger="clusterpbx.web.provision"):
        codes = [client.get(f"/prov/{'k' * 20}/00156500000{i}.cfg").status_code for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]
    assert caplog.text.count("rate limit storage unreachable") == 1  # then it waits before trying again
