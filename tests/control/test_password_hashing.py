"""Password hashing: production keeps argon2-cffi's defaults (or stronger); the test suite's cheap
hasher (tests/conftest.py) changes nothing but the cost, and a cheap hash is upgraded at login."""

from __future__ import annotations

from collections.abc import Iterator

import argon2
import pytest
from argon2 import PasswordHasher, Type

from clusterpbx.control import passwords


@pytest.fixture
def production_hashing() -> Iterator[None]:
    test_hasher = passwords._hasher
    passwords.use_hasher(None)
    yield
    passwords.use_hasher(test_hasher)


def test_production_parameters_are_the_library_defaults_or_stronger() -> None:
    h = passwords.PRODUCTION_HASHER
    assert h.type is Type.ID
    assert h.time_cost >= argon2.DEFAULT_TIME_COST >= 3
    assert h.memory_cost >= argon2.DEFAULT_MEMORY_COST >= 65536
    assert h.parallelism >= argon2.DEFAULT_PARALLELISM
    assert h.hash_len >= argon2.DEFAULT_HASH_LENGTH and h.salt_len >= argon2.DEFAULT_RANDOM_SALT_LENGTH


def test_the_suite_hashes_cheaply_and_still_with_argon2id() -> None:
    stored = passwords.hash_password("Secret-pass1")
    assert stored.startswith("$argon2id$") and "m=8,t=1,p=1" in stored
    assert passwords.verify_password(stored, "Secret-pass1")
    assert not passwords.verify_password(stored, "Secret-pass2")
    assert not passwords.verify_password("", "Secret-pass1")


@pytest.mark.usefixtures("production_hashing")
def test_production_verifies_a_cheap_hash_and_asks_for_a_rehash() -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("Secret-pass1")
    assert passwords.verify_password(cheap, "Secret-pass1")
    assert passwords.needs_rehash(cheap)
    strong = passwords.hash_password("Secret-pass1")
    assert "m=65536,t=3,p=4" in strong
    assert not passwords.needs_rehash(strong)


def test_the_timing_equaliser_is_made_at_the_first_verification_with_the_current_parameters() -> None:
    """Importing the module hashes nothing (every `clusterpbx` command imports it, few verify a
    password); the first verification, of a known address or not, makes the hash an unknown address is
    checked against, with the parameters of the hasher in use."""
    import subprocess
    import sys

    code = (
        "from clusterpbx.control import passwords as p\n"
        "assert p._dummy_hash is None\n"
        "stored = p.hash_password('Secret-pass1')\n"
        "assert p._dummy_hash is None\n"
        "assert p.verify_password(stored, 'Secret-pass1')\n"
        "assert p._dummy_hash is not None and not p.needs_rehash(p._dummy_hash)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    passwords.use_hasher(passwords._hasher)  # a new hasher: a new equaliser, with its parameters
    assert passwords._dummy_hash is None
    assert not passwords.verify_password("", "Secret-pass1")
    assert passwords._dummy_hash is not None and "m=8,t=1,p=1" in passwords._dummy_hash
