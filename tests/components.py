"""Optional test components (PostgreSQL, Chromium): skipped loudly when missing, a failure under CI."""

from __future__ import annotations

import os
import shutil

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


def chromium_path() -> str:
    path = os.environ.get("CLUSTERPBX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    require("chromium", os.path.exists(path), "apt-get install chromium (bash .ci/run does it)")
    return path
