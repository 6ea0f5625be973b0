"""Login throttling: slow down whoever sends wrong passwords, not the account they aim at.

Three counters of recent failures, in the database (`LoginThrottle`) so that every portal worker sees
the same ones:

- **pair** (e-mail address typed + client address): after `login_pair_free_failures` failures, each
  further failure blocks that pair for `login_backoff_seconds`, doubled each time, at most
  `login_backoff_max_seconds`. A user who mistypes is slowed down a little; the owner of the address
  logging in from elsewhere is not slowed down at all.
- **client** (client address, all addresses typed; an IPv6 client counts as its /64): the same back-off
  after `login_client_free_failures` failures, against one client trying many addresses.
- **account** (e-mail address typed, from anywhere): locked for `account_lock_minutes` only after
  `account_lock_failures` failures, a number only a distributed attack reaches. "Forgot your
  password?" still works while it is locked, and choosing a new password lifts the lock.

A blocked attempt is refused before the password is even checked, with the same answer whether or not
an account uses the address (addresses are counted either way). Counters are forgotten after
`login_failure_window_hours` without a failure; a successful login clears its pair.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import LoginThrottle

CLIENT, PAIR, ACCOUNT = "client", "pair", "account"


@dataclass(frozen=True)
class ThrottlePolicy:
    pair_free_failures: int = 3
    client_free_failures: int = 20
    backoff_seconds: int = 30
    backoff_max_seconds: int = 900
    account_lock_failures: int = 50
    account_lock_minutes: int = 60
    window_hours: int = 24

    @classmethod
    def from_settings(cls, settings: Any) -> ThrottlePolicy:
        return cls(pair_free_failures=settings.login_pair_free_failures,
                   client_free_failures=settings.login_client_free_failures,
                   backoff_seconds=settings.login_backoff_seconds,
                   backoff_max_seconds=settings.login_backoff_max_seconds,
                   account_lock_failures=settings.account_lock_failures,
                   account_lock_minutes=settings.account_lock_minutes,
                   window_hours=settings.login_failure_window_hours)

    def backoff(self, failures: int, free: int) -> int:
        """Seconds to wait after `failures` failures when `free` are allowed without waiting (0: none)."""
        if failures < free:
            return 0
        return int(min(self.backoff_seconds * 2 ** min(failures - free, 30), self.backoff_max_seconds))


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused now: `scope` CLIENT or PAIR (slow down) or ACCOUNT (locked)."""

    scope: str
    retry_after: int  # seconds


def client_key(address: str | None) -> str:
    """The client a failure is charged to: the IPv4 address, or the /64 of an IPv6 address (one
    customer's allocation: cycling through it must not give fresh allowances)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(email: str, client: str) -> list[tuple[str, str]]:
    return [(CLIENT, client), (PAIR, f"{email} {client}"), (ACCOUNT, email)]


def check(db: Session, email: str, client: str, now: dt.datetime) -> Refusal | None:
    """The refusal in force for this attempt, if any (the longest wait, the account lock first)."""
    rows = db.scalars(select(LoginThrottle).where(
        LoginThrottle.blocked_until > now,
        ((LoginThrottle.scope == CLIENT) & (LoginThrottle.key == client))
        | ((LoginThrottle.scope == PAIR) & (LoginThrottle.key == f"{email} {client}"))
        | ((LoginThrottle.scope == ACCOUNT) & (LoginThrottle.key == email)))).all()
    if not rows:
        return None
    row = max(rows, key=lambda r: (r.scope == ACCOUNT, r.blocked_until))
    assert row.blocked_until is not None
    return Refusal(row.scope, max(1, math.ceil((row.blocked_until - now).total_seconds())))


def _bump(db: Session, scope: str, key: str, now: dt.datetime) -> int:
    """Count one more failure (atomically: concurrent workers each add theirs); the new count."""
    stmt = (update(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.key == key)
            .values(failures=LoginThrottle.failures + 1, updated_at=now))
    if not db.execute(stmt).rowcount:  # type: ignore[attr-defined]
        try:
            with db.begin_nested():
                db.add(LoginThrottle(scope=scope, key=key, failures=1, updated_at=now))
            return 1
        except IntegrityError:  # another worker created it meanwhile
            db.execute(stmt)
    row = db.get(LoginThrottle, (scope, key), populate_existing=True)
    assert row is not None
    return row.failures


def record_failure(db: Session, email: str, client: str, now: dt.datetime, policy: ThrottlePolicy) -> None:
    """Charge a failed attempt to its client, its pair and its address; block those over their allowance.
    The caller commits."""
    forget_before = now - dt.timedelta(hours=policy.window_hours)
    # Counters idle for the whole window start again from zero (and old rows do not pile up).
    db.execute(delete(LoginThrottle).where(
        LoginThrottle.updated_at < forget_before,
        (LoginThrottle.blocked_until.is_(None)) | (LoginThrottle.blocked_until < now)))
    for scope, key in _keys(email, client):
        failures = _bump(db, scope, key, now)
        if scope == ACCOUNT:
            wait = policy.account_lock_minutes * 60 if failures >= policy.account_lock_failures > 0 else 0
        else:
            wait = policy.backoff(failures, policy.pair_free_failures if scope == PAIR
                                  else policy.client_free_failures)
        if wait:
            db.execute(update(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.key == key)
                       .values(blocked_until=now + dt.timedelta(seconds=wait)))
    db.flush()


def record_success(db: Session, email: str, client: str) -> None:
    """A correct password from this pair: its own count starts again (the client's and the address's
    do not: other clients' failures still count)."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.scope == PAIR, LoginThrottle.key == f"{email} {client}"))


def lift_account_lock(db: Session, email: str) -> None:
    """The owner proved control of the address (a new password through the reset link): the address's
    lock and its pairs' back-off go; clients' own counters stay. The caller commits."""
    email = email.strip().lower()
    db.execute(delete(LoginThrottle).where(
        ((LoginThrottle.scope == ACCOUNT) & (LoginThrottle.key == email))
        | ((LoginThrottle.scope == PAIR) & LoginThrottle.key.startswith(email + " ", autoescape=True))))
