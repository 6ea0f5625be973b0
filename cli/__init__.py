"""ClusterPBX: a self-service portal and phone provisioning on top of an existing Asterisk or FreeSWITCH."""

from __future__ import annotations

__version__ = "0.1.0"


def main() -> None:
    from .cli import cli

    cli()
