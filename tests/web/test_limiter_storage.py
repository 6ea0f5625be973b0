"""The rate-limit storage of several portal servers is a shared Redis (docs/deploy.md). When it cannot be
reached, the limits go on in each process's memory (Flask-Limiter's in-memory fallback) instead of every
limited page and API call answering 500."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import flask
import pytest

from clusterpbx.web.limiter import limiter
from tests.system.live_portal import free_port


@pytest.fixture
def unreachable_storage_app(sqlite_url: str, tmp_path: Path) -> Any:
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "API_RATE_LIMIT": "3/minute", "SETTINGS": {
        "database_url": sqlite_url, "instance_path": str(tmp_path / "instance"), "session_cookie_secure": False,
        "ratelimit_storage_url": f"redis://127.0.0.1:{free_port()}/0"}})  # nothing listens there
    yield app
    app.extensions["clusterpbx.engine"].dispose()
    # The limiter is per process: give the next tests a working storage again.
    limiter._storage_dead = False
    spare = flask.Flask("spare")
    spare.config["RATELIMIT_STORAGE_URI"] = "memory://"
    limiter.init_app(spare)


def test_an_unreachable_shared_storage_keeps_the_limits_in_memory_without_errors(unreachable_storage_app, caplog):
    client = unreachable_storage_app.test_client()
    with caplog.at_level(logging.WARNING):
        codes = [client.get("/api/v1/me").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert "falling back to in-memory storage" in caplog.text


def test_cluster_mode_with_a_per_process_storage_is_warned_about(caplog):
    from types import SimpleNamespace

    from clusterpbx.web.limiter import config

    with caplog.at_level(logging.WARNING, logger="clusterpbx.web.limiter"):
        assert config(SimpleNamespace(ratelimit_storage_url="memory://", control_cluster=False))[
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
        assert caplog.text == ""
        config(SimpleNamespace(ratelimit_storage_url="memory://", control_cluster=True))
        config(SimpleNamespace(ratelimit_storage_url="redis://10.0.0.5:6379/0", control_cluster=True))
    assert caplog.text.count("each portal process counts its own rate limits") == 1
