"""A database lock held elsewhere longer than a request may wait: the API answers 503 with Retry-After,
the portal a page in the user's language offering the form again; never a 500, and the session (and
what the user typed) survives. Reads are never blocked by a writer."""

from __future__ import annotations

import contextlib
import html as htmllib
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from clusterpbx.control import apitokens
from clusterpbx.control.db import make_engine
from clusterpbx.control.models import CallSettings

BUSY = 0.5  # the test app's lock wait, in seconds (5 s in production)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    from clusterpbx.web import create_app

    app = create_app({
        "TESTING": True, "DATABASE_BUSY_TIMEOUT": BUSY,
        "SETTINGS": {"database_url": database_url, "instance_path": str(tmp_path / "instance"),
                     "session_cookie_secure": False, "ratelimit_storage_url": "memory://"},
    })
    yield app
    app.extensions["clusterpbx.engine"].dispose()


@contextlib.contextmanager
def write_lock_held(database_url: str, user_id: int) -> Iterator[None]:
    """Another process's write in progress: SQLite's database write lock, PostgreSQL's lock on the
    user's call settings row (what a save writes)."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM call_settings WHERE user_id = :u FOR UPDATE"), {"u": user_id})
            yield
            conn.rollback()
    finally:
        engine.dispose()


def body(resp: Any) -> str:
    return htmllib.unescape(resp.get_data(as_text=True))


def test_api_answers_503_with_retry_after_and_the_next_try_works(client, db, world, database_url):
    tenant = world.tenant()
    user = world.user(tenant, extension="201")
    _row, token = apitokens.create_user_token(db, user, "t")
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me/call-settings", headers=headers).status_code == 200
    with write_lock_held(database_url, user.id):
        started = time.monotonic()
        resp = client.patch("/api/v1/me/call-settings", json={"dnd": True}, headers=headers)
        waited = time.monotonic() - started
        assert resp.status_code == 503, resp.get_data(as_text=True)
        assert int(resp.headers["Retry-After"]) > 0
        assert resp.is_json and "busy" in resp.get_json()["errors"][""]
        assert waited < BUSY + 3  # the lock wait is bounded (it was 30 s)
        # Reading is not held up by a writer.
        read = client.get("/api/v1/me/call-settings", headers=headers)
        assert read.status_code == 200 and read.get_json()["dnd"] is False
    # Nothing half-saved, and the same request now works.
    db.expire_all()
    assert db.get(CallSettings, user.id).dnd is False
    resp = client.patch("/api/v1/me/call-settings", json={"dnd": True}, headers=headers)
    assert resp.status_code == 200
    db.expire_all()
    assert db.get(CallSettings, user.id).dnd is True


def test_portal_shows_a_translated_busy_page_that_sends_the_form_again(client, auth, db, world, database_url):
    tenant = world.tenant()
    user = world.user(tenant, extension="201", language="fr")
    world.user(tenant, extension="202")
    auth.login(user.email)
    token = auth.csrf("/settings/advanced")
    form = {"csrf_token": token, "dnd": "y", "call_waiting": "y", "forward_busy": "202",
            "followme_delay": "20", "forward_noanswer_delay": "25", "language": "fr"}
    with write_lock_held(database_url, user.id):
        resp = client.post("/settings/advanced", data=form)
        assert resp.status_code == 503
        assert int(resp.headers["Retry-After"]) > 0
        page = body(resp)
        assert "Le portail est occupé" in page and "Rien n'a été perdu" in page
        assert "Traceback" not in page
        # What the user typed comes back in a form to send again, with a fresh CSRF token.
        replay = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
        assert replay["dnd"] == "y" and replay["forward_busy"] == "202" and replay["forward_noanswer_delay"] == "25"
        assert replay["csrf_token"]
        assert 'action="/settings/advanced"' in page
        # The portal still reads while the writer holds its lock.
        assert client.get("/settings/advanced").status_code == 200
    db.expire_all()
    assert db.get(CallSettings, user.id).dnd is False  # not saved, not half-saved
    resp = client.post("/settings/advanced", data=replay)
    assert resp.status_code == 302
    db.expire_all()
    saved = db.get(CallSettings, user.id)
    assert saved.dnd is True and saved.forward_busy == "202" and saved.forward_noanswer_delay == 25


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_busy_page_in_english_and_secrets_never_written_back(client, auth, db, world, database_url):
    tenant = world.tenant()
    user = world.user(tenant, extension="201", language="en")
    auth.login(user.email, language="en")
    token = auth.csrf("/settings/account")
    with write_lock_held(database_url, user.id):  # SQLite: the whole database is locked
        resp = client.post("/settings/account", data={
            "csrf_token": token, "current_password": "Secret-pass1", "new_password": "Other-pass22!",
            "confirm_password": "Other-pass22!"})
    assert resp.status_code == 503
    page = body(resp)
    assert "The portal is busy" in page and "type your password again" in page
    assert "Other-pass22!" not in page and "Secret-pass1" not in page


def test_other_database_errors_are_the_portal_s_own_page_and_the_session_recovers(app, client, auth, db, world):
    from clusterpbx.web.db import get_db

    def broken() -> str:
        get_db().execute(text("SELECT * FROM no_such_table"))
        return "unreachable"

    app.add_url_rule("/broken-for-test", "broken_for_test", broken)
    tenant = world.tenant()
    user = world.user(tenant, extension="201", language="fr")
    auth.login(user.email)
    resp = client.get("/broken-for-test")
    assert resp.status_code == 500
    page = body(resp)
    assert "Une erreur s'est produite de notre côté" in page and "Traceback" not in page
    assert client.get("/home").status_code == 200


def test_no_transaction_stays_open_across_a_call_to_the_daemon(app, db, world, database_url):
    """Even a handler that wrote without committing: what it wrote is committed before the round trip,
    and the daemon (here a stand-in that writes the same row as soon as it is asked) is not blocked."""
    import json
    import socket
    import threading

    from clusterpbx.control.commands import ControlClient
    from clusterpbx.web.db import get_db

    user = world.user(world.tenant(), extension="201")
    seen: dict[str, Any] = {}
    server = socket.create_server(("127.0.0.1", 0))

    def daemon() -> None:
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as f:
            f.readline()
            short_wait = ({"timeout": 0.5} if database_url.startswith("sqlite")
                          else {"options": "-c lock_timeout=500"})
            engine = create_engine(database_url, connect_args=short_wait)
            try:
                with engine.begin() as other:
                    other.execute(text("UPDATE call_settings SET sync_error = 'seen' WHERE user_id = :u"),
                                  {"u": user.id})
                    seen["dnd"] = other.execute(text("SELECT dnd FROM call_settings WHERE user_id = :u"),
                                                {"u": user.id}).scalar()
                seen["blocked"] = False
            except Exception as exc:  # noqa: BLE001 - what the daemon would have hit
                seen["blocked"] = repr(exc)
            finally:
                engine.dispose()
            f.write(json.dumps({"ok": True, "result": {}}).encode() + b"\n")
            f.flush()

    thread = threading.Thread(target=daemon)
    thread.start()
    with app.test_request_context("/settings/advanced", method="POST"):
        request_db = get_db()
        request_db.get(CallSettings, user.id).dnd = True
        request_db.flush()  # written, not committed: the lock is held from here
        ControlClient("127.0.0.1", server.getsockname()[1], "s", timeout=5).call("apply_user", user_id=user.id)
    thread.join(10)
    server.close()
    assert seen == {"dnd": True, "blocked": False}
