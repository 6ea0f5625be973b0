"""Two portal servers (`clusterpbx web`, gunicorn as production runs it, each its own process and instance
folder) on one PostgreSQL, as behind a load balancer (issue 26, "shared limits and sessions"):

- with one Redis as their rate-limit storage, the login, API and SMS limits are not multiplied by the
  number of servers: the N+1-th request over both is refused (and with each its own memory:// storage,
  as the demo, they are: the check of the test itself);
- failed logins counted on one server lock the account on the other (control/logins.py, in the database);
- a one-time link (password reset, sign-up confirmation) used on one server is refused on the other;
- a session cookie issued by one server is accepted by the other when they share the instance secret,
  and refused by a server with another secret;
- a call written by a control daemon reaches the open live pages of both (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import email
import email.policy
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import make_url

from clusterpbx.control.models import LiveCall, NodeKind, PbxNode, Role, User, utcnow
from tests import components
from tests.api.conftest import user_token
from tests.api.test_comms import MOBILE, allow_local
from tests.conftest import PASSWORD
from tests.system.live_portal import Stream, login, portal

SECRET = "two-servers-share-this-secret-key-0123456789"
NEW_PASSWORD = "Another-Correct-Horse-42"


@pytest.fixture
def redis_url() -> str:
    """The test Redis, a database of its own per pytest-xdist worker, emptied first."""
    import redis

    url = make_url(components.redis_url())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        url = url.set(database=str(1 + int(worker[2:]) % 15))
    text = url.render_as_string(hide_password=False)
    client = redis.Redis.from_url(text)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        components.require("redis", False, f"no Redis answers at {text} ({exc}); bash .ci/run starts one")
    finally:
        client.close()
    return text


def flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


@contextmanager
def servers(database_url: str, root: Path, env: dict[str, str], secrets: tuple[str, ...] = (SECRET, SECRET)
            ) -> Iterator[list[str]]:
    """One `clusterpbx web` per secret, each with its own instance folder (root/server<i>), started side by
    side; their base URLs."""
    contexts = [portal(database_url, root / f"server{i}", env={"CLUSTERPBX_SECRET_KEY": secret, **env})
                for i, secret in enumerate(secrets)]
    with ExitStack() as stack, ThreadPoolExecutor(len(contexts)) as pool:
        futures = [pool.submit(c.__enter__) for c in contexts]
        for context, future in zip(contexts, futures, strict=True):
            if future.exception() is None:
                stack.push(context.__exit__)
        yield [future.result()[0] for future in futures]


def csrf(session: requests.Session, url: str) -> str:
    html = session.get(url, timeout=30).text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert token, f"no CSRF token on {url}"
    return token.group(1)


def try_login(session: requests.Session, base: str, email_address: str, password: str) -> requests.Response:
    token = csrf(session, f"{base}/login")
    return session.post(f"{base}/login", data={"email": email_address, "password": password, "csrf_token": token},
                        allow_redirects=False, timeout=30)


def link_in_outbox(instance: Path, path: str) -> str:
    """The path of the one link of the only message in a server's outbox (no SMTP host: .eml files)."""
    (eml,) = (instance / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(re.escape(path) + r"[A-Za-z0-9_.\-]+", body.get_content())
    assert found, body.get_content()
    eml.unlink()
    return found.group(0)


def wrong_logins(bases: list[str], n: int, email_address: str = "") -> list[int]:
    """n failed logins, alternately on each server (one client per server, as a load balancer would send);
    each for another address unless one is given."""
    sessions = [requests.Session() for _ in bases]
    return [try_login(sessions[i % len(bases)], bases[i % len(bases)], email_address or f"nobody{i}@acme.test",
                      "wrong").status_code for i in range(n)]


def _wait_for_link(instance: Path, path: str) -> str:
    """The mail is sent by the portal's mailer thread just after the answer."""
    deadline = time.monotonic() + 20
    while not list((instance / "outbox").glob("*.eml")):
        assert time.monotonic() < deadline, f"no mail in {instance / 'outbox'}"
        time.sleep(0.05)
    return link_in_outbox(instance, path)


FAILED = 401  # a wrong password (the login page again)


@pytest.mark.timeout(400)  # two servers to start, some 700 requests, on a shared machine
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_limits_lock_links_and_sessions_hold_over_two_servers(db, world, database_url, redis_url, tmp_path):
    tenant = world.tenant("acme.test", allow_self_signup=True, email_domains="acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    allow_local(db, me)
    bearer = {"Authorization": f"Bearer {user_token(db, me)}"}
    env = {"CLUSTERPBX_RATELIMIT_STORAGE_URL": redis_url, "CLUSTERPBX_LOGIN_RATE_LIMIT": "6 per minute",
           "CLUSTERPBX_ACCOUNT_LOCK_FAILURES": "3",  # the account lock, after 3 failures from anywhere
           "CLUSTERPBX_LOGIN_PAIR_FREE_FAILURES": "1000", "CLUSTERPBX_LOGIN_CLIENT_FREE_FAILURES": "1000"}
    with servers(database_url, tmp_path, env) as (a, b):
        # Login (Flask-Limiter, Redis): 6 POSTs per minute per client address, whichever server they reach.
        assert wrong_logins([a, b], 8) == [FAILED] * 6 + [429, 429]

        # SMS: 20 per minute per user, over both servers.
        flush(redis_url)
        clients = {a: requests.Session(), b: requests.Session()}
        sent = [clients[base].post(f"{base}/api/v1/me/sms", json={"to": MOBILE, "body": f"m{i}"}, headers=bearer,
                                   timeout=30).status_code for i, base in zip(range(22), [a, b] * 11, strict=True)]
        assert sent == [202] * 20 + [429, 429], sent

        # The REST API: 600 requests per minute per client address: 300 on each server, then no more
        # (without a token: the limit comes first, refused requests count).
        flush(redis_url)
        for base, client in clients.items():
            assert {client.get(f"{base}/api/v1/me", timeout=30).status_code for _ in range(300)} == {401}
        assert [client.get(f"{base}/api/v1/me", headers=bearer, timeout=30).status_code
                for base, client in clients.items()] == [429, 429]

        # The account lock (control/logins.py, rows in the database): failures on A and B add up.
        flush(redis_url)
        assert wrong_logins([a, b], 3, "me@acme.test") == [FAILED] * 3  # A, B, A: the third locks
        for base in (b, a):  # even the right password, on either server
            resp = try_login(requests.Session(), base, "me@acme.test", PASSWORD)
            assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 3000

        # A password reset link asked on B, used on A (which lifts the lock), is refused on B afterwards.
        s = requests.Session()
        resp = s.post(f"{b}/password/forgot", data={"email": "me@acme.test",
                                                     "csrf_token": csrf(s, f"{b}/password/forgot")},
                      allow_redirects=False, timeout=30)
        assert resp.status_code == 302
        link = _wait_for_link(tmp_path / "server1", "/password/reset/")
        s = requests.Session()
        resp = s.post(f"{a}{link}", data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
                                          "csrf_token": csrf(s, f"{a}{link}")}, allow_redirects=False, timeout=30)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
        s = requests.Session()
        assert s.get(f"{b}{link}", timeout=30).status_code == 400
        resp = s.post(f"{b}{link}", data={"new_password": "Yet-Another-Horse-43", "confirm_password":
                                          "Yet-Another-Horse-43", "csrf_token": csrf(s, f"{b}/login")}, timeout=30)
        assert resp.status_code == 400

        # A sign-up confirmed on A: the same link is refused on B.
        s = requests.Session()
        resp = s.post(f"{a}/signup", data={"first_name": "New", "last_name": "Person", "email": "new@acme.test",
                                           "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
                                           "csrf_token": csrf(s, f"{a}/signup")}, allow_redirects=False, timeout=30)
        assert resp.status_code in (200, 302), resp.status_code
        link = _wait_for_link(tmp_path / "server0", "/signup/confirm/")
        s = requests.Session()
        resp = s.post(f"{a}{link}", data={"csrf_token": csrf(s, f"{a}{link}")}, allow_redirects=False, timeout=30)
        assert resp.status_code == 200
        db.expire_all()
        assert db.query(User).filter_by(email="new@acme.test").one().email_confirmed
        assert requests.get(f"{b}{link}", timeout=30).status_code == 400

        # A session cookie issued by A is good on B (the same instance secret), and so are B's forms on A.
        flush(redis_url)
        browser = login(b, "me@acme.test", NEW_PASSWORD)  # the new password, and the lock lifted
        home = browser.get(f"{a}/home", allow_redirects=False, timeout=30)
        assert home.status_code == 200 and "/logout" in home.text
        resp = browser.post(f"{a}/logout", data={"csrf_token": csrf(browser, f"{b}/home")}, allow_redirects=False,
                            timeout=30)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
        assert browser.get(f"{b}/home", allow_redirects=False, timeout=30).status_code == 302


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_without_a_shared_storage_and_secret_each_server_counts_and_signs_alone(db, world, database_url, tmp_path):
    """What the shared Redis and secret are for (the checks that the test above would see the
    difference): with memory:// (the demo's default) each server counts alone, so two let twice the
    limit through; a server with another secret does not know the session."""
    world.user(world.tenant("acme.test"), email="me@acme.test", extension="201")
    env = {"CLUSTERPBX_RATELIMIT_STORAGE_URL": "memory://", "CLUSTERPBX_LOGIN_RATE_LIMIT": "6 per minute",
           "CLUSTERPBX_LOGIN_PAIR_FREE_FAILURES": "1000", "CLUSTERPBX_LOGIN_CLIENT_FREE_FAILURES": "1000"}
    with servers(database_url, tmp_path, env, secrets=(SECRET, "another-installation-secret")) as (a, b):
        browser = login(a, "me@acme.test")  # one login POST on A
        assert browser.get(f"{a}/home", allow_redirects=False, timeout=30).status_code == 200
        resp = browser.get(f"{b}/home", allow_redirects=False, timeout=30)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
        # B, A, B, A...: B lets 6 through, A 5 more: 11 where one storage would have let 6.
        assert wrong_logins([b, a], 13) == [FAILED] * 11 + [429, 429]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_call_written_by_a_daemon_reaches_the_live_pages_of_both_servers(db, world, database_url, tmp_path):
    """Appels en cours (docs/live.md): each server's notifier LISTENs for the trigger's NOTIFY; with their
    polls set to an hour, only the notification can bring the change to the open pages of both."""
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant("acme.test")
    tenant.node_id = node.id
    db.commit()
    admin = world.user(tenant, email="admin@acme.test", extension="2100", role=Role.TENANT_ADMIN)
    env = {"CLUSTERPBX_LIVE_POLL_SECONDS": "3600", "CLUSTERPBX_LIVE_SAFETY_SECONDS": "3600"}
    with servers(database_url, tmp_path, env) as bases:
        streams = [Stream(base, login(base, admin.email)) for base in bases]
        try:
            for stream in streams:
                assert stream.head() == 200
                (name, calls, _bytes), *_ = stream.events(timeout=30)
                assert name == "calls" and calls == []
            time.sleep(1.0)  # both notifiers have looked once since they started listening
            started = time.monotonic()
            db.add(LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="fresh", started_at=utcnow(),
                            source_number="2100", destination_number="5145550000", state="ringing"))
            db.commit()  # this test's own connection: a control daemon's, for both servers
            for stream in streams:
                (_n, delta, _b) = stream.wait_for(lambda e: e[0] == "delta", timeout=10)[-1]
                assert [c["id"] for c in delta["upsert"]] == [f"{node.id}:fresh"]
            assert time.monotonic() - started < 3
        finally:
            for stream in streams:
                stream.close()
