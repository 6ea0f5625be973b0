"""`clusterpbx run`: the demo (database, demo company, embedded PBX, control daemon and portal in one
process), and the demo portal's configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from clusterpbx.control import migrate
from clusterpbx.control.config import Settings, load_settings
from clusterpbx.control.demo import seed_demo, seed_lived_in
from clusterpbx.web import create_app
from clusterpbx.web.asgi import serve

from .cmd_control import start_daemon_thread
from .common import session
from .demo_oidc import DemoOidcProvider
from .demo_runtime import announce_voicemail_when_connected, start_embedded_pbx


def demo_portal_config(settings: Settings, host: str, port: int, oidc_port: int) -> dict[str, Any]:
    """create_app's configuration for the demo portal; starts the demo's OpenID provider standing in for
    Google unless a real Google client is configured."""
    # Plain HTTP on loopback for the demo: a Secure cookie would not come back over http://.
    overrides: dict[str, Any] = {"session_cookie_secure": False}
    if settings.public_url == Settings.public_url:  # not configured: where this demo serves
        overrides["public_url"] = f"http://{host}:{port}"
    config: dict[str, Any] = {"SETTINGS": overrides}
    if not settings.google_client_id:
        # "Connexion avec Gmail" against the demo's own OpenID provider (Google's code path, another
        # discovery URL and client), labelled as such on the login page.
        public = str(overrides.get("public_url", settings.public_url)).rstrip("/")
        provider = DemoOidcProvider(public + "/login/google/callback", port=oidc_port).start()
        overrides.update(provider.portal_settings())
        config["DEMO_OIDC_PROVIDER"] = provider.url
        config["DEMO_OIDC"] = provider
        click.echo(f"Demo OpenID provider standing in for Google on {provider.url}/")
    return config


@click.command("run")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8000)
@click.option("--ami-port", type=int, default=5038)
@click.option("--esl-port", type=int, default=8021)
@click.option("--oidc-port", type=int, default=8001,
              help="the demo's local OpenID provider standing in for Google (loopback)")
def run(host: str, port: int, ami_port: int, esl_port: int, oidc_port: int) -> None:
    """The demo: database, demo company, embedded PBX and portal, in one command."""
    settings = load_settings()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    spool = str(Path(settings.instance_path) / "spool")
    with session(settings) as s:
        tenant = seed_demo(s, ami_port=ami_port, esl_port=esl_port, spool_path=spool)
        seed_lived_in(s, tenant)
    with session(settings) as s:
        sim = start_embedded_pbx(s, ami_port=ami_port, esl_port=esl_port, spool=spool)
    daemon = start_daemon_thread(settings)
    if sim is not None:
        announce_voicemail_when_connected(sim, daemon)
    app = create_app(demo_portal_config(settings, host, port, oidc_port))
    click.echo(f"ClusterPBX demo portal on http://{host}:{port}/ (logins in README.md)")
    serve(app, host, port)  # as `clusterpbx web` serves it: live pages hold no thread (docs/live.md)
