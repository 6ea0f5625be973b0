"""Optional test components (PostgreSQL, Redis, Chromium): skipped loudly when missing, a failure under CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

MISSING: list[str] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(component: str, available: bool, how: str) -> None:
    if available:
        return
    message = f"MISSING COMPONENT {component}: {how}"
    if in_ci():
        pytest.fail(message + " (CI=true: a missing component is a failure)", pytrace=False)
    MISSING.append(message)
    pytest.skip(message)


def postgres_url() -> str:
    url = os.environ.get("CLUSTERPBX_TEST_POSTGRES_URL", "")
    require("postgresql", bool(url), "set CLUSTERPBX_TEST_POSTGRES_URL (bash .ci/run starts Debian's PostgreSQL)")
    return url


def redis_url() -> str:
    """A Redis for the shared rate-limit storage tests (bash .ci/run starts Debian's redis-server)."""
    url = os.environ.get("CLUSTERPBX_TEST_REDIS_URL", "")
    require("redis", bool(url), "apt-get install redis-server, start it and set CLUSTERPBX_TEST_REDIS_URL="
            "redis://127.0.0.1:6379/0 (bash .ci/run does it)")
    return url


def chromium_path() -> str:
    path = os.environ.get("CLUSTERPBX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    require("chromium", os.path.exists(path), "apt-get install chromium (bash .ci/run does it)")
    return path


REPOSITORY = Path(__file__).resolve().parents[1]


def shared_fixtures(*parts: str) -> Path:
    """The recorded PBX traffic: `../shared/fixtures` next to the checkout (the repository's parent
    directory + shared/fixtures), or $CLUSTERPBX_FIXTURES. Not optional: when it is missing the test,
    or the collection of a module that reads it, fails and says where it looked."""
    env = os.environ.get("CLUSTERPBX_FIXTURES")
    root = Path(env) if env else REPOSITORY.parent / "shared" / "fixtures"
    if not root.is_dir():
        how = "$CLUSTERPBX_FIXTURES" if env else "the repository's parent directory + shared/fixtures"
        pytest.fail(f"MISSING FIXTURES: the recorded PBX traffic is not at {root} ({how}); check out the "
                    "shared folder next to the repository or set CLUSTERPBX_FIXTURES", pytrace=False)
    return root.joinpath(*parts)
