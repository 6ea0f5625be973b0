"""Google's discovery URL is an operator setting: the outbound URL policy applies at start-up, and the
OpenID client's own requests (discovery, keys, token) go through the vetted transport."""

from __future__ import annotations

import pytest

from clusterpbx.control import urlpolicy
from tests.identity.oidc_provider import CLIENT_ID, CLIENT_SECRET


def make_app(tmp_path, database_url, url, **switches):
    from clusterpbx.web import create_app

    return create_app({"TESTING": True, "SETTINGS": {
        "database_url": database_url, "instance_path": str(tmp_path / "i"), "google_client_id": CLIENT_ID,
        "google_client_secret": CLIENT_SECRET, "google_discovery_url": url, **switches}})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/.well-known/openid-configuration",
                                 "https://169.254.169.254/latest", "javascript:alert(1)//",
                                 "https://user:pw@accounts.google.com/.well-known/openid-configuration"])
def test_a_discovery_url_the_policy_refuses_stops_start_up(tmp_path, database_url, url):
    with pytest.raises(RuntimeError, match="google_discovery_url"):
        make_app(tmp_path, database_url, url)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_oidc_client_connects_through_the_policy(tmp_path, database_url, provider):
    # The operator allows http and private targets: the local provider is reached.
    app = make_app(tmp_path, database_url, provider.discovery_url, outbound_allow_http=True,
                   outbound_allow_private=True)
    assert app.extensions["clusterpbx.google"].client_cls.__name__ == "VettedOAuth2Session"
    assert app.test_client().get("/login/google").status_code == 302
    # The same client under a policy without private targets: its discovery request is refused by the
    # transport itself (Authlib's own requests go through it), and the user is told Google is unreachable.
    other = make_app(tmp_path, database_url, provider.discovery_url, outbound_allow_http=True,
                     outbound_allow_private=True)
    with urlpolicy.configured(urlpolicy.UrlPolicy(allow_http=True)):
        resp = other.test_client().get("/login/google")
    assert resp.status_code == 503
    for a in (app, other):
        a.extensions["clusterpbx.engine"].dispose()
