"""`clusterpbx web`: the portal under gunicorn. This module imports nothing of the portal: the command
replaces itself with gunicorn, whose worker loads the application."""

from __future__ import annotations

import os
import sys

import click


@click.command("web")
@click.option("--bind", default="127.0.0.1:8000")
@click.option("--workers", type=int, default=2)
@click.option("--threads", type=int, default=16, help="threads per worker for the Flask pages")
def web(bind: str, workers: int, threads: int) -> None:
    """Serve the portal with gunicorn (production)."""
    os.execvp(sys.executable, web_argv(bind, workers, threads))  # noqa: S606 (an argv list, no shell)


def web_argv(bind: str, workers: int, threads: int) -> list[str]:
    """gunicorn's asyncio (ASGI) worker: the Flask pages run on `threads` threads per worker, while an open
    "Appels en cours" page is a parked coroutine that holds no thread (web/asgi.py, docs/live.md)."""
    os.environ["CLUSTERPBX_WEB_THREADS"] = str(threads)
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers),
            "--worker-class", "asgi", "--worker-connections", "2000", "--graceful-timeout", "5", "--no-control-socket",
            "--access-logfile", "-", "clusterpbx.web.asgi:make_app()"]
