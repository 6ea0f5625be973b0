"""Web password hashing (argon2) and the tenant's password policy, rule by rule as the guide lists it."""

from __future__ import annotations

import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Production parameters: argon2-cffi's defaults (RFC 9106 low-memory profile).
PRODUCTION_HASHER = PasswordHasher()
_hasher = PRODUCTION_HASHER
# A hash of a fixed value with the current hasher's parameters, verified when the e-mail is unknown so
# that the response time does not reveal whether an account exists. Made at the first verification
# (known address or not, so that both pay for it), not at import: a hash at production cost is a
# quarter of a second of CPU, and most processes importing this module (every `clusterpbx` command)
# never verify a password.
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher | None) -> None:
    """Replaces the hasher of this process (None: back to PRODUCTION_HASHER).

    Only the test suite calls it, with cheap parameters: nothing in the application or its
    configuration can weaken the hashing. Hashes made with other parameters still verify (argon2
    hashes carry their parameters), and `needs_rehash` tells a login to upgrade them."""
    global _hasher, _dummy_hash
    _hasher = hasher or PRODUCTION_HASHER
    _dummy_hash = None


def _timing_equaliser() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("clusterpbx-timing-equaliser")
    return _dummy_hash


SPECIAL_CHARACTERS = set(string.punctuation + " ")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    dummy = _timing_equaliser()
    if not stored_hash:
        try:
            _hasher.verify(dummy, password or "-")
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 64
    may_be_empty: bool = False
    numeric_only: bool = False
    require_digit: bool = True
    require_lower: bool = False
    require_upper: bool = True
    require_special: bool = False

    @classmethod
    def for_tenant(cls, tenant: object) -> PasswordPolicy:
        return cls(
            min_length=tenant.pw_min_length,  # type: ignore[attr-defined]
            max_length=tenant.pw_max_length,  # type: ignore[attr-defined]
            may_be_empty=tenant.pw_may_be_empty,  # type: ignore[attr-defined]
            numeric_only=tenant.pw_numeric_only,  # type: ignore[attr-defined]
            require_digit=tenant.pw_require_digit,  # type: ignore[attr-defined]
            require_lower=tenant.pw_require_lower,  # type: ignore[attr-defined]
            require_upper=tenant.pw_require_upper,  # type: ignore[attr-defined]
            require_special=tenant.pw_require_special,  # type: ignore[attr-defined]
        )

    def violations(self, password: str) -> list[str]:
        """Codes of the rules the password breaks (empty list: accepted)."""
        if password == "":
            return [] if self.may_be_empty else ["empty"]
        broken = []
        if not (self.min_length <= len(password) <= self.max_length):
            broken.append("length")
        if any(ord(c) < 32 or ord(c) == 127 for c in password):
            broken.append("control")
        if self.numeric_only and not password.isdigit():
            broken.append("numeric_only")
        if self.require_digit and not any(c.isdigit() for c in password):
            broken.append("digit")
        if self.require_lower and not any(c.islower() for c in password):
            broken.append("lower")
        if self.require_upper and not any(c.isupper() for c in password):
            broken.append("upper")
        if self.require_special and not any(c in SPECIAL_CHARACTERS for c in password):
            broken.append("special")
        return broken
