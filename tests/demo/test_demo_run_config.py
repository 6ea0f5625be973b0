"""`clusterpbx run`'s portal configuration: "Connexion avec Gmail" pointed at the demo's own OpenID
provider, the outbound URL policy opened for that loopback provider in the demo process only, and no
stand-in when a real Google client is configured."""

from __future__ import annotations

import requests

from clusterpbx.cmd_run import demo_portal_config
from clusterpbx.control import urlpolicy
from clusterpbx.control.config import Settings, load_settings


def test_demo_points_gmail_at_its_local_provider_and_opens_only_its_own_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path))
    settings = load_settings()
    config = demo_portal_config(settings, "127.0.0.1", 8600, 0)
    provider = config["DEMO_OIDC"]
    try:
        s = config["SETTINGS"]
        assert s["public_url"] == "http://127.0.0.1:8600"
        assert provider.client.redirect_uri == "http://127.0.0.1:8600/login/google/callback"
        assert s["google_discovery_url"] == provider.discovery_url
        assert provider.url.startswith("http://127.0.0.1:") and config["DEMO_OIDC_PROVIDER"] == provider.url
        assert s["google_client_secret"] == provider.client_secret
        # The demo's loopback http provider is allowed through the documented switches, for the demo...
        assert s["outbound_allow_http"] is True and s["outbound_allow_private"] is True
        assert requests.get(provider.discovery_url, timeout=5).json()["issuer"] == provider.url
    finally:
        provider.stop()
    # ... while the defaults, and the settings the demo started from, stay closed.
    assert Settings().outbound_allow_http is False and Settings().outbound_allow_private is False
    assert settings.outbound_allow_http is False and settings.outbound_allow_private is False
    try:
        urlpolicy.check_url(provider.discovery_url, policy=urlpolicy.UrlPolicy.from_settings(settings))
        raise AssertionError("the default policy let a loopback http URL through")
    except urlpolicy.UrlRefused:
        pass


def test_no_stand_in_when_google_is_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path))
    monkeypatch.setenv("CLUSTERPBX_GOOGLE_CLIENT_ID", "real-client.apps.googleusercontent.com")
    config = demo_portal_config(load_settings(), "127.0.0.1", 8000, 0)
    assert "DEMO_OIDC" not in config and "DEMO_OIDC_PROVIDER" not in config
    assert "google_discovery_url" not in config["SETTINGS"] and "outbound_allow_http" not in config["SETTINGS"]
