"""`next=` after login and after the language switch: only a path on this site, read the way a browser
reads a Location header (tabs and newlines dropped, backslashes as slashes, dot segments resolved)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import PASSWORD

HOSTILE = [
    "/\t/evil.com", "/\\evil.com", "\\/evil.com", "\\\\evil.com", "//evil.com", "///evil.com",
    "////evil.com", "https://evil.com", "http://evil.com/home", "https:/\\evil.com", "//evil.com/%2F..",
    "/.//evil.com", "/./\\evil.com", "/a/..//evil.com", "/\r\n/evil.com", " //evil.com", "\x00//evil.com",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "data:text/html,<script>x</script>",
    "//user@evil.com", "https://localhost@evil.com/", "http://[::1", "/\x0b/evil.com",
]


def login_to(client, auth, email, target):
    data = {"email": email, "password": PASSWORD, "language": "fr", "csrf_token": auth.csrf()}
    return client.post("/login", query_string={"next": target}, data=data)


def browser_destination(location: str) -> tuple[str, str]:
    """Where a browser on http://localhost goes for this Location (tabs and newlines removed first, `\\`
    read as `/` the way WHATWG URL parsing does for http(s) URLs)."""
    cleaned = "".join(c for c in location if c not in "\t\r\n").strip().replace("\\", "/")
    parts = urlsplit(urljoin("http://localhost/login", cleaned))
    return parts.scheme, parts.netloc


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_sends_the_user_to_another_site(client, auth, world, target):
    u = world.user(world.tenant())
    resp = login_to(client, auth, u.email, target)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert browser_destination(location) == ("http", "localhost")
    assert location in ("/home", "http://localhost/home")


@pytest.mark.parametrize("query", [
    "next=/%09/evil.com", "next=/%5Cevil.com", "next=%5C/evil.com", "next=//evil.com", "next=/%0D%0A/evil.com",
    "next=%2F%2Fevil.com", "next=/.//evil.com", "next=https:%2F%2Fevil.com", "next=%20%2F%2Fevil.com",
])
def test_issue_query_strings(client, auth, world, query):
    # As the issue gives them: the query string as sent on the wire, decoded by the portal.
    u = world.user(world.tenant())
    data = {"email": u.email, "password": PASSWORD, "language": "fr", "csrf_token": auth.csrf()}
    resp = client.post("/login?" + query, data=data)
    assert resp.status_code == 302
    assert resp.headers["Location"] in ("/home", "http://localhost/home")


@pytest.mark.parametrize("target, expected", [
    ("/calls?page=2", "/calls?page=2"),
    ("/settings/#voicemail", "/settings/#voicemail"),
    ("/%2F%2Fevil.com", "/%2F%2Fevil.com"),  # an encoded slash is a path character, not a host
    ("%2F%2Fevil.com", "/%2F%2Fevil.com"),
    ("/directory/\t", "/directory/"),
])
def test_login_keeps_a_path_on_this_site(client, auth, world, target, expected):
    u = world.user(world.tenant())
    resp = login_to(client, auth, u.email, target)
    assert resp.status_code == 302
    assert resp.headers["Location"] in (expected, "http://localhost" + expected)
    assert browser_destination(resp.headers["Location"]) == ("http", "localhost")


@pytest.mark.parametrize("target", ["/\t/evil.com", "/\\evil.com", "/.//evil.com", "https://evil.com"])
def test_language_switch_never_sends_the_user_to_another_site(client, auth, world, target):
    u = world.user(world.tenant())
    auth.login(u.email)
    resp = client.post("/language/en", data={"csrf_token": auth.csrf("/home"), "next": target})
    assert resp.status_code == 302 and resp.headers["Location"] in ("/home", "http://localhost/home")


def test_language_switch_returns_to_the_page(client, auth, world):
    u = world.user(world.tenant())
    auth.login(u.email)
    resp = client.post("/language/en", data={"csrf_token": auth.csrf("/home"), "next": "/directory/"})
    assert resp.headers["Location"] in ("/directory/", "http://localhost/directory/")
