"""`clusterpbx control`: the control daemon (PBX connections, live state, call records, desired state,
jobs), or with `--status` what the running one reports."""

from __future__ import annotations

import asyncio
import signal
import threading

import click
from sqlalchemy import func, select

from clusterpbx.control.cluster import ownership, refusal
from clusterpbx.control.commands import CommandError, ControlClient, channel_address, channel_secret
from clusterpbx.control.config import Settings, load_settings
from clusterpbx.control.daemon import ControlDaemon, run_forever
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import CallSettings, NodeHealth, PbxNode, SyncState

from .common import session


def _daemon(settings: Settings) -> ControlDaemon:
    host, port = channel_address(settings)
    factory = make_session_factory(make_engine(settings.database_url))
    return ControlDaemon(factory, channel_secret(settings), host=host, port=port, timeout=settings.control_timeout,
                         cluster=settings.control_cluster, advertise=settings.control_advertise,
                         node_lease_seconds=settings.control_node_lease)


def start_daemon_thread(settings: Settings) -> ControlDaemon:
    """Run the control daemon on its own asyncio loop in a background thread (the demo's way)."""
    daemon = _daemon(settings)
    ready = threading.Event()

    def main() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(daemon.start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=main, name="control-daemon", daemon=True).start()
    ready.wait(30)
    return daemon


@click.command("control")
@click.option("--status", is_flag=True, help="print the running daemon's view of each node and exit")
def control(status: bool) -> None:
    """The control daemon: PBX connections, live state, call records, desired state, jobs."""
    settings = load_settings()
    if settings.control_cluster:
        refused = refusal(settings.database_url)
        if refused:
            click.echo(f"Error: {refused}", err=True)
            raise SystemExit(2)
    if status:
        _print_status(settings)
        if settings.control_cluster:
            _print_cluster_status(settings)
        try:
            reply = ControlClient.from_settings(settings).call("ping")
            click.echo(f"daemon: running ({reply['holder']}, jobs leader: {reply['leader']})")
        except CommandError as exc:
            click.echo(f"daemon: not reachable ({exc})")
            raise SystemExit(1) from None
        return

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_forever(_daemon(settings), stop)

    asyncio.run(main())


def _print_status(settings: Settings) -> None:
    with session(settings) as s:
        pending = s.scalar(select(func.count()).select_from(CallSettings)
                           .where(CallSettings.sync_state == SyncState.PENDING))
        for n in s.scalars(select(PbxNode).order_by(PbxNode.name)):
            h = s.get(NodeHealth, n.id)
            state = "connected" if h and h.connected else "disconnected"
            since = h.since.isoformat(timespec="seconds") if h and h.since else "-"
            last = h.last_event_at.isoformat(timespec="seconds") if h and h.last_event_at else "-"
            click.echo(f"{n.name:20} {n.kind:10} {n.host}:{n.port:<6} {state:12} since {since}  last event {last}")
        click.echo(f"pending call-setting changes: {pending}")


def _print_cluster_status(settings: Settings) -> None:
    """Which daemon owns which node (cluster mode), and the live daemons."""
    with session(settings) as s:
        nodes, live = ownership(s, settings.control_node_lease)
    click.echo("node owners:")
    for n in nodes:
        if n.expires_in is None:
            click.echo(f"  {n.node:20} no owner (never leased)")
        elif n.expires_in < 0:
            click.echo(f"  {n.node:20} no owner (lease of {n.holder} lapsed {-n.expires_in:.0f} s ago)")
        else:
            click.echo(f"  {n.node:20} {n.holder} at {n.address or '?'} (lease expires in {n.expires_in:.1f} s)")
    click.echo(f"live daemons: {len(live)}")
    for holder, address, ago in live:
        click.echo(f"  {holder} at {address} (seen {ago:.1f} s ago)")
