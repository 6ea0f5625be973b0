"""Outbound URLs of the providers (control/urlpolicy.py): refused on save when not https, carrying
credentials, or aimed at loopback, link-local or private addresses in any spelling; checked again at
connection time, where the host is resolved and the vetted address is the one connected to."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from clusterpbx.control import urlpolicy
from clusterpbx.control.admin import Invalid, resource
from clusterpbx.control.urlpolicy import UrlPolicy, UrlRefused, check_url
from clusterpbx.control.webconf import WebconfError, provider_for

HOSTILE = [
    "http://127.0.0.1:8116/", "https://127.0.0.1:8116/", "https://localhost/", "https://api.localhost/",
    "https://[::1]/", "https://169.254.169.254/latest/meta-data", "https://10.0.0.1/", "https://192.168.1.1/",
    "https://172.16.0.1/", "https://100.64.0.1/", "https://0x7f000001/", "https://2130706433/",
    "https://0177.0.0.1/", "https://127.1/", "https://0/", "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/", "https://[fe80::1]/", "https://[fd00::1]/", "https://224.0.0.1/",
    "https://user:pass@example.com/", "https://user@example.com/", "javascript:alert(1)//",
    "JAVASCRIPT:alert(1)", "data:text/html,x", "file:///etc/passwd", "ftp://example.com/",
    "https://example.com\r\n", "https://exa mple.com/", "https://example.com\\@evil/", "https:///path",
    "//example.com/", "http://example.com/",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_by_default(url):
    with pytest.raises(UrlRefused):
        check_url(url, policy=UrlPolicy())


@pytest.mark.parametrize("url", ["https://api.twilio.com", "https://meet.example.com/", "https://1.1.1.1/x",
                                 "https://api.zoom.us/v2", "https://[2606:4700::1111]/"])
def test_public_https_urls_pass(url):
    assert check_url(url, policy=UrlPolicy()) == url


def test_the_operator_switches():
    assert check_url("http://example.com/", policy=UrlPolicy(allow_http=True))
    assert check_url("https://10.0.0.1/", policy=UrlPolicy(allow_private=True))
    for url in ("https://user:pass@10.0.0.1/", "javascript:alert(1)//", "https://0.0.0.0/", "https://224.0.0.1/"):
        with pytest.raises(UrlRefused):  # never, whatever the operator allows
            check_url(url, policy=UrlPolicy(allow_http=True, allow_private=True))


@pytest.mark.parametrize("field, text", [
    ("sms_config", "url=http://127.0.0.1:8116/"),
    ("sms_config", "api_base=https://169.254.169.254"),
    ("sms_config", "url=https://user:pass@gateway.example.com/"),
    ("webconf_config", "base_url=javascript:alert(1)//"),
    ("webconf_config", "api_url=https://[::ffff:127.0.0.1]/v2"),
    ("webconf_config", "oauth_url=https://2130706433/oauth/token"),
    ("webconf_config", "domain=127.0.0.1"),
    ("webconf_config", "domain=localhost"),
    ("webconf_config", "domain=meet.example.com/@evil"),
])
def test_refused_on_save_and_nothing_changes(db, setup, field, text):
    with urlpolicy.configured(UrlPolicy()), pytest.raises(Invalid) as err:
        resource("tenants").update(db, setup.op, setup.a.id, {field: text})
    assert set(err.value.errors) == {field}
    db.rollback()
    assert not (getattr(db.get(type(setup.a), setup.a.id), field) or {})


def test_accepted_on_save(db, setup):
    with urlpolicy.configured(UrlPolicy()):
        resource("tenants").update(db, setup.op, setup.a.id, {"webconf_config": "base_url=https://meet.example.com"})
    db.commit()


def test_a_stored_javascript_jitsi_url_is_never_a_link(db, setup):
    tenant = setup.a
    tenant.webconf_provider, tenant.webconf_config = "jitsi", {"base_url": "javascript:alert(1)//"}
    db.commit()
    with urlpolicy.configured(UrlPolicy()), pytest.raises(WebconfError) as err:
        provider_for(tenant)
    assert err.value.code == "not_configured"


class _Server:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        seen = self.hosts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append(self.headers.get("Host", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_server():
    server = _Server()
    yield server
    server.stop()


def test_a_name_resolving_to_loopback_is_refused_at_connection_time(local_server):
    # Passes the check on save (a name is not looked up then), but resolves to loopback when used.
    policy = UrlPolicy(allow_http=True, resolver=lambda host, port: ["127.0.0.1"])
    url = f"http://rebind.example.com:{local_server.port}/"
    assert check_url(url, policy=policy)
    with urlpolicy.session(policy) as http, pytest.raises(requests.ConnectionError) as err:
        http.get(url, timeout=5)
    assert isinstance(urlpolicy.refusal(err.value), UrlRefused)
    assert local_server.hosts == []  # nothing reached the server


def test_any_private_address_in_the_answer_refuses_the_request(local_server):
    policy = UrlPolicy(allow_http=True, resolver=lambda host, port: ["93.184.215.14", "10.1.2.3"])
    with urlpolicy.session(policy) as http, pytest.raises(requests.ConnectionError):
        http.get("http://mixed.example.com/", timeout=5)


def test_the_vetted_address_is_the_one_connected_to(local_server):
    calls = []

    def resolver(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    policy = UrlPolicy(allow_http=True, allow_private=True, resolver=resolver)
    with urlpolicy.session(policy) as http:
        resp = http.get(f"http://gateway.example.com:{local_server.port}/", timeout=5)
    assert resp.status_code == 204
    assert calls == ["gateway.example.com"] and local_server.hosts == [f"gateway.example.com:{local_server.port}"]


def test_literal_loopback_refused_at_connection_time_too(local_server):
    with urlpolicy.session(UrlPolicy(allow_http=True)) as http, pytest.raises(requests.ConnectionError):
        http.get(f"http://127.0.0.1:{local_server.port}/", timeout=5)
    assert local_server.hosts == []


class _ProviderAnsweringScript:
    """A provider (as Zoom could answer, compromised or buggy) whose meeting links are not web links."""

    name = "zoom"

    def open(self, user, current):
        from clusterpbx.control.webconf import Opened

        return Opened(meeting_id="1", url="javascript:alert(1)//", host_url="javascript:alert(1)//",
                      invite_url="data:text/html,x")

    def invite_url(self, meeting):
        return "javascript:alert(1)//"

    def sessions(self, meeting, known):
        return []


def test_meeting_links_other_than_http_are_never_handed_out(db, setup, world):
    from clusterpbx.control.webconf import open_meeting

    user = world.user(setup.a)
    with pytest.raises(WebconfError) as err:
        open_meeting(db, user, _ProviderAnsweringScript())
    assert err.value.code == "bad_response"
